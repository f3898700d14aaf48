"""``ECTMiddleware``: pure ASGI (never BaseHTTPMiddleware), so streaming, background tasks
and ContextVars behave. Lifespan and websocket scopes pass through untouched.

A request goes: verify its tokens (``inbound.accept``) or answer the rejection; run the
application with the request's context current; when the response starts, mint the
completion ECT, make every record of the request durable, and send the completion back
with the response headers. An application that raises before responding still gets its
completion recorded (status 500).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any
from urllib.parse import quote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..authorization import CallerNotAllowed
from ..config import Settings
from ..context.logging import request_scope
from ..context.task import RequestContext
from ..errors import ConfigurationError
from ..logs import log
from ..runtime import Runtime
from ..verification import InboundRequest
from .inbound import Problem, Rejected, accept, build_runtime, request_action
from .jsonrpc import BodyTee


class ECTMiddleware:
    """Verify WIMSE/ECT headers on every HTTP request; mint and record this hop's ECTs.

    ``app.add_middleware(ECTMiddleware)`` reads its configuration from the environment;
    keyword arguments (``Settings`` field names) or ``settings=`` override it.
    """

    def __init__(
        self,
        app: ASGIApp,
        /,  # positional-only: otherwise mypy rejects ``app.add_middleware(ECTMiddleware)``
        settings: Settings | None = None,
        *,
        runtime: Runtime | None = None,
        **overrides: Any,
    ) -> None:
        self.app = app
        self.runtime: Runtime | None = None
        #: A configuration error is kept for the server's lifespan startup, which it fails:
        #: raised here, it would escape a framework building its middleware stack lazily
        #: (Starlette does so on the first message, the lifespan), which servers take for
        #: "lifespan unsupported" before answering every request with a 500.
        self.configuration_error: ConfigurationError | None = None
        try:
            self.runtime = build_runtime(settings, runtime, overrides)
        except ConfigurationError as exc:
            self.configuration_error = exc

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        runtime = self.runtime
        if scope["type"] != "http" or runtime is None or runtime.is_excluded(scope["path"]):
            if self.configuration_error is not None:
                await self._refuse(scope, receive, send, self.configuration_error)
                return
            await self.app(scope, receive, send)
            return
        request = InboundRequest(
            scope["method"],
            _request_path(scope),
            tuple((k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]),
        )
        exec_act: Callable[[], str] = partial(_exec_act, scope)
        if scope["method"] == "POST" and runtime.is_jsonrpc(scope["path"]):
            receive = BodyTee(receive)
            exec_act = receive.exec_act(exec_act)
        accepted = accept(runtime, request, exec_act)
        if isinstance(accepted, Rejected):
            if accepted.record is not None:
                await accepted.record.flush_async(raising=False)
            await _send_problem(send, accepted.problem)
            return
        task = accepted
        status = 500

        async def send_with_context(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                extra = [
                    (k.lower().encode("latin-1"), v.encode("latin-1"))
                    for k, v in task.complete(status)
                ]
                await task.flush_async()  # durable before the response goes out
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            elif (
                message["type"] == "http.response.body"
                and not message.get("more_body", False)
                and log.enabled(logging.DEBUG)  # the request's info line: its checkpoint
            ):
                log.debug("ect.request_completed", status=status, minted=len(task.minted))
            await send(message)

        with request_scope(RequestContext(task)):
            try:
                await self.app(scope, receive, send_with_context)
            except CallerNotAllowed as refusal:  # from a FastAPI dependency (authorization)
                if task.completion is not None:  # the response had started
                    raise
                await _send_problem(send_with_context, Problem.of(refusal))
            finally:
                if task.completion is None:  # raised before responding: still recorded
                    task.fail()
                    await task.flush_async(raising=False)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, error: Exception) -> None:
        """Fail the lifespan startup with one line naming the setting (the application's
        own lifespan does not start); without a lifespan, fail each request loudly."""
        if scope["type"] != "lifespan":
            raise ConfigurationError(str(error))
        message = await receive()
        if message["type"] == "lifespan.startup":
            text = f"ect-middleware: ConfigurationError: {error}"
            await send({"type": "lifespan.startup.failed", "message": text})


def _request_path(scope: Scope) -> str:
    """The path as the client sent it (percent-encoded, no query): what a WPT's aud names."""
    raw = scope.get("raw_path")
    if raw:
        return bytes(raw).decode("latin-1").split("?", 1)[0]
    return quote(scope.get("root_path", "") + scope["path"], safe="/:@!$&'()*+,;=-._~")


def _exec_act(scope: Scope) -> str:
    """``METHOD /route/{template}`` when the router has matched one, else the path."""
    route = scope.get("route")
    path = getattr(route, "path", None) or scope.get("root_path", "") + scope["path"]
    return request_action(scope["method"], path)


async def _send_problem(send: Send, problem: Problem) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in problem.headers]
    await send({"type": "http.response.start", "status": problem.status, "headers": headers})
    await send({"type": "http.response.body", "body": problem.body})

"""``ECTWSGIMiddleware`` (PEP 3333): the same behaviour for Flask and any WSGI app.

A request goes: verify its tokens (``inbound.accept``) or answer the rejection; call the
application with the request's context current; when it starts the response, mint the
completion ECT, make every record of the request durable, and add the completion to the
response headers. The context stays current while the server consumes the body iterable,
whose ``close()`` is always called; an application that raises, or whose body ends, before
starting the response still gets its completion recorded (status 500).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable, Iterator
from http import HTTPStatus
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..config import Settings
from ..context.logging import request_scope
from ..context.task import RequestContext, Task
from ..errors import ConfigurationError
from ..logs import log
from ..runtime import Runtime
from ..verification import InboundRequest
from .inbound import Rejected, accept, build_runtime, request_action

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

ExcInfo = tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None]


class ECTWSGIMiddleware:
    """``app.wsgi_app = ECTWSGIMiddleware(app.wsgi_app)``; configured like ECTMiddleware."""

    def __init__(
        self,
        app: WSGIApplication,
        settings: Settings | None = None,
        *,
        runtime: Runtime | None = None,
        **overrides: Any,
    ) -> None:
        self.app = app
        self.runtime = build_runtime(settings, runtime, overrides)
        if self.runtime is not None and self.runtime.settings.jsonrpc_paths:
            # Named JSON-RPC tasks need the body as the app reads it: ASGI only, so far.
            if runtime is None:
                self.runtime.close()  # built here: nothing else will close it
            raise ConfigurationError(
                "ECT_JSONRPC_PATHS is supported by ECTMiddleware (ASGI), not ECTWSGIMiddleware"
            )

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        runtime = self.runtime
        if runtime is None or runtime.is_excluded(_script_path(environ)):
            return self.app(environ, start_response)
        headers = tuple(
            (key[5:].replace("_", "-").lower(), value)
            for key, value in environ.items()
            if key.startswith("HTTP_") and isinstance(value, str)
        )
        method = environ.get("REQUEST_METHOD", "GET")
        request = InboundRequest(method, _request_path(environ), headers)
        accepted = accept(runtime, request, lambda: _exec_act(environ))
        if isinstance(accepted, Rejected):
            if accepted.record is not None:
                accepted.record.flush(raising=False)
            problem = accepted.problem
            start_response(
                f"{problem.status} {HTTPStatus(problem.status).phrase}", list(problem.headers)
            )
            return [problem.body]
        task = accepted
        status = [500]

        def start_with_context(
            status_line: str,
            response_headers: list[tuple[str, str]],
            exc_info: ExcInfo | None = None,
        ) -> Callable[[bytes], object]:
            status[0] = int(status_line.split(" ", 1)[0])
            response_headers = [*response_headers, *task.complete(status[0])]
            task.flush()  # durable before the response goes out
            return start_response(status_line, response_headers, exc_info)

        ctx = RequestContext(task)
        with request_scope(ctx):
            try:
                body = self.app(environ, start_with_context)
            except BaseException:
                task.fail()
                task.flush(raising=False)
                raise
        return _BodyInContext(body, task, ctx, status)


class _BodyInContext:
    """Iterates the application's body with the request context current; closes it.

    A list or tuple body is handed over as it is: iterating it runs no application code,
    so entering the scope for each item (and the end) would be work for nothing.
    """

    def __init__(
        self, body: Iterable[bytes], task: Task, ctx: RequestContext, status: list[int]
    ) -> None:
        self._body = body
        self._iter: Iterator[bytes] | None = None
        self._task = task
        self._ctx = ctx
        self._status = status

    def __iter__(self) -> Iterator[bytes]:
        if type(self._body) in (list, tuple):
            return iter(self._body)
        return self

    def __next__(self) -> bytes:
        with request_scope(self._ctx):
            if self._iter is None:
                self._iter = iter(self._body)
            return next(self._iter)

    def close(self) -> None:
        task = self._task
        with request_scope(self._ctx):
            try:
                close = getattr(self._body, "close", None)
                if close is not None:
                    close()
            finally:
                if task.completion is None:  # the response never started: still recorded
                    task.fail()
                    task.flush(raising=False)
                # the inbound checkpoint is the request's line at info level
                if log.enabled(logging.DEBUG):
                    log.debug(
                        "ect.request_completed", status=self._status[0], minted=len(task.minted)
                    )


def _script_path(environ: WSGIEnvironment) -> str:
    return str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", ""))


def _request_path(environ: WSGIEnvironment) -> str:
    """The path as the client sent it (percent-encoded, no query)."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if isinstance(raw, str) and raw.startswith("/"):
        return raw.split("?", 1)[0]
    return quote(_script_path(environ).encode("latin-1"), safe="/:@!$&'()*+,;=-._~")


def _exec_act(environ: WSGIEnvironment) -> str:
    """``METHOD /rule/<template>`` inside a Flask view, else the path."""
    method = environ.get("REQUEST_METHOD", "GET")
    flask = sys.modules.get("flask")
    if flask is not None and flask.has_request_context():
        rule = flask.request.url_rule
        if rule is not None:
            return request_action(method, rule.rule)
    return request_action(method, _script_path(environ))

"""Clients that call the app under test in-process as a given workload: every request
carries the caller's WIT, a fresh WPT bound to it and an ECT for the service."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Generator, Sequence
from typing import Any

try:
    import httpx
except ModuleNotFoundError as missing:  # the fixtures are offered wherever pytest runs
    raise ModuleNotFoundError(
        "ect_middleware.testing needs the testing extra (httpx):"
        " pip install 'ect-middleware[testing]'",
        name=missing.name,
    ) from missing

from ..tokens.ect import ECTClaims
from ..tokens.jws import read_payload
from .identities import BASE_URL, Identity


class ECTAuth(httpx.Auth):
    """httpx authentication that signs each request as ``caller`` for the service
    ``service`` (its workload id, the audience of the ECTs).

    Each request gets a new ECT: by default the first task of a new workflow; with
    ``workflow_id`` and ``parents``, a task of that workflow after those tasks. ``ect=False``
    sends the WIT and WPT only. What was sent and what came back is kept in ``sent`` and
    ``completions`` (the service's completion ECTs, unverified)."""

    def __init__(
        self,
        caller: Identity,
        service: str,
        *,
        workflow_id: str | None = None,
        parents: Sequence[str] = (),
        exec_act: str = "test.call",
        ect: bool = True,
    ) -> None:
        self.caller = caller
        self.service = service
        self.workflow_id = workflow_id
        self.parents = tuple(parents)
        self.exec_act = exec_act
        self.ect = ect
        self.sent: list[ECTClaims] = []
        self.completions: list[dict[str, Any]] = []

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        ects = []
        if self.ect:
            claims = self.caller.ect(
                self.service, wid=self.workflow_id, par=self.parents, exec_act=self.exec_act
            )
            self.sent.append(claims)
            ects.append(claims.token)
        url = str(request.url.copy_with(query=None, fragment=None))
        authorization = request.headers.get("Authorization")
        txn_token = request.headers.get("Txn-Token")
        for name, value in self.caller.headers(
            url, ects, authorization=authorization, txn_token=txn_token
        ).items():
            request.headers[name] = value
        response = yield request
        for value in response.headers.get_list("Execution-Context"):
            payload = read_payload(value.strip())
            if payload is not None:
                self.completions.append(payload)


def is_asgi(app: Any) -> bool:
    """An ASGI application is called with a coroutine (``async def __call__``)."""
    call = type(app).__call__ if not inspect.isroutine(app) else app
    return inspect.iscoroutinefunction(app) or inspect.iscoroutinefunction(call)


class SyncASGITransport(httpx.BaseTransport):
    """``httpx.ASGITransport`` for a synchronous client: each request runs the app in an
    event loop of its own (the request body is read first; the response is read whole).
    Lifespan events are not sent: start what the app needs in the test, or use
    ``async_client`` from an async test."""

    def __init__(self, app: Any) -> None:
        self._inner = httpx.ASGITransport(app=app)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError("an event loop is running here: use async_client instead")
        request.read()

        async def call() -> tuple[int, list[tuple[bytes, bytes]], bytes]:
            response = await self._inner.handle_async_request(request)
            try:
                body = b"".join([chunk async for chunk in response.stream])  # type: ignore[union-attr]
            finally:
                await response.aclose()
            return response.status_code, response.headers.raw, body

        status, headers, body = asyncio.run(call())
        return httpx.Response(status, headers=headers, content=body, request=request)


def client(
    app: Any,
    caller: Identity | None,
    service: str,
    *,
    base_url: str = BASE_URL,
    **auth: Any,
) -> httpx.Client:
    """A synchronous client of ``app`` (ASGI or WSGI) that signs every request as ``caller``
    (``ECTAuth`` keyword arguments apply), or sends no tokens when ``caller`` is None.
    Close it, or use it as a context manager.

    ASGI apps run through ``SyncASGITransport``, WSGI apps through ``httpx.WSGITransport``.
    A Starlette app's middleware stack is rebuilt first, so a middleware configured from
    the environment reads the environment of this test."""
    signer = ECTAuth(caller, service, **auth) if caller is not None else None
    transport: httpx.BaseTransport
    if is_asgi(app):
        _rebuild_stack(app)
        transport = SyncASGITransport(app)
    else:
        transport = httpx.WSGITransport(app=app)
    return httpx.Client(transport=transport, base_url=base_url, auth=signer)


def async_client(
    app: Any,
    caller: Identity | None,
    service: str,
    *,
    base_url: str = BASE_URL,
    **auth: Any,
) -> httpx.AsyncClient:
    """An asynchronous client of the ASGI ``app`` (``httpx.ASGITransport``), signing as
    ``client`` does."""
    _rebuild_stack(app)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=base_url,
        auth=ECTAuth(caller, service, **auth) if caller is not None else None,
    )


def _rebuild_stack(app: Any) -> None:
    """Starlette builds its middleware stack (ours included) on the first request, once:
    drop it so that this test's environment is the one read."""
    if getattr(app, "middleware_stack", None) is not None:
        app.middleware_stack = None

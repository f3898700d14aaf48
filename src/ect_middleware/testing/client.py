"""Clients that call the app under test in-process as a given workload: every request
carries the caller's WIT, a fresh WPT bound to it and an ECT for the service."""

from __future__ import annotations

import inspect
from collections.abc import Generator, Sequence
from typing import Any

import httpx

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


def client(
    app: Any,
    caller: Identity,
    service: str,
    *,
    base_url: str = BASE_URL,
    **auth: Any,
) -> httpx.Client:
    """A synchronous client of ``app`` (ASGI or WSGI) that signs every request as ``caller``
    (``ECTAuth`` keyword arguments apply). Close it, or use it as a context manager.

    ASGI apps run through Starlette's ``TestClient`` (an ``httpx.Client``; lifespan events
    run when it is used as a context manager), WSGI apps through ``httpx.WSGITransport``. A
    Starlette app's middleware stack is rebuilt first, so a middleware configured from the
    environment reads the environment of this test."""
    signer = ECTAuth(caller, service, **auth)
    if is_asgi(app):
        from starlette.testclient import TestClient

        if getattr(app, "middleware_stack", None) is not None:
            app.middleware_stack = None
        test_client = TestClient(app, base_url=base_url)
        test_client.auth = signer
        return test_client
    return httpx.Client(transport=httpx.WSGITransport(app=app), base_url=base_url, auth=signer)


def async_client(
    app: Any,
    caller: Identity,
    service: str,
    *,
    base_url: str = BASE_URL,
    **auth: Any,
) -> httpx.AsyncClient:
    """An asynchronous client of the ASGI ``app`` (``httpx.ASGITransport``), signing as
    ``client`` does."""
    if getattr(app, "middleware_stack", None) is not None:
        app.middleware_stack = None
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=base_url,
        auth=ECTAuth(caller, service, **auth),
    )

"""The measured applications, and drivers that call them in-process (no sockets).

The bare apps do what a small agent endpoint does: read a JSON body, call one peer over
httpx, answer JSON. The peer is an ``httpx.MockTransport``: it is not what is measured.
With the middleware, the only differences are the middleware itself and the ECT transport
wrapped around the same mock transport (``around_peer`` wraps another transport around it).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ect_middleware.propagation.httpx_transport import AsyncECTTransport, ECTTransport

from .identities import PATH, PEER_URL

BODY = json.dumps({"task": "summarise", "items": [1, 2, 3]}).encode()
PEER_BODY = {"answer": 42}
Headers = Sequence[tuple[str, str]]


def _peer(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=PEER_BODY)


def peer_transport() -> httpx.MockTransport:
    return httpx.MockTransport(_peer)


def starlette_app(
    *,
    with_ect_transport: bool,
    around_peer: Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport] | None = None,
) -> Starlette:
    """POST /work: read the body, POST it on to the peer, answer with the peer's reply."""
    inner = peer_transport()
    transport: httpx.AsyncBaseTransport = AsyncECTTransport(inner) if with_ect_transport else inner
    if around_peer is not None:
        transport = around_peer(transport)
    client = httpx.AsyncClient(transport=transport)

    async def work(request: Request) -> JSONResponse:
        task = await request.json()
        reply = await client.post(PEER_URL + "/task", json=task)
        return JSONResponse({"status": reply.status_code, "peer": reply.json()})

    return Starlette(routes=[Route(PATH, work, methods=["POST"])])


def wsgi_app(
    *,
    with_ect_transport: bool,
    around_peer: Callable[[httpx.BaseTransport], httpx.BaseTransport] | None = None,
) -> Callable[..., Iterable[bytes]]:
    """The same endpoint as a plain WSGI callable (no framework)."""
    inner = peer_transport()
    transport: httpx.BaseTransport = ECTTransport(inner) if with_ect_transport else inner
    if around_peer is not None:
        transport = around_peer(transport)
    client = httpx.Client(transport=transport)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        task = json.loads(environ["wsgi.input"].read(length))
        reply = client.post(PEER_URL + "/task", json=task)
        body = json.dumps({"status": reply.status_code, "peer": reply.json()}).encode()
        start_response(
            "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        return [body]

    return app


def asgi_scope(headers: Headers, host: str) -> dict[str, Any]:
    raw = [(b"host", host.encode()), (b"content-length", str(len(BODY)).encode())]
    raw += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": PATH,
        "raw_path": PATH.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": raw,
        "server": (host, 80),
        "client": ("127.0.0.1", 50000),
    }


async def call_asgi(app: Any, headers: Headers, host: str) -> int:
    """One request through ``app``; its status (the body is read and dropped)."""
    status = 0
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": BODY, "more_body": False}
        await asyncio.sleep(3600)  # a client that stays connected
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(asgi_scope(headers, host), receive, send)
    return status


def wsgi_environ(headers: Headers, host: str) -> dict[str, Any]:
    import io

    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "PATH_INFO": PATH,
        "QUERY_STRING": "",
        "SERVER_NAME": host,
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(BODY)),
        "HTTP_HOST": host,
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(BODY),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in headers:
        if name.lower() == "content-type":
            continue
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ


def call_wsgi(app: Callable[..., Iterable[bytes]], headers: Headers, host: str) -> int:
    status = [0]

    def start_response(line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        status[0] = int(line.split(" ", 1)[0])
        return lambda data: None

    body = app(wsgi_environ(headers, host), start_response)
    try:
        for _ in body:
            pass
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    return status[0]

"""Cheap in-process call paths into the real middlewares, with raw header bytes.

- ``wsgi_environ`` builds a PEP 3333 environ the way WSGI servers do: header values are
  the octets decoded as latin-1, repeated header lines are joined with ", ".
- ``Pep3333Transport`` is httpx's WSGI transport done that way (httpx's own decodes header
  values as ASCII, so it cannot carry the non-ASCII octets a hostile client may send).
- ``WSGIDriver`` and ``ASGIDriver`` call ``ECTWSGIMiddleware`` / ``ECTMiddleware`` around a
  trivial application directly, without HTTP: the fuzzers' path, tens of microseconds each.
"""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import httpx
from starlette.types import Message

from ect_middleware import ECTMiddleware, ECTWSGIMiddleware, Settings
from ect_middleware.runtime import Runtime

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

RawHeaders = Sequence[tuple[bytes, bytes]]


def wsgi_environ(method: str, path: str, headers: RawHeaders, body: bytes = b"") -> dict[str, Any]:
    environ: dict[str, Any] = {
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
    }
    for name, value in headers:
        key = name.decode("latin-1").upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        text = value.decode("latin-1")
        environ[key] = f"{environ[key]}, {text}" if key in environ else text
    return environ


class Pep3333Transport(httpx.BaseTransport):
    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        environ = wsgi_environ(
            request.method, request.url.path, request.headers.raw, request.read()
        )
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None):  # type: ignore[no-untyped-def]
            started[:] = [status, headers]
            return lambda _: None

        result = self.app(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        status, headers = started
        return httpx.Response(
            int(status.split(" ", 1)[0]),
            headers=[(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers],
            content=body,
        )


def _ok_wsgi(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", [("content-type", "text/plain")])
    return [b"ok"]


async def _ok_asgi(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


class WSGIDriver:
    """``ECTWSGIMiddleware`` around an app that answers 200 "ok"."""

    kind = "wsgi"

    def __init__(self, settings: Settings) -> None:
        self.middleware = ECTWSGIMiddleware(_ok_wsgi, settings=settings)
        assert self.middleware.runtime is not None
        self.runtime: Runtime = self.middleware.runtime

    def call(self, path: str, headers: RawHeaders) -> tuple[int, bytes]:
        started: list[str] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None):  # type: ignore[no-untyped-def]
            started.append(status)
            return lambda _: None

        result = self.middleware(wsgi_environ("GET", path, headers), start_response)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return int(started[-1].split(" ", 1)[0]), body

    def close(self) -> None:
        self.runtime.close()


class ASGIDriver:
    """``ECTMiddleware`` around an app that answers 200 "ok", on one event loop."""

    kind = "asgi"

    def __init__(self, settings: Settings) -> None:
        self.middleware = ECTMiddleware(_ok_asgi, settings=settings)
        assert self.middleware.runtime is not None
        self.runtime: Runtime = self.middleware.runtime
        self._loop = asyncio.new_event_loop()

    def call(self, path: str, headers: RawHeaders) -> tuple[int, bytes]:
        return self._loop.run_until_complete(self._call(path, headers))

    async def _call(self, path: str, headers: RawHeaders) -> tuple[int, bytes]:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode("latin-1"),
            "query_string": b"",
            "root_path": "",
            "headers": [(k.lower(), v) for k, v in headers],
            "server": ("testserver", 80),
            "client": ("127.0.0.1", 50000),
        }
        sent: list[Message] = []

        async def receive() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Message) -> None:
            sent.append(message)

        await self.middleware(scope, receive, send)
        start = next(m for m in sent if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return int(start["status"]), body

    def close(self) -> None:
        self._loop.close()
        self.runtime.close()


Driver = WSGIDriver | ASGIDriver

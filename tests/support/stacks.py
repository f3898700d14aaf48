"""The same tests through both middlewares: the ASGI and WSGI apps in-process through httpx's
transports, or under a real server on loopback (uvicorn, waitress) where the server
matters: how it parses and joins headers, hostile input as it passes it on, real sockets."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from ect_middleware import Settings
from ect_middleware.ledger import LedgerEntry, open_ledger
from ect_middleware.testing import SyncASGITransport

from .apps import flask_app, starlette_app
from .servers import free_port, uvicorn_server, waitress_server


class Stack:
    def __init__(self, kind: str, client: httpx.Client, settings: Settings, extra: Any) -> None:
        self.kind = kind
        self.client = client
        self.settings = settings
        self.base = str(client.base_url).rstrip("/")
        #: what background tasks saw (ASGI stack)
        self.extra = extra

    def url(self, path: str) -> str:
        return self.base + path

    def entries(self) -> list[LedgerEntry]:
        ledger = open_ledger(self.settings.ledger)
        try:
            return list(ledger.entries())
        finally:
            ledger.close()


@contextmanager
def open_stack(
    kind: str, make_settings: Callable[[str], Settings], **server_options: Any
) -> Iterator[Stack]:
    """``make_settings(base_url)`` configures the service for the URL it is reached at.

    ``kind``: ``asgi`` (Starlette in-process, through the public ``SyncASGITransport``),
    ``wsgi`` (Flask in-process, through ``httpx.WSGITransport``), ``uvicorn`` (Starlette
    under uvicorn; ``server_options`` go to uvicorn's Config) or ``waitress`` (Flask under
    waitress, which joins repeated header lines with ", " as WSGI servers do).
    """
    if kind == "uvicorn":
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        settings = make_settings(base)
        app, seen = starlette_app(settings)
        with (
            uvicorn_server(app, port, **server_options),
            httpx.Client(base_url=base, timeout=10) as client,
        ):
            yield Stack(kind, client, settings, seen)
    elif kind == "waitress":
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        settings = make_settings(base)
        with (
            waitress_server(flask_app(settings), port),
            httpx.Client(base_url=base, timeout=10) as client,
        ):
            yield Stack(kind, client, settings, None)
    elif kind == "asgi":
        assert not server_options, "in-process: no server to configure"
        base = "http://testserver"
        settings = make_settings(base)
        app, seen = starlette_app(settings)
        with httpx.Client(transport=SyncASGITransport(app), base_url=base) as client:
            yield Stack(kind, client, settings, seen)
    else:
        assert kind == "wsgi", kind
        assert not server_options, "in-process: no server to configure"
        base = "http://testserver"
        settings = make_settings(base)
        transport = httpx.WSGITransport(app=flask_app(settings))
        with httpx.Client(transport=transport, base_url=base) as client:
            yield Stack(kind, client, settings, None)

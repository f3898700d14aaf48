"""The same tests through both middlewares: the ASGI app under a real uvicorn on loopback,
the WSGI app in-process through httpx's WSGI transport, or under a real waitress."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from ect_middleware import Settings
from ect_middleware.ledger import LedgerEntry, open_ledger

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

    ``kind``: ``asgi`` (Starlette under uvicorn; ``server_options`` go to uvicorn's Config),
    ``wsgi`` (Flask in-process) or ``waitress`` (Flask under waitress, which joins repeated
    header lines with ", " as WSGI servers do).
    """
    if kind == "asgi":
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
    else:
        base = "http://testserver"
        settings = make_settings(base)
        transport = httpx.WSGITransport(app=flask_app(settings))
        with httpx.Client(transport=transport, base_url=base) as client:
            yield Stack(kind, client, settings, None)

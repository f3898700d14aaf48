"""Opt-in global instrumentation of httpx's and requests' stock transports.

``instrument()`` wraps ``httpx.HTTPTransport``, ``httpx.AsyncHTTPTransport``, the same two
of ``httpx2`` (the ``mcp`` 2.x SDK's client) and ``requests.adapters.HTTPAdapter`` so every
client built on them propagates context. Each library is imported only when it is installed,
by ``instrument()`` itself, never by importing this package; custom
transports are covered by the explicit wrappers. Both calls are idempotent, and a request
that also passes through a wrapper is given tokens once (see ``outbound.before``).
"""

from __future__ import annotations

import importlib
import importlib.util
import threading
from collections.abc import Callable
from typing import Any

_lock = threading.Lock()
_originals: list[tuple[type, str, Callable[..., Any]]] = []


def instrument() -> None:
    with _lock:
        if _originals:
            return
        for family in ("httpx", "httpx2"):
            if importlib.util.find_spec(family) is not None:
                _patch_httpx(family)
        if importlib.util.find_spec("requests") is not None:
            _patch_requests()


def uninstrument() -> None:
    with _lock:
        while _originals:
            cls, name, original = _originals.pop()
            setattr(cls, name, original)


def _patch(cls: type, name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    original = getattr(cls, name)
    _originals.append((cls, name, original))
    setattr(cls, name, make(original))


def _patch_httpx(family: str) -> None:
    """Patch the stock transports of ``httpx`` or ``httpx2`` (one API, two packages)."""
    library = importlib.import_module(family)
    hooks = importlib.import_module(f"{__package__}.{family}_transport")
    send_with_context = hooks.send_with_context
    send_with_context_async = hooks.send_with_context_async

    def sync(original: Callable[..., Any]) -> Callable[..., Any]:
        def handle_request(self: Any, request: Any) -> Any:
            return send_with_context(request, lambda r: original(self, r))

        return handle_request

    def asynchronous(original: Callable[..., Any]) -> Callable[..., Any]:
        async def handle_async_request(self: Any, request: Any) -> Any:
            return await send_with_context_async(request, lambda r: original(self, r))

        return handle_async_request

    _patch(library.HTTPTransport, "handle_request", sync)
    _patch(library.AsyncHTTPTransport, "handle_async_request", asynchronous)


def _patch_requests() -> None:
    import requests

    from .requests_adapter import send_with_context

    def wrap(original: Callable[..., requests.Response]) -> Callable[..., requests.Response]:
        def send(self: Any, request: requests.PreparedRequest, *a: Any, **k: Any) -> Any:
            return send_with_context(request, lambda r: original(self, r, *a, **k))

        return send

    _patch(requests.adapters.HTTPAdapter, "send", wrap)

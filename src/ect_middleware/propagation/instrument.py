"""Opt-in global instrumentation of httpx's and requests' stock transports.

``instrument()`` wraps ``httpx.HTTPTransport``, ``httpx.AsyncHTTPTransport`` and
``requests.adapters.HTTPAdapter`` so every client built on them propagates context; custom
transports are covered by the explicit wrappers. Both calls are idempotent, and a request
that also passes through a wrapper is given tokens once (see ``outbound.before``).
"""

from __future__ import annotations

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
        if importlib.util.find_spec("httpx") is not None:
            _patch_httpx()
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


def _patch_httpx() -> None:
    import httpx

    from .httpx_transport import send_with_context, send_with_context_async

    def sync(original: Callable[..., httpx.Response]) -> Callable[..., httpx.Response]:
        def handle_request(self: Any, request: httpx.Request) -> httpx.Response:
            return send_with_context(request, lambda r: original(self, r))

        return handle_request

    def asynchronous(original: Callable[..., Any]) -> Callable[..., Any]:
        async def handle_async_request(self: Any, request: httpx.Request) -> httpx.Response:
            return await send_with_context_async(request, lambda r: original(self, r))

        return handle_async_request

    _patch(httpx.HTTPTransport, "handle_request", sync)
    _patch(httpx.AsyncHTTPTransport, "handle_async_request", asynchronous)


def _patch_requests() -> None:
    import requests

    from .requests_adapter import send_with_context

    def wrap(original: Callable[..., requests.Response]) -> Callable[..., requests.Response]:
        def send(self: Any, request: requests.PreparedRequest, *a: Any, **k: Any) -> Any:
            return send_with_context(request, lambda r: original(self, r, *a, **k))

        return send

    _patch(requests.adapters.HTTPAdapter, "send", wrap)

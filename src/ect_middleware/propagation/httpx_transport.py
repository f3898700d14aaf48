"""httpx transports that propagate execution context: wrap, don't patch.

client = httpx.Client(transport=ECTTransport())
client = httpx.AsyncClient(transport=AsyncECTTransport(httpx.AsyncHTTPTransport(retries=2)))

The same classes for ``httpx2`` are in ``httpx2_transport``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

from . import httpx_hooks


def send_with_context(
    request: httpx.Request, send: Callable[[httpx.Request], httpx.Response]
) -> httpx.Response:
    return httpx_hooks.send_with_context(request, send, httpx.RequestNotRead)


async def send_with_context_async(
    request: httpx.Request, send: Callable[[httpx.Request], Awaitable[httpx.Response]]
) -> httpx.Response:
    return await httpx_hooks.send_with_context_async(request, send, httpx.RequestNotRead)


class ECTTransport(httpx.BaseTransport):
    def __init__(self, transport: httpx.BaseTransport | None = None) -> None:
        self._inner = transport if transport is not None else httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return send_with_context(request, self._inner.handle_request)

    def close(self) -> None:
        self._inner.close()


class AsyncECTTransport(httpx.AsyncBaseTransport):
    def __init__(self, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._inner = transport if transport is not None else httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await send_with_context_async(request, self._inner.handle_async_request)

    async def aclose(self) -> None:
        await self._inner.aclose()

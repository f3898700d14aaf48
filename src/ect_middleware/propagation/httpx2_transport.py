"""httpx2 transports that propagate execution context, as ``httpx_transport`` does for
httpx: ``httpx2`` is a separate package with the same transport API, the client of the
``mcp`` 2.x SDK.

client = httpx2.AsyncClient(transport=AsyncECTTransport())
mcp_transport = streamable_http_client(url, http_client=client)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx2

from . import httpx_hooks


def send_with_context(
    request: httpx2.Request, send: Callable[[httpx2.Request], httpx2.Response]
) -> httpx2.Response:
    return httpx_hooks.send_with_context(request, send, httpx2.RequestNotRead)


async def send_with_context_async(
    request: httpx2.Request, send: Callable[[httpx2.Request], Awaitable[httpx2.Response]]
) -> httpx2.Response:
    return await httpx_hooks.send_with_context_async(request, send, httpx2.RequestNotRead)


class ECTTransport(httpx2.BaseTransport):
    def __init__(self, transport: httpx2.BaseTransport | None = None) -> None:
        self._inner = transport if transport is not None else httpx2.HTTPTransport()

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        return send_with_context(request, self._inner.handle_request)

    def close(self) -> None:
        self._inner.close()


class AsyncECTTransport(httpx2.AsyncBaseTransport):
    def __init__(self, transport: httpx2.AsyncBaseTransport | None = None) -> None:
        self._inner = transport if transport is not None else httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        return await send_with_context_async(request, self._inner.handle_async_request)

    async def aclose(self) -> None:
        await self._inner.aclose()

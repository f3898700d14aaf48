"""httpx transports that propagate execution context: wrap, don't patch.

client = httpx.Client(transport=ECTTransport())
client = httpx.AsyncClient(transport=AsyncECTTransport(httpx.AsyncHTTPTransport(retries=2)))
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

from . import outbound


def send_with_context(
    request: httpx.Request, send: Callable[[httpx.Request], httpx.Response]
) -> httpx.Response:
    injection = outbound.before(*_outbound(request))
    response = send(request)
    outbound.after(
        injection,
        response.headers.multi_items(),
        status=response.status_code,
        request_headers=request.headers,
    )
    return response


async def send_with_context_async(
    request: httpx.Request, send: Callable[[httpx.Request], Awaitable[httpx.Response]]
) -> httpx.Response:
    injection = await outbound.before_async(*_outbound(request))
    response = await send(request)
    outbound.after(
        injection,
        response.headers.multi_items(),
        status=response.status_code,
        request_headers=request.headers,
    )
    return response


def _outbound(
    request: httpx.Request,
) -> tuple[httpx.Request, str, httpx.Headers, bytes | None]:
    """What the outbound hooks read of ``request``."""
    try:
        body = request.content or None
    except httpx.RequestNotRead:  # a streaming body: not hashed into inp_hash
        body = None
    return request, str(request.url), request.headers, body


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

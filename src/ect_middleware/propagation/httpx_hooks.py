"""The outbound hooks for the httpx family: ``httpx`` and ``httpx2`` (the client the ``mcp``
2.x SDK is built on) are separate packages with one transport API. This module imports
neither; ``httpx_transport`` and ``httpx2_transport`` bind it to theirs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Protocol, TypeVar

from . import outbound


class MultiItems(Protocol):
    def multi_items(self) -> Sequence[tuple[str, str]]: ...


class RequestLike(Protocol):
    @property
    def url(self) -> object: ...
    @property
    def headers(self) -> MutableMapping[str, str]: ...
    @property
    def content(self) -> bytes: ...


class ResponseLike(Protocol):
    @property
    def headers(self) -> MultiItems: ...
    @property
    def status_code(self) -> int: ...


Req = TypeVar("Req", bound=RequestLike)
Resp = TypeVar("Resp", bound=ResponseLike)


def send_with_context(request: Req, send: Callable[[Req], Resp], not_read: type[Exception]) -> Resp:
    """Send ``request`` with this hop's tokens when it goes to a peer; absorb the
    response's completion ECT. ``not_read``: the library's ``RequestNotRead``."""
    injection = outbound.before(*_outbound(request, not_read))
    response = send(request)
    outbound.after(
        injection,
        response.headers.multi_items(),
        status=response.status_code,
        request_headers=request.headers,
    )
    return response


async def send_with_context_async(
    request: Req, send: Callable[[Req], Awaitable[Resp]], not_read: type[Exception]
) -> Resp:
    injection = await outbound.before_async(*_outbound(request, not_read))
    response = await send(request)
    outbound.after(
        injection,
        response.headers.multi_items(),
        status=response.status_code,
        request_headers=request.headers,
    )
    return response


def _outbound(
    request: RequestLike, not_read: type[Exception]
) -> tuple[RequestLike, str, MutableMapping[str, str], bytes | None]:
    """What the outbound hooks read of ``request``."""
    try:
        body = request.content or None
    except not_read:  # a streaming body: not hashed into inp_hash
        body = None
    return request, str(request.url), request.headers, body

"""Work done at the places the middleware does it, in the bare app: "in place".

A middleware verifies the request's tokens and logs its checkpoint before the app runs,
signs the outbound ECT and WPT in the httpx transport before the peer is called (after
making the entries before the call durable, in durable mode), and signs the completion
ECT once the app has answered, before the response starts. Between those places the app,
the framework and httpx do their own work, which leaves the CPU caches (OpenSSL's P-256
tables among them) cold for the next step: the same operations cost more there than back
to back. A ``Placed`` runs the ``Steps`` of a contract bound or a crypto floor at those
places, through a WSGI wrapper or pure ASGI middleware around the app and a transport
around the same peer mock; nothing else is added to the bare app.

Each batch's requests are prepared before the clock starts (``load``) and taken in order,
one per request, by the wrapper, which hands the request's own to the transport: the
drivers run one request at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, Protocol, TypeVar

import httpx

from .apps import Headers

R = TypeVar("R")


class Steps(Protocol[R]):
    """What is done at each place, for a request prepared by ``prepare``."""

    def prepare(self, headers: Headers) -> R: ...

    def inbound(self, request: R) -> None: ...

    def outbound(self, request: R) -> None: ...

    def completion(self, request: R) -> None: ...


class Placed(Generic[R]):
    """The prepared requests of the current batch, and the one being served."""

    def __init__(self, steps: Steps[R]) -> None:
        self.steps = steps
        self._pending: Iterator[R] = iter(())
        self._current: R | None = None

    def load(self, batch: list[Headers]) -> None:
        """Prepare ``batch`` (untimed); its requests are then served in this order."""
        self._pending = iter([self.steps.prepare(headers) for headers in batch])

    def begin(self) -> R:
        """A request arrives: its inbound step; the request, for its completion."""
        request = self._current = next(self._pending)
        self.steps.inbound(request)
        return request

    def outbound(self) -> None:
        """The app calls the peer: the serving request's outbound step."""
        if self._current is None:
            raise RuntimeError("an outbound call outside a request")
        self.steps.outbound(self._current)


class PlacedWSGI:
    """A WSGI middleware that does ``placed``'s steps around ``app``: the completion as the
    response starts, where a middleware adds the completion header."""

    def __init__(self, app: Callable[..., Iterable[bytes]], placed: Placed[Any]) -> None:
        self.app = app
        self.placed = placed

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = self.placed.begin()
        completion = self.placed.steps.completion

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            completion(request)
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


class PlacedASGI:
    """The same as a pure ASGI middleware: the completion before ``http.response.start``."""

    def __init__(self, app: Any, placed: Placed[Any]) -> None:
        self.app = app
        self.placed = placed

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = self.placed.begin()
        completion = self.placed.steps.completion

        async def send_placed(message: Any) -> None:
            if message["type"] == "http.response.start":
                completion(request)
            await send(message)

        await self.app(scope, receive, send_placed)


class PlacedTransport(httpx.BaseTransport):
    """An httpx transport that does the outbound step before ``inner`` is called."""

    def __init__(self, inner: httpx.BaseTransport, placed: Placed[Any]) -> None:
        self._inner = inner
        self._placed = placed

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self._placed.outbound()
        return self._inner.handle_request(request)


class AsyncPlacedTransport(httpx.AsyncBaseTransport):
    """``PlacedTransport`` for ``httpx.AsyncClient``."""

    def __init__(self, inner: httpx.AsyncBaseTransport, placed: Placed[Any]) -> None:
        self._inner = inner
        self._placed = placed

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._placed.outbound()
        return await self._inner.handle_async_request(request)

"""The service the load and crash tests run under ``uvicorn --workers 2 --factory``.

``create_app()`` reads the ECT_* environment like any deployment, plus ``ECT_LOAD_SINK``:
the URL of a peer (a separate server, see ``_load.sink``) that ``GET /work`` calls through
``AsyncECTTransport`` for every request, so each request also mints, records and sends an
outbound ECT and WPT. The peer answers without looking at them and returns no completion
ECT. ``GET /health`` (in ECT_EXCLUDE_PATHS) tells that a worker is up.
"""

from __future__ import annotations

import logging
import os

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from ect_middleware import current_context, instrument_app
from ect_middleware.propagation.httpx_transport import AsyncECTTransport


def create_app() -> Starlette:
    # As an application keeping the middleware's INFO lines (each request's checkpoint)
    # would: the tests read them back from the server's output.
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    sink = os.environ["ECT_LOAD_SINK"]
    client = httpx.AsyncClient(transport=AsyncECTTransport(), timeout=30)

    async def work(request: Request) -> JSONResponse:
        ctx = current_context()
        assert ctx is not None
        response = await client.get(sink)
        return JSONResponse(
            {
                "pid": os.getpid(),
                "parents": [p.jti for p in ctx.parents],
                "minted": list(ctx.minted),  # the outbound ECT(s), recorded before sending
                "sink": response.status_code,
            }
        )

    async def health(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/work", work), Route("/health", health)])
    return instrument_app(app)


def sink_app() -> Starlette:
    """The peer: answers 200 to anything, carries no middleware."""

    async def sink(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/sink", sink)])

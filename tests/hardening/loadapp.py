"""The service the load and crash tests run under ``uvicorn --workers 2 --factory``.

``create_app()`` reads the ECT_* environment like any deployment, plus ``ECT_LOAD_SINK``:
the URL that ``GET /work`` calls through ``AsyncECTTransport`` for every request, so each
request also mints, records and sends an outbound ECT and WPT. The sink (``GET /sink``, in
ECT_EXCLUDE_PATHS) answers without looking at them: it stands for a peer that returns no
completion ECT.
"""

from __future__ import annotations

import os

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from ect_middleware import current_context, instrument_app
from ect_middleware.propagation.httpx_transport import AsyncECTTransport


def create_app() -> Starlette:
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

    async def sink_handler(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/work", work), Route("/sink", sink_handler)])
    return instrument_app(app)

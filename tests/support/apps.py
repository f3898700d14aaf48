"""Small Starlette and Flask apps with the routes that stress a middleware: streaming,
background tasks, sync endpoints, handled exceptions, unhandled errors, checkpoints."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from flask import Flask, Response, jsonify
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import (
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    StreamingResponse,
)
from starlette.routing import Route

from ect_middleware import (
    ECTMiddleware,
    ECTWSGIMiddleware,
    Settings,
    checkpoint,
    current_context,
    instrument_app,
)


class Handled(Exception):
    pass


def describe() -> dict[str, Any]:
    ctx = current_context()
    if ctx is None:
        return {"context": None}
    return {
        "caller": ctx.caller,
        "wid": ctx.workflow_id,
        "task": ctx.task_id,
        "parents": [p.jti for p in ctx.parents],
        "minted": list(ctx.minted),
    }


def starlette_app(
    settings: Settings, *, outside_errors: bool = True
) -> tuple[Starlette, list[Any]]:
    """The app, and a list that background tasks append what they saw to."""
    seen: list[Any] = []

    async def context(request: Request) -> JSONResponse:
        return JSONResponse(describe())

    def sync_context(request: Request) -> JSONResponse:  # runs in Starlette's thread pool
        return JSONResponse(describe())

    async def slow(request: Request) -> JSONResponse:
        await asyncio.sleep(float(request.query_params.get("s", "0.02")))
        return JSONResponse(describe())

    async def stream(request: Request) -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for i in range(3):
                ctx = current_context()
                yield f"{i}:{ctx.workflow_id if ctx else None}\n".encode()

        return StreamingResponse(chunks(), media_type="text/plain")

    async def background(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok", background=BackgroundTask(lambda: seen.append(describe())))

    async def policy(request: Request) -> JSONResponse:
        decision = request.query_params.get("decision", "approved")
        jti = checkpoint("refund-limit", decision, amount=120, limit=100)
        return JSONResponse({"checkpoint": jti, **describe()})

    async def handled(request: Request) -> None:
        raise Handled()

    async def boom(request: Request) -> None:
        raise RuntimeError("boom")

    async def on_handled(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"handled": True, **describe()}, status_code=409)

    app = Starlette(
        routes=[
            Route("/context", context),
            Route("/sync", sync_context),
            Route("/slow", slow),
            Route("/stream", stream),
            Route("/background", background),
            Route("/policy", policy, methods=["POST"]),
            Route("/handled", handled),
            Route("/boom", boom),
            Route("/redirect", lambda r: RedirectResponse(r.query_params["to"], 307)),
        ],
        exception_handlers={Handled: on_handled},
    )
    if outside_errors:
        instrument_app(app, settings=settings)
    else:
        app.add_middleware(ECTMiddleware, settings=settings)
    return app, seen


def flask_app(settings: Settings) -> Flask:
    app = Flask("flask-test-app")

    @app.get("/context")
    def context() -> Any:
        return jsonify(describe())

    @app.get("/slow")
    def slow() -> Any:
        from flask import request

        time.sleep(float(request.args.get("s", "0.02")))
        return jsonify(describe())

    @app.get("/stream")
    def stream() -> Response:
        def chunks() -> Iterator[str]:
            for i in range(3):
                ctx = current_context()
                yield f"{i}:{ctx.workflow_id if ctx else None}\n"

        return Response(chunks(), mimetype="text/plain")  # no stream_with_context: ours

    @app.post("/policy")
    def policy() -> Any:
        from flask import request

        decision = request.args.get("decision", "approved")
        jti = checkpoint("refund-limit", decision, amount=120, limit=100)
        return jsonify(checkpoint=jti, **describe())

    @app.get("/boom")
    def boom() -> Any:
        raise RuntimeError("boom")

    app.wsgi_app = ECTWSGIMiddleware(app.wsgi_app, settings=settings)  # type: ignore[method-assign]
    return app

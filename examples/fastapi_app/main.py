"""An agent service on FastAPI whose outbound calls go through httpx.

The integration is the ``add_middleware`` line plus ECT_* environment variables; the rest
is an ordinary FastAPI app. Run: ``uvicorn main:app`` from this folder.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from ect_middleware import ECTMiddleware, checkpoint, current_context, sent_task_id
from ect_middleware.propagation.httpx_transport import AsyncECTTransport

# An application decides how it logs; the middleware's events are records of the stdlib
# logger "ect_middleware" (or go through structlog, once the app configures it). Here: stdlib
# logging at INFO, so every request's checkpoint line is shown.
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")

app = FastAPI(title="ect-middleware example agent (FastAPI)")
app.add_middleware(ECTMiddleware)

client = httpx.AsyncClient(transport=AsyncECTTransport(), timeout=10.0)

CLASSIFICATIONS = ["public", "internal", "confidential"]
CEILING = os.environ.get("AGENT_MAX_CLASSIFICATION", "confidential")


class Call(BaseModel):
    url: str
    body: dict[str, Any] | None = None  # POSTed as JSON when given, else the call is a GET


class Delegation(Call):
    classification: str | None = None


class FanOut(BaseModel):
    calls: list[Call]
    then: Call | None = None
    classification: str | None = None


@app.get("/context")
async def context() -> dict[str, Any]:
    ctx = current_context()
    assert ctx is not None  # the middleware handles every request here
    return {
        "caller": ctx.caller,
        "wid": ctx.workflow_id,
        "parents": [p.jti for p in ctx.parents],
        "minted": list(ctx.minted),
    }


@app.post("/delegate")
async def delegate(request: Delegation) -> Any:
    if not to_peers([request]):
        return not_a_peer()
    if not allowed(request.classification):
        return denied(request.classification)
    return await call(request)


@app.post("/fanout")
async def fanout(request: FanOut) -> Any:
    """Call several services at once (fan-out), then one more whose ECT has all of their
    completions as parents (fan-in)."""
    if not to_peers([*request.calls, *([request.then] if request.then else [])]):
        return not_a_peer()
    if not allowed(request.classification):
        return denied(request.classification)
    results = await asyncio.gather(*(call(c) for c in request.calls))
    then = await call(request.then) if request.then else None
    return {"results": results, "then": then}


async def call(target: Call) -> dict[str, Any]:
    if target.body is None:
        response = await client.get(target.url)
    else:
        response = await client.post(target.url, json=target.body)
    try:
        downstream = response.json()
    except ValueError:
        downstream = None
    return {
        "status": response.status_code,
        "downstream": downstream,
        "sent": sent_task_id(response.request.headers),
    }


def to_peers(targets: list[Call]) -> bool:
    """Whether every URL the client asked for belongs to a configured peer (ECT_PEERS).
    Anything else is refused: these endpoints serve callers that need not authenticate
    (an entry path), and must not fetch whatever URL they name (SSRF)."""
    ctx = current_context()
    return ctx is not None and all(ctx.peer_for(t.url) is not None for t in targets)


def not_a_peer() -> JSONResponse:
    return JSONResponse({"error": "not a configured peer"}, status_code=400)


def allowed(classification: str | None) -> bool:
    """A policy checkpoint: this agent handles data up to AGENT_MAX_CLASSIFICATION."""
    if classification is None:
        return True
    ok = classification in CLASSIFICATIONS and CLASSIFICATIONS.index(
        classification
    ) <= CLASSIFICATIONS.index(CEILING)
    checkpoint(
        "data-classification",
        "approved" if ok else "rejected",
        classification=classification,
        ceiling=CEILING,
    )
    return ok


def denied(classification: str | None) -> JSONResponse:
    return JSONResponse(
        {"error": "policy", "policy": "data-classification", "classification": classification},
        status_code=403,
    )

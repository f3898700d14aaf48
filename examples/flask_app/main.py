"""An agent service on Flask whose outbound calls go through requests.

The integration is the ``wsgi_app`` line plus ECT_* environment variables; the rest is an
ordinary Flask app. Run: ``flask --app main run`` (or any WSGI server, e.g.
``waitress-serve --port 8002 main:app``) from this folder.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
from flask import Flask, jsonify, request

from ect_middleware import (
    ECTWSGIMiddleware,
    bind_context,
    checkpoint,
    current_context,
    sent_task_id,
)
from ect_middleware.propagation.requests_adapter import instrument_session

# An application decides how it logs; the middleware's events are records of the stdlib
# logger "ect_middleware" (or go through structlog, once the app configures it). Here: stdlib
# logging at INFO, so every request's checkpoint line is shown.
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")

app = Flask(__name__)
app.wsgi_app = ECTWSGIMiddleware(app.wsgi_app)  # type: ignore[method-assign]

session = instrument_session(requests.Session())
pool = ThreadPoolExecutor(max_workers=8)

CLASSIFICATIONS = ["public", "internal", "confidential"]
CEILING = os.environ.get("AGENT_MAX_CLASSIFICATION", "confidential")


@app.get("/context")
def context() -> Any:
    ctx = current_context()
    assert ctx is not None  # the middleware handles every request here
    return jsonify(
        caller=ctx.caller,
        wid=ctx.workflow_id,
        parents=[p.jti for p in ctx.parents],
        minted=list(ctx.minted),
    )


@app.post("/delegate")
def delegate() -> Any:
    body = request.get_json(force=True)
    if not to_peers([body]):
        return not_a_peer()
    if not allowed(body.get("classification")):
        return denied(body.get("classification"))
    return jsonify(call(body))


@app.post("/fanout")
def fanout() -> Any:
    """Call several services at once (fan-out, from a thread pool: ``bind_context`` carries
    the request context into the threads), then one more whose ECT has all of their
    completions as parents (fan-in)."""
    body = request.get_json(force=True)
    if not to_peers([*body.get("calls", []), *([body["then"]] if body.get("then") else [])]):
        return not_a_peer()
    if not allowed(body.get("classification")):
        return denied(body.get("classification"))
    results = list(pool.map(bind_context(call), body.get("calls", [])))
    then = call(body["then"]) if body.get("then") else None
    return jsonify(results=results, then=then)


def call(target: dict[str, Any]) -> dict[str, Any]:
    if target.get("body") is None:
        response = session.get(target["url"], timeout=10)
    else:
        response = session.post(target["url"], json=target["body"], timeout=10)
    try:
        downstream = response.json()
    except ValueError:
        downstream = None
    return {
        "status": response.status_code,
        "downstream": downstream,
        "sent": sent_task_id(response.request.headers),
    }


def to_peers(targets: list[Any]) -> bool:
    """Whether every URL the client asked for belongs to a configured peer (ECT_PEERS).
    Anything else is refused: these endpoints serve callers that need not authenticate
    (an entry path), and must not fetch whatever URL they name (SSRF)."""
    ctx = current_context()
    return ctx is not None and all(
        isinstance(t, dict) and isinstance(t.get("url"), str) and ctx.peer_for(t["url"]) is not None
        for t in targets
    )


def not_a_peer() -> Any:
    return jsonify(error="not a configured peer"), 400


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


def denied(classification: str | None) -> Any:
    return (
        jsonify(error="policy", policy="data-classification", classification=classification),
        403,
    )

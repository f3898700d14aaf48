"""An MCP server on the official ``mcp`` SDK (streamable HTTP at ``/mcp``) whose tool calls
are verified, recorded and propagated as ECTs.

The integration is the ``add_middleware`` line plus the ECT_* environment variables, as for
any Starlette app. ``jsonrpc_paths`` names each task after the JSON-RPC call it handles
(``tools/call research``) instead of ``POST /mcp``; ECT_JSONRPC_PATHS=/mcp does the same.
Run: ``uvicorn main:app`` from this folder.
"""

from __future__ import annotations

import os
from typing import Any

import httpx
from mcp.server.mcpserver import Context, MCPServer

from ect_middleware import ECTMiddleware, checkpoint, current_context, sent_task_id
from ect_middleware.propagation.httpx_transport import AsyncECTTransport

mcp = MCPServer("ect-middleware example tools")

# Calls to the agents in ECT_PEERS carry this hop's WIT, WPT and ECT (named after the tool).
client = httpx.AsyncClient(transport=AsyncECTTransport(), timeout=10.0)

CLASSIFICATIONS = ["public", "internal", "confidential"]
CEILING = os.environ.get("AGENT_MAX_CLASSIFICATION", "confidential")


@mcp.tool()
async def research(url: str) -> dict[str, Any]:
    """Ask another agent: GET ``url`` (a peer's endpoint) and return its answer."""
    ect = current_context()
    if ect is not None and ect.peer_for(url) is None:
        return {"status": None, "error": "not an agent this server may ask (ECT_PEERS)"}
    response = await client.get(url)
    try:
        downstream = response.json()
    except ValueError:
        downstream = None
    return {
        "status": response.status_code,
        "downstream": downstream,
        "sent": sent_task_id(response.request.headers),
    }


@mcp.tool()
async def review(classification: str, ctx: Context) -> dict[str, Any]:
    """A policy checkpoint: this server handles data up to AGENT_MAX_CLASSIFICATION."""
    ok = classification in CLASSIFICATIONS and CLASSIFICATIONS.index(
        classification
    ) <= CLASSIFICATIONS.index(CEILING)
    decision = "approved" if ok else "rejected"
    task = checkpoint(
        "data-classification", decision, classification=classification, ceiling=CEILING
    )
    # A notification on the call's SSE stream, ahead of its result.
    await ctx.report_progress(1, 1, f"data-classification {decision} for {classification}")
    return {"decision": decision, "checkpoint": task}


@mcp.tool()
async def whoami() -> dict[str, Any]:
    """The verified context of this call: who called, in which workflow, after which tasks."""
    ect = current_context()
    if ect is None:  # ECT_MODE=off
        return {}
    return {
        "caller": ect.caller,
        "wid": ect.workflow_id,
        "task": ect.task_id,
        "exec_act": ect.exec_act,
        "parents": [p.jti for p in ect.parents],
    }


app = mcp.streamable_http_app()
app.add_middleware(ECTMiddleware, jsonrpc_paths=("/mcp",))

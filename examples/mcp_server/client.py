"""An MCP client whose calls carry this workload's tokens: the SDK's streamable-HTTP client
over ``httpx2`` with ``AsyncECTTransport``, inside a workflow it starts itself.

    python client.py http://127.0.0.1:8002/mcp research http://127.0.0.1:8003/context

Configured by the same ECT_* variables as a server (ECT_AUDIENCE is not needed); the MCP
server's URL must be in ECT_PEERS.
"""

from __future__ import annotations

import asyncio
import json
import sys

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from ect_middleware import start_workflow
from ect_middleware.propagation.httpx2_transport import AsyncECTTransport


async def main(url: str, tool: str, argument: str | None) -> None:
    http = httpx2.AsyncClient(
        transport=AsyncECTTransport(), timeout=httpx2.Timeout(30.0, read=300.0)
    )
    arguments = (
        {} if argument is None else {"url" if tool == "research" else "classification": argument}
    )
    async with (
        http,
        start_workflow(f"mcp-client {tool}") as ctx,
        Client(streamable_http_client(url, http_client=http), mode="legacy") as mcp,
    ):
        tools = await mcp.list_tools()
        result = await mcp.call_tool(tool, arguments)
        print(
            json.dumps(
                {
                    "workflow": ctx.workflow_id if ctx else None,
                    "tools": [t.name for t in tools.tools],
                    "result": result.structured_content,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None))

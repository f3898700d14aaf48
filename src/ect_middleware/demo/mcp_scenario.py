"""``ect demo --mcp``: an agent calls tools on another organisation's MCP server.

An assistant in org A (ES256) is a script, not a server: it starts the workflow itself
(``start_workflow``) and talks to org B's MCP server (Ed25519; ``examples/mcp_server``
under uvicorn) with the official SDK's streamable-HTTP client, whose ``httpx2`` client
carries the assistant's tokens. It lists the tools, calls ``research``, which asks org A's
researcher (the FastAPI example) in turn, and calls ``review``, whose policy rejects
'confidential' data. Each party records in its own SQLite ledger; afterwards the ledgers
are verified and merged into the workflow's DAG, with every tool call a task of its own.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from ..audit import Workflow, build_workflows, summary
from ..config import Peer, Settings
from ..devkit import DevIdentities, create_dev_identities
from ..workflow import start_workflow
from . import EXAMPLES
from .scenario import ORG_A, ORG_B, Agent, verify_ledgers, write_views
from .servers import AgentServer, free_port

ASSISTANT = Agent("assistant", f"{ORG_A}/agent/assistant", "script", "confidential")
TOOLS = Agent("tools", f"{ORG_B}/mcp/tools", "mcp", "internal")
RESEARCHER = Agent("researcher", f"{ORG_A}/agent/researcher", "fastapi", "confidential")
SERVED = (TOOLS, RESEARCHER)
EXEC_ACT = "assistant: prepare a briefing"


@dataclass(frozen=True)
class Session:
    """What the assistant saw of its MCP session."""

    wid: str
    tools: list[str]
    research: dict[str, Any]
    review: dict[str, Any]


def run_mcp_demo(out: Path, examples: Path = EXAMPLES, say: Callable[[str], None] = print) -> int:
    if not (examples / "mcp_server" / "main.py").exists():
        raise FileNotFoundError(f"example MCP server not found in {examples} (use --examples)")
    started = time.monotonic()
    if out.exists():
        shutil.rmtree(out)
    agents = (ASSISTANT, *SERVED)
    ids = create_dev_identities(
        out / "identities", [a.workload_id for a in agents], algorithms={ORG_B: "EdDSA"}
    )
    say(f"1. Development identities for {ORG_A} (ES256) and {ORG_B} (Ed25519): {ids.folder}")
    ports = {a.name: free_port() for a in SERVED}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    ledgers = {a.name: (out / "ledgers" / f"{a.name}.db").resolve() for a in agents}
    peers = {urls[a.name]: a.workload_id for a in SERVED}
    servers = [
        AgentServer(
            agent.name,
            agent.framework,
            ports[agent.name],
            _env(ids, agent, urls[agent.name], peers, ledgers[agent.name]),
            out / "logs" / f"{agent.name}.log",
            examples,
        )
        for agent in SERVED
    ]
    try:
        for server in servers:
            server.start()
        for server in servers:
            server.wait_ready()
        say("2. Servers started on loopback (each its own process):")
        say(f"   tools      MCP server (official SDK, streamable HTTP) {urls['tools']}/mcp")
        say(f"   researcher FastAPI under uvicorn                      {urls['researcher']}")
        say("3. The assistant (a script: it starts the workflow) opens an MCP session:")
        session = asyncio.run(
            _assistant(ids, ledgers["assistant"], urls, out / "logs" / "assistant.log")
        )
        say(f"   tools/list: {', '.join(session.tools)}")
        say(
            f"   tools/call research: the tool asked the researcher, who answered"
            f" {session.research.get('status')}"
        )
        say(f"   tools/call review: {session.review.get('decision')} ('confidential' data)")
    finally:
        for server in servers:
            server.stop()
    say("4. Servers stopped, session closed. Verifying every party's ledger:")
    entries, intact = verify_ledgers(ledgers, say)
    flow = build_workflows(entries)[session.wid]
    say("5. The workflow, merged from all ledgers:")
    say("\n".join("   " + line for line in summary(flow).splitlines()))
    say("6. " + write_views(flow, out, started))
    if not (intact and _has_expected_shape(flow)):
        say("DEMO FAILED: see above")
        return 1
    return 0


def _env(
    ids: DevIdentities, agent: Agent, url: str, peers: dict[str, str], ledger: Path
) -> dict[str, str]:
    wl = ids.workloads[agent.workload_id]
    return {
        "ECT_WORKLOAD_ID": agent.workload_id,
        "ECT_KEY_FILE": str(wl.key_file.resolve()),
        "ECT_WIT_FILE": str(wl.wit_file.resolve()),
        "ECT_TRUST_BUNDLE": str(ids.trust_bundle.resolve()),
        "ECT_AUDIENCE": url,
        "ECT_PEERS": json.dumps(peers),
        "ECT_LEDGER": f"sqlite:///{ledger}",
        "AGENT_MAX_CLASSIFICATION": agent.ceiling,
    }


async def _assistant(
    ids: DevIdentities, ledger: Path, urls: dict[str, str], log_file: Path
) -> Session:
    # The SDKs are the [mcp] extra: imported only when this demo runs.
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    from ..propagation.httpx2_transport import AsyncECTTransport

    wl = ids.workloads[ASSISTANT.workload_id]
    settings = Settings(
        workload_id=ASSISTANT.workload_id,
        key_file=str(wl.key_file),
        wit_file=str(wl.wit_file),
        trust_bundle=str(ids.trust_bundle),
        peers={urls["tools"]: Peer(TOOLS.workload_id)},
        ledger=f"sqlite:///{ledger}",
    )
    endpoint = f"{urls['tools']}/mcp"
    saved = structlog.get_config()
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("w") as log:
        # The demo is an application: the assistant's log lines go to its log file.
        structlog.configure(
            processors=[
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                structlog.processors.JSONRenderer(),
            ],
            logger_factory=structlog.WriteLoggerFactory(log),
        )
        try:
            async with (
                httpx2.AsyncClient(
                    transport=AsyncECTTransport(), timeout=httpx2.Timeout(30.0, read=300.0)
                ) as http,
                start_workflow(EXEC_ACT, settings) as ctx,
                Client(streamable_http_client(endpoint, http_client=http), mode="legacy") as mcp,
            ):
                assert ctx is not None
                listed = await mcp.list_tools()
                research = await mcp.call_tool("research", {"url": f"{urls['researcher']}/context"})
                review = await mcp.call_tool("review", {"classification": "confidential"})
                wid = ctx.workflow_id
        finally:
            structlog.configure(**saved)
    return Session(
        wid,
        [t.name for t in listed.tools],
        research.structured_content or {},
        review.structured_content or {},
    )


def _has_expected_shape(flow: Workflow) -> bool:
    """The tool calls are tasks of the MCP server, the research tool's call reached the
    researcher, and the review tool's policy rejected the data."""
    tasks = flow.ordered()
    by_tools = {t.exec_act for t in tasks if t.iss == TOOLS.workload_id}
    researched = [t for t in tasks if t.iss == RESEARCHER.workload_id]
    decisions = {t.decision for t in tasks if t.policy == "data-classification"}
    root = [t for t in tasks if t.iss == ASSISTANT.workload_id and t.exec_act == EXEC_ACT]
    return (
        {"initialize", "tools/list", "tools/call research", "tools/call review"} <= by_tools
        and bool(researched)
        and decisions == {"rejected"}
        and bool(flow.fan_in())
        and bool(root)
        and not flow.unresolved
    )

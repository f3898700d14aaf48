"""``ect demo``: a cross-organisation agent workflow, verified end to end on this machine.

Four agents in two trust domains (org A signs with ES256, org B with Ed25519). A user asks
the planner (FastAPI, org A) for a job. The planner checks a data policy (approved), fans
out to a researcher (Flask, org B) and an analyst (FastAPI, org B) at once, then fans in:
it hands both results to a reviewer (Flask, org A), whose stricter policy rejects the job.
Every hop is verified (WIT + WPT + ECT) and recorded in each agent's own SQLite ledger;
afterwards the ledgers are verified and merged into the workflow's DAG.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from ..audit import Workflow, build_workflows, summary, to_html, to_mermaid
from ..devkit import create_dev_identities
from ..ledger import LedgerEntry, open_ledger, verify_chain
from . import EXAMPLES
from .servers import AgentServer, free_port

ORG_A, ORG_B = "spiffe://org-a.example", "spiffe://org-b.example"


@dataclass(frozen=True)
class Agent:
    name: str
    workload_id: str
    framework: str
    ceiling: str  # AGENT_MAX_CLASSIFICATION
    entry: bool = False


AGENTS = (
    Agent("planner", f"{ORG_A}/agent/planner", "fastapi", "confidential", entry=True),
    Agent("researcher", f"{ORG_B}/agent/researcher", "flask", "confidential"),
    Agent("analyst", f"{ORG_B}/agent/analyst", "fastapi", "confidential"),
    Agent("reviewer", f"{ORG_A}/agent/reviewer", "flask", "internal"),
)


def run_demo(out: Path, examples: Path = EXAMPLES, say: Callable[[str], None] = print) -> int:
    if not (examples / "fastapi_app" / "main.py").exists():
        raise FileNotFoundError(f"example services not found in {examples} (use --examples)")
    started = time.monotonic()
    if out.exists():
        shutil.rmtree(out)
    ids = create_dev_identities(
        out / "identities", [a.workload_id for a in AGENTS], algorithms={ORG_B: "EdDSA"}
    )
    say(f"1. Development identities for {ORG_A} (ES256) and {ORG_B} (Ed25519): {ids.folder}")

    ports = {a.name: free_port() for a in AGENTS}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    peers = json.dumps({urls[a.name]: a.workload_id for a in AGENTS})
    ledgers = {a.name: (out / "ledgers" / f"{a.name}.db").resolve() for a in AGENTS}
    servers = []
    for agent in AGENTS:
        wl = ids.workloads[agent.workload_id]
        env = {
            "ECT_WORKLOAD_ID": agent.workload_id,
            "ECT_KEY_FILE": str(wl.key_file.resolve()),
            "ECT_WIT_FILE": str(wl.wit_file.resolve()),
            "ECT_TRUST_BUNDLE": str(ids.trust_bundle.resolve()),
            "ECT_AUDIENCE": urls[agent.name],
            "ECT_PEERS": peers,
            "ECT_LEDGER": f"sqlite:///{ledgers[agent.name]}",
            "ECT_ENTRY_PATHS": "/fanout" if agent.entry else "",
            "AGENT_MAX_CLASSIFICATION": agent.ceiling,
        }
        log_file = out / "logs" / f"{agent.name}.log"
        servers.append(
            AgentServer(agent.name, agent.framework, ports[agent.name], env, log_file, examples)
        )
    try:
        for server in servers:
            server.start()
        for server in servers:
            server.wait_ready()
        say("2. Agents started on loopback (each its own process):")
        for agent, server in zip(AGENTS, servers, strict=True):
            runner = "uvicorn" if agent.framework == "fastapi" else "waitress"
            say(f"   {agent.name:<10} {agent.framework:<8} under {runner:<8} {server.url}")
        job = {
            "classification": "internal",
            "calls": [
                {"url": f"{urls['researcher']}/context"},
                {"url": f"{urls['analyst']}/context"},
            ],
            "then": {
                "url": f"{urls['reviewer']}/delegate",
                "body": {"url": f"{urls['researcher']}/context", "classification": "confidential"},
            },
        }
        say("3. The user sends a job to the planner (an entry point: no tokens needed)")
        response = httpx.post(f"{urls['planner']}/fanout", json=job, timeout=30)
        result = response.json()
        say(
            f"   planner answered {response.status_code}; fan-out: "
            + ", ".join(str(r["status"]) for r in result["results"])
            + f"; reviewer: {result['then']['status']} (its policy rejected 'confidential')"
        )
    finally:
        for server in servers:
            server.stop()
    say("4. Agents stopped. Verifying every agent's ledger:")
    entries, intact = verify_ledgers(ledgers, say)
    flows = build_workflows(entries)
    flow = max(flows.values(), key=lambda f: len(f.tasks))
    say("5. The workflow, merged from all ledgers:")
    say("\n".join("   " + line for line in summary(flow).splitlines()))
    complete = _has_expected_shape(flow)
    say("6. " + write_views(flow, out, started))
    if not (intact and complete and response.status_code == 200):
        say("DEMO FAILED: see above")
        return 1
    return 0


def verify_ledgers(
    ledgers: Mapping[str, Path], say: Callable[[str], None]
) -> tuple[list[LedgerEntry], bool]:
    """Walk each agent's hash chain, saying how it stands; all entries, and whether every
    chain is intact."""
    entries: list[LedgerEntry] = []
    intact = True
    for name, path in ledgers.items():
        ledger = open_ledger(f"sqlite:///{path}")
        try:
            agent_entries = list(ledger.entries())
            report = verify_chain(agent_entries, ledger.head())
        finally:
            ledger.close()
        intact &= report.ok
        state = "intact" if report.ok else f"BROKEN at {report.broken_seq}: {report.reason}"
        say(f"   {name:<10} {report.entries:>3} entries, chain {state}")
        entries.extend(agent_entries)
    return entries, intact


def write_views(flow: Workflow, out: Path, started: float) -> str:
    """Write the workflow's Mermaid picture and HTML view; the lines that name the files."""
    picture = out / "workflow.mmd"
    picture.write_text(to_mermaid(flow))
    page = out / "workflow.html"
    page.write_text(to_html(flow), encoding="utf-8")
    return "\n".join(
        [
            f"Files: ledgers in {out / 'ledgers'}, logs in {out / 'logs'}",
            f"   DAG picture (Mermaid): {picture}",
            f"   DAG view (HTML, opens offline; click a task for its claims): {page}",
            f"   done in {time.monotonic() - started:.1f} s",
        ]
    )


def _has_expected_shape(flow: Workflow) -> bool:
    decisions = {t.decision for t in flow.tasks.values() if t.policy == "data-classification"}
    return bool(flow.fan_in()) and bool(flow.fan_out()) and {"approved", "rejected"} <= decisions

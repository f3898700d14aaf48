"""Workflows with real tokens for the audit tests, and the ``ect`` command line.

``run_agents`` runs two real example services (FastAPI under uvicorn, Flask under
waitress) on loopback with SQLite ledgers: a fan-out, a fan-in, one approved and one
rejected policy checkpoint, and ledgers that each hold only their own view (so some parents
are unresolved in one ledger and recorded in the other). ``synthetic`` builds larger
workflows whose ECTs are minted and signed by the test mesh's real workload keys.
"""

from __future__ import annotations

import base64
import json
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ect_middleware.ledger import LedgerEntry, NewEntry
from ect_middleware.ledger.memory import MemoryLedger

from ..support.examples import example_env, load_example
from ..support.ledger import recorded
from ..support.mesh import Mesh
from ..support.servers import free_port, uvicorn_server, waitress_server


@dataclass(frozen=True)
class Agents:
    """What ``run_agents`` left behind: one SQLite ledger per agent, and the workflow."""

    ledgers: dict[str, str]  # agent name -> ledger URL
    wid: str
    trust_bundle: Path

    def entries(self, *names: str) -> list[LedgerEntry]:
        found: list[LedgerEntry] = []
        for name in names or tuple(self.ledgers):
            found += [e for e in recorded(self.ledgers[name]) if e.wid == self.wid]
        return found


def run_agents(mesh: Mesh, folder: Path) -> Agents:
    """Agent a (FastAPI, entry point) fans out to b (Flask) twice, then delegates to b,
    whose policy rejects 'confidential'; a's own checkpoint approves 'internal'."""
    port_a, port_b = free_port(), free_port()
    url_a, url_b = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"
    ledgers = {"a": f"sqlite:///{folder / 'a.db'}", "b": f"sqlite:///{folder / 'b.db'}"}
    app_a = load_example(
        "fastapi",
        example_env(mesh, "a", url_a, {url_b: "b"}, ledgers["a"], ECT_ENTRY_PATHS="/fanout"),
    )
    app_b = load_example(
        "flask",
        example_env(
            mesh, "b", url_b, {url_a: "a"}, ledgers["b"], AGENT_MAX_CLASSIFICATION="internal"
        ),
    )
    job = {
        "classification": "internal",
        "calls": [{"url": f"{url_b}/context"}, {"url": f"{url_b}/context"}],
        "then": {
            "url": f"{url_b}/delegate",
            "body": {"url": f"{url_a}/context", "classification": "confidential"},
        },
    }
    with uvicorn_server(app_a, port_a), waitress_server(app_b, port_b):
        response = httpx.post(f"{url_a}/fanout", json=job, timeout=30)
    assert response.status_code == 200, response.text
    result = response.json()
    assert [r["status"] for r in result["results"]] == [200, 200]
    assert result["then"]["status"] == 403  # b's policy rejected it
    wid = result["results"][0]["downstream"]["wid"]
    return Agents(ledgers, wid, mesh.trust_bundle)


def synthetic(
    mesh: Mesh, count: int, *, seed: int = 7, wid: str | None = None
) -> list[LedgerEntry]:
    """``count`` tasks of one workflow, signed by the mesh's workloads: waves of fan-out
    and fan-in, policy decisions both ways, and a few parents no ledger recorded."""
    rng = random.Random(seed)
    wid = wid or str(uuid.UUID(int=rng.getrandbits(128), version=4))
    issuers = ("a", "b", "c")
    made: list[NewEntry] = []
    for index in range(count):
        recent = [e.jti for e in made[-12:]]
        par = rng.sample(recent, k=min(len(recent), rng.choice((1, 1, 1, 2, 3))))
        unresolved = [str(uuid.uuid4())] if index and rng.random() < 0.02 else []
        extra: dict[str, Any] = {}
        if rng.random() < 0.2:
            from ect_middleware.tokens.ect import Policy

            decision = "approved" if rng.random() < 0.7 else "rejected"
            extra["policy"] = Policy("spend-limit", decision)
        issuer = rng.choice(issuers)
        claims = mesh.ect(
            issuer,
            mesh[rng.choice(issuers)].id,
            par=[*par, *unresolved],
            wid=wid,
            exec_act=f"step-{index}",
            **extra,
        )
        made.append(
            NewEntry.from_claims(
                claims,
                wit=mesh[issuer].wit,
                direction="minted",
                recorder=mesh[issuer].id,
                unresolved=unresolved,
            )
        )
    return MemoryLedger().append(made)


def retoken(token: str, **changes: Any) -> str:
    """``token`` with claims changed and the original signature kept (a forgery)."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    encoded = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"{header}.{encoded}.{signature}"


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    value: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return value


def write_lines(path: Path, lines: Sequence[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path

"""Two agents, the example FastAPI app under uvicorn and the example Flask app under
waitress, sharing one PostgreSQL ledger with ``ECT_DAG_MODE=strict``: each one resolves
parents the other recorded, a task minted by one and received by the other is not a
replay, and a parent nobody recorded is still refused."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask

from ect_middleware.ledger import ChainReport, LedgerEntry, open_ledger, verify_chain
from ect_middleware.runtime import Runtime

from ..support.cli import ect_cli
from ..support.examples import example_env, load_example
from ..support.mesh import Mesh
from ..support.servers import free_port, uvicorn_server, waitress_server
from ..support.services import POSTGRES, drop_schema, new_schema_name, with_options


@dataclass(frozen=True)
class Agents:
    a: str  # FastAPI example, workload a
    b: str  # Flask example, workload b


def runtime_of(app: Any) -> Runtime:
    """The runtime inside the ECT middleware of an example app, to close its ledger."""
    node = app.wsgi_app if isinstance(app, Flask) else app.middleware_stack
    while not hasattr(node, "runtime"):
        node = node.app
    runtime = node.runtime
    assert isinstance(runtime, Runtime)
    return runtime


@contextmanager
def agents(mesh: Mesh, ledger_a: str, ledger_b: str) -> Iterator[Agents]:
    port_a, port_b = free_port(), free_port()
    url_a, url_b = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"
    strict = {"ECT_DAG_MODE": "strict"}
    app_a = load_example(
        "fastapi",
        example_env(
            mesh, "a", url_a, {url_b: "b"}, ledger_a, ECT_ENTRY_PATHS="/delegate", **strict
        ),
    )
    app_b = load_example("flask", example_env(mesh, "b", url_b, {url_a: "a"}, ledger_b, **strict))
    with ExitStack() as stack:
        for app in (app_a, app_b):
            stack.callback(runtime_of(app).close)
        stack.enter_context(uvicorn_server(app_a, port_a))
        stack.enter_context(waitress_server(app_b, port_b))
        yield Agents(url_a, url_b)


def entries(url: str) -> list[LedgerEntry]:
    ledger = open_ledger(url, create=False)
    try:
        found = list(ledger.entries())
        assert verify_chain(found, ledger.head()) == ChainReport(True, len(found))
        return found
    finally:
        ledger.close()


def call(mesh: Mesh, caller: str, base: str, ects: list[str]) -> httpx.Response:
    return httpx.get(f"{base}/context", headers=mesh.headers(caller, f"{base}/context", ects))


def test_a_delegation_round_trip_in_strict_mode(mesh: Mesh, pg_url: str, tmp_path: Path) -> None:
    with agents(mesh, pg_url, pg_url) as at:
        job = {"url": f"{at.b}/delegate", "body": {"url": f"{at.a}/context"}}
        response = httpx.post(f"{at.a}/delegate", json=job, timeout=10)
    assert response.status_code == 200, response.text
    outer = response.json()
    e1, e2 = outer["sent"], outer["downstream"]["sent"]  # A -> B, then B -> A
    assert outer["downstream"]["downstream"]["parents"] == [e2]

    recorded = entries(pg_url)
    by_jti: dict[str, list[tuple[str, str]]] = {}
    for e in recorded:
        by_jti.setdefault(e.jti, []).append((e.direction, e.recorder))
    # Minted by A, then received by B: one task, two records, and not a replay.
    assert by_jti[e1] == [("minted", mesh["a"].id), ("received", mesh["b"].id)]
    assert by_jti[e2] == [("minted", mesh["b"].id), ("received", mesh["a"].id)]
    assert all(e.unresolved == () for e in recorded)  # strict: every parent was known
    # Each completion that came back was received (fan-in) by the caller, too.
    received = {e.recorder for e in recorded if e.direction == "received"}
    assert received == {mesh["a"].id, mesh["b"].id}
    done = ect_cli("ledger", "verify", "--ledger", pg_url)
    assert done.returncode == 0
    assert done.stdout.startswith(f"ledger intact: {len(recorded)} entries\nhead: entry ")

    # The audit tools read the shared ledger through the same protocol: one ledger now
    # holds the whole workflow, both services' records of it.
    wid = outer["downstream"]["downstream"]["wid"]
    graph = ect_cli("ledger", "graph", "--ledger", pg_url, "--wid", wid, "--format", "mermaid")
    assert graph.returncode == 0, graph.stderr
    assert graph.stdout.startswith("flowchart")
    bundle = tmp_path / "workflow.jsonl"
    export = ect_cli("ledger", "export", "--ledger", pg_url, "--wid", wid, "--out", str(bundle))
    assert export.returncode == 0, export.stderr
    offline = ect_cli("ledger", "verify", "--bundle", str(bundle), "--trust-bundle",
                      str(mesh.trust_bundle))  # fmt: skip
    assert offline.returncode == 0, offline.stdout + offline.stderr


@pytest.fixture
def other_schema() -> Iterator[str]:
    name = new_schema_name()
    yield name
    drop_schema(name)


@pytest.mark.parametrize("shared", [True, False])
def test_a_parent_recorded_by_the_other_service(
    mesh: Mesh, pg_url: str, other_schema: str, shared: bool
) -> None:
    """C sends task P to B, then task X (child of P) to A. Only B recorded P: with a
    shared ledger A finds it; with a ledger of its own, strict A must refuse X."""
    ledger_a = pg_url if shared else with_options(POSTGRES, schema=other_schema)
    with agents(mesh, ledger_a, pg_url) as at:
        p = mesh.ect("c", mesh["b"].id)
        assert call(mesh, "c", at.b, [p.token]).status_code == 200
        x = mesh.ect("c", mesh["a"].id, par=[p.jti], wid=p.wid)
        response = call(mesh, "c", at.a, [x.token])
    if shared:
        assert response.status_code == 200, response.text
        assert response.json()["parents"] == [x.jti]
        (record,) = [e for e in entries(pg_url) if e.jti == x.jti]
        assert (record.direction, record.recorder, record.unresolved) == (
            "received",
            mesh["a"].id,
            (),
        )
    else:
        assert response.status_code == 400
        assert response.json()["code"] == "dag.parent_unknown"


def test_an_unknown_parent_is_refused_by_both(mesh: Mesh, pg_url: str) -> None:
    with agents(mesh, pg_url, pg_url) as at:
        for base, name in ((at.a, "a"), (at.b, "b")):
            orphan = mesh.ect("c", mesh[name].id, par=["6f1f6c1e-0000-4000-8000-000000000001"])
            response = call(mesh, "c", base, [orphan.token])
            assert response.status_code == 400
            assert response.json()["code"] == "dag.parent_unknown"
    assert not any(e.jti == orphan.jti for e in entries(pg_url))

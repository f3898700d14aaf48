"""Agents on the real MCP and A2A SDKs, served on loopback, and the ledgers they leave."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from ect_middleware import Settings
from ect_middleware.audit import Workflow, build_workflows
from ect_middleware.audit.workflow import Task
from ect_middleware.ledger import LedgerEntry, open_ledger

from ..support.cli import ect_cli
from ..support.mesh import Mesh


def client_settings(mesh: Mesh, name: str, peers: Mapping[str, str], ledger: str) -> Settings:
    """A workload that only calls peers: no audience, as ``start_workflow`` allows."""
    wl = mesh[name]
    return Settings(
        workload_id=wl.id,
        key_file=str(wl.key_file),
        wit_file=str(wl.wit_file),
        trust_bundle=str(mesh.trust_bundle),
        peers={url: mesh[p].id for url, p in peers.items()},
        ledger=ledger,
    )


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def entries(*ledgers: Path) -> list[LedgerEntry]:
    found: list[LedgerEntry] = []
    for path in ledgers:
        ledger = open_ledger(sqlite_url(path), create=False)
        try:
            found.extend(ledger.entries())
        finally:
            ledger.close()
    return found


def workflow(wid: str, *ledgers: Path) -> Workflow:
    return build_workflows(entries(*ledgers))[wid]


def verify_with_cli(*ledgers: Path) -> None:
    """``ect ledger verify`` on each ledger, as an auditor runs it."""
    for path in ledgers:
        done = ect_cli("ledger", "verify", "--ledger", sqlite_url(path))
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.startswith("ledger intact"), done.stdout


def named(flow: Workflow, exec_act: str) -> list[Task]:
    return [t for t in flow.ordered() if t.exec_act == exec_act]


def by_issuer(tasks: Iterable[Task], iss: str) -> list[Task]:
    return [t for t in tasks if t.iss == iss]

"""Load: a real ``uvicorn --workers 2`` (service b) sharing one SQLite ledger, eight
concurrent clients (two processes of four threads), every request fully verified (WIT,
fresh WPT, fresh ECT) and making the service mint and send an outbound ECT.

Size: ``ECT_LOAD_REQUESTS`` (default 3,200 for CI, about a minute on 2 cores; the full
run is 20,000, see docs/SECURITY.md). Zero errors, exactly three ledger entries per request
(the ECT received, the outbound ECT, the completion), the chain intact.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from ect_middleware.devkit import create_dev_identities

from ._figures import FIGURES
from ._load import (
    A,
    B,
    C,
    Server,
    ledger_entries,
    running,
    server_logs_are_clean,
    sink,
    start_clients,
)

REQUESTS = int(os.environ.get("ECT_LOAD_REQUESTS", "3200"))


def test_two_workers_eight_clients_share_one_ledger(tmp_path: Path) -> None:
    ids = create_dev_identities(
        tmp_path / "ids", [A, B, C], algorithms={"spiffe://org-b.example": "EdDSA"}
    )
    ledger = tmp_path / "ledger.db"
    with sink() as peer, running(Server(ids, ledger, tmp_path, peer)) as server:
        started = time.monotonic()
        clients = start_clients(ids, server, tmp_path, total=REQUESTS)
        try:
            clients.wait(timeout=900)
        finally:
            clients.terminate()
        elapsed = time.monotonic() - started
    records = clients.records()

    failures = [r for r in records if r["status"] != 200]
    assert not failures, failures[:5]
    assert len(records) == REQUESTS
    assert all(r["sink"] == 200 and len(r["minted"]) == 1 for r in records)
    assert len({r["pid"] for r in records}) == 2, "both workers served requests"

    entries = ledger_entries(ledger)  # the chain verifies
    assert len(entries) == 3 * REQUESTS
    received = {e.jti: e for e in entries if e.direction == "received"}
    minted = {e.jti for e in entries if e.direction == "minted"}
    assert {r["sent"] for r in records} == set(received)
    assert {r["completion"] for r in records} | {r["minted"][0] for r in records} == minted
    # A parent minted by one worker is resolved by the other: nothing is left unresolved.
    chained = [e for e in received.values() if e.par]
    assert chained
    assert all(e.unresolved == () for e in chained)
    assert server_logs_are_clean(tmp_path) >= len(records)  # logged, never a token
    FIGURES["load requests"] += len(records)
    FIGURES["load ledger entries"] += len(entries)
    FIGURES["load requests/s"] = round(len(records) / elapsed)

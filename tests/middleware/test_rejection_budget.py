"""Nobody can grow the ledger at will with rejected requests: beyond a burst, rejections
are recorded at a bounded rate, and the ones not recorded on their own are counted into
the next record (or a record of their own when the service closes); none goes unaccounted
for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from ect_middleware import ECTWSGIMiddleware
from ect_middleware.ledger import open_ledger, verify_chain
from ect_middleware.limits import Limits
from ect_middleware.runtime import Runtime
from ect_middleware.tokens.jws import read_payload

from ..support.clock import NOW, MovableClock
from ..support.mesh import Mesh


def _app(environ: Any, start_response: Any) -> list[bytes]:
    start_response("200 OK", [("content-type", "text/plain")])
    return [b"ok"]


def test_rejections_beyond_the_budget_are_counted_not_each_recorded(
    mesh: Mesh, tmp_path: Path
) -> None:
    clock, ledger_url = MovableClock(NOW), f"sqlite:///{tmp_path / 'b.db'}"
    limits = Limits(rejections_recorded_burst=5, rejections_recorded_per_second=1.0)
    runtime = Runtime(
        mesh.settings("b", "http://testserver", ledger=ledger_url, clock=clock, limits=limits)
    )
    app = ECTWSGIMiddleware(_app, runtime=runtime)
    with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://testserver") as c:
        flood = [c.get("/x") for _ in range(100)]
        flood += [c.get("/x", headers={"Workload-Identity-Token": "x"}) for _ in range(10)]
        assert all(r.status_code == 400 for r in flood)  # every request still refused
        assert {r.json()["code"] for r in flood} == {"wit.missing", "wpt.missing"}
        clock.now += 1.0  # the bucket holds one more record
        after = c.get("/x")
        assert after.status_code == 400
        for _ in range(3):
            c.get("/x")
    runtime.close()

    ledger = open_ledger(ledger_url)
    try:
        entries = list(ledger.entries())
        assert verify_chain(entries, ledger.head()).ok
    finally:
        ledger.close()
    records = [read_payload(e.ect) or {} for e in entries]
    assert all(e.direction == "minted" for e in entries)
    assert len(records) == 5 + 1 + 1  # the burst, the refill, the summary at close
    assert [r["ext"] for r in records[:5]] == [{"http_status": 400, "code": "wit.missing"}] * 5
    assert records[5]["ext"] == {
        "http_status": 400,
        "code": "wit.missing",
        "unrecorded_rejections": {"wit.missing": 95, "wpt.missing": 10},
    }
    assert records[6]["ext"] == {"unrecorded_rejections": {"wit.missing": 3}}
    assert all(r["pol_decision"] == "rejected" for r in records)
    # Every one of the 114 rejections is accounted for: 6 on their own, 108 counted.
    counted = sum(n for r in records for n in r["ext"].get("unrecorded_rejections", {}).values())
    assert 6 + counted == 114

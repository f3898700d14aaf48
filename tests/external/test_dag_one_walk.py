"""One ancestor walk per request, on every ledger engine: 32 ECTs that each name two
parents at the tip of a deep chain make the ledger walk the chain once, not once per ECT
(SQLite and PostgreSQL: one recursive query; memory: each ancestor looked up once)."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ect_middleware.ledger import Ledger, NewEntry
from ect_middleware.ledger.memory import MemoryLedger
from ect_middleware.ledger.postgres import PostgresLedger
from ect_middleware.ledger.sqlite import SQLiteLedger
from ect_middleware.limits import Limits
from ect_middleware.tokens.ect import ECTClaims
from ect_middleware.verification.dag import check_dag
from ect_middleware.verification.store import LedgerTaskStore

from ..support.clock import NOW, fixed_clock
from ..support.services import POSTGRES

ME = "spiffe://org-b.example/agent/me"
CALLER = "spiffe://org-a.example/agent/caller"
DEPTH = 400


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path, schema: str) -> Iterator[Ledger]:
    made: Ledger
    if request.param == "memory":
        made = MemoryLedger(clock=fixed_clock)
    elif request.param == "sqlite":
        made = SQLiteLedger(tmp_path / "ledger.db", clock=fixed_clock)
    else:
        made = PostgresLedger(POSTGRES, schema=schema, clock=fixed_clock)
    yield made
    made.close()


def _counted(ledger: Any, name: str, calls: Counter[str]) -> None:
    method: Callable[..., Any] | None = getattr(ledger, name, None)
    if method is None:
        return

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls[name] += 1
        return method(*args, **kwargs)

    setattr(ledger, name, counting)


def _claims(jti: str, wid: str, par: tuple[str, ...]) -> ECTClaims:
    return ECTClaims("x", CALLER, (ME,), NOW, NOW + 300, jti, "t", par, wid)


def test_32_ects_with_two_parents_each_walk_the_chain_once(ledger: Ledger) -> None:
    wid = str(uuid.uuid4())
    chain = [str(uuid.uuid4()) for _ in range(DEPTH)]
    ledger.append(
        [
            NewEntry(
                "x.y.z", None, "received", ME, j, wid, CALLER, NOW - 60, tuple(chain[i - 1 : i])
            )
            for i, j in enumerate(chain)
        ]
    )
    ects = [_claims(str(uuid.uuid4()), wid, (chain[-1], chain[-2 - n])) for n in range(32)]
    calls: Counter[str] = Counter()
    _counted(ledger, "find", calls)
    _counted(ledger, "ancestors", calls)
    _counted(ledger, "recorded_by", calls)
    store = LedgerTaskStore(ledger, ME)
    assert check_dag(ects, store, Limits(), "strict") == {e.jti: () for e in ects}
    uniqueness = len(ects)  # one indexed lookup per ECT: was its jti recorded already?
    assert calls["recorded_by"] == uniqueness
    # an engine without a recorded_by of its own answers it with one find
    by_find = uniqueness if type(ledger).recorded_by is Ledger.recorded_by else 0
    if isinstance(ledger, MemoryLedger):
        assert calls["find"] == by_find + DEPTH  # each ancestor once
    else:
        assert calls["ancestors"] == 1
        assert calls["find"] == by_find  # and not one per ancestor

"""Properties over any sequence of appends, and over any single altered field."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ect_middleware.ledger import ChainReport, Ledger, LedgerEntry, NewEntry, verify_chain
from ect_middleware.ledger.base import GENESIS_HASH
from ect_middleware.ledger.memory import MemoryLedger
from ect_middleware.ledger.sqlite import SQLiteLedger

from ..support.clock import fixed_clock
from ..support.ledger import POOL_SIZE, pool


def open_engine(engine: str, factory: pytest.TempPathFactory) -> Ledger:
    if engine == "memory":
        return MemoryLedger(clock=fixed_clock)
    return SQLiteLedger(factory.mktemp("prop") / "ledger.db", clock=fixed_clock)


@settings(max_examples=60, deadline=None)
@given(
    engine=st.sampled_from(["memory", "sqlite"]),
    batches=st.lists(st.integers(min_value=0, max_value=9), max_size=14),
)
def test_any_sequence_of_appends_verifies_and_reads_back_in_order(
    engine: str, batches: list[int], tmp_path_factory: pytest.TempPathFactory
) -> None:
    ledger = open_engine(engine, tmp_path_factory)
    appended: list[NewEntry] = []
    returned: list[LedgerEntry] = []
    for size in batches:
        batch = [pool()[(len(appended) + i) % len(pool())] for i in range(size)]
        returned += ledger.append(batch)
        appended += batch
    stored = list(ledger.entries())
    head = ledger.head()
    ledger.close()

    assert stored == returned
    assert [e.seq for e in stored] == list(range(1, len(appended) + 1))
    fields = NewEntry.__dataclass_fields__
    assert [[getattr(e, f) for f in fields] for e in stored] == [
        [getattr(e, f) for f in fields] for e in appended
    ]
    assert head == ((len(stored), stored[-1].hash) if stored else (0, GENESIS_HASH))
    assert verify_chain(stored, head) == ChainReport(True, len(appended))


ALTERATIONS: dict[str, Callable[[LedgerEntry], Any]] = {
    "ect": lambda e: e.ect[:-2] + ("AA" if not e.ect.endswith("AA") else "BB"),
    "wit": lambda e: None,
    "direction": lambda e: "received" if e.direction == "minted" else "minted",
    "recorder": lambda e: e.recorder + "x",
    "jti": lambda e: e.jti[:-1] + ("0" if e.jti[-1] != "0" else "1"),
    "wid": lambda e: None,
    "iss": lambda e: "spiffe://org-z.example/agent/mallory",
    "iat": lambda e: e.iat + 1,
    "par": lambda e: (*e.par, e.jti),
    "unresolved": lambda e: (*e.unresolved, "00000000-0000-4000-8000-000000000000"),
    "recorded_us": lambda e: e.recorded_us - 1,
    "prev_hash": lambda e: "f" * 64,
    "hash": lambda e: "e" * 64,
}


@settings(max_examples=120, deadline=None)
@given(
    index=st.integers(min_value=0, max_value=POOL_SIZE - 1),
    field=st.sampled_from(sorted(ALTERATIONS)),
)
def test_altering_any_field_of_any_entry_breaks_the_chain_there(index: int, field: str) -> None:
    ledger = MemoryLedger(clock=fixed_clock)
    stored = ledger.append(pool())
    altered = dataclasses.replace(stored[index], **{field: ALTERATIONS[field](stored[index])})
    assert altered != stored[index]
    walk = [*stored[:index], altered, *stored[index + 1 :]]
    report = verify_chain(walk, ledger.head())
    assert (report.ok, report.broken_seq) == (False, index + 1)

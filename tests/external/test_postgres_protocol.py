"""The protocol tests every engine passes (``tests/ledger/test_engines.py``), run unchanged
against the PostgreSQL engine, plus the any-sequence-of-appends property."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ect_middleware.ledger import ChainReport, Ledger, LedgerEntry, NewEntry, verify_chain
from ect_middleware.ledger.base import GENESIS_HASH
from ect_middleware.ledger.postgres import PostgresLedger

from ..ledger import test_engines
from ..support.clock import fixed_clock
from ..support.ledger import pool
from ..support.services import POSTGRES, drop_schema, new_schema_name

# Collect the shared protocol tests in this module too, where `ledger` is PostgreSQL.
for _name in dir(test_engines):
    if _name.startswith("test_"):
        globals()[_name] = getattr(test_engines, _name)


@pytest.fixture
def ledger(pg_ledger: PostgresLedger) -> Ledger:
    return pg_ledger


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=st.lists(st.integers(min_value=0, max_value=9), max_size=10))
def test_any_sequence_of_appends_verifies_and_reads_back_in_order(batches: list[int]) -> None:
    schema = new_schema_name()
    ledger = PostgresLedger(POSTGRES, schema=schema, clock=fixed_clock)
    try:
        appended: list[NewEntry] = []
        returned: list[LedgerEntry] = []
        for size in batches:
            batch = [pool()[(len(appended) + i) % len(pool())] for i in range(size)]
            returned += ledger.append(batch)
            appended += batch
        stored = list(ledger.entries())
        head = ledger.head()
    finally:
        ledger.close()
        drop_schema(schema)
    assert stored == returned
    fields = NewEntry.__dataclass_fields__
    assert [[getattr(e, f) for f in fields] for e in stored] == [
        [getattr(e, f) for f in fields] for e in appended
    ]
    assert head == ((len(stored), stored[-1].hash) if stored else (0, GENESIS_HASH))
    assert verify_chain(stored, head) == ChainReport(True, len(appended))

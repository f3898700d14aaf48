"""Trace ids on ledger entries: stored and read back by every engine, covered by the hash
when present, absent from the hash when not (so chains recorded before still verify), and
an older SQLite ledger gains the column when opened."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3
from pathlib import Path

from ect_middleware.ledger import Ledger, LedgerEntry, verify_chain
from ect_middleware.ledger.base import entry_hash
from ect_middleware.ledger.sqlite import SQLiteLedger

from ..support.clock import fixed_clock
from ..support.ledger import chain

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def with_trace(entries: list, trace_id: str | None) -> list:
    return [dataclasses.replace(e, trace_id=trace_id) for e in entries]


def hash_without_the_field(entry: LedgerEntry) -> str:
    """The entry hash as defined before trace ids existed (the canonical list of fields)."""
    fields = [
        entry.seq,
        entry.prev_hash,
        entry.recorded_us,
        entry.ect,
        entry.wit,
        entry.direction,
        entry.recorder,
        entry.jti,
        entry.wid,
        entry.iss,
        float(entry.iat),
        list(entry.par),
        list(entry.unresolved),
    ]
    canonical = json.dumps(fields, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def test_trace_ids_round_trip_and_are_covered_by_the_hash(ledger: Ledger) -> None:
    entries = with_trace(chain(2), TRACE) + chain(1)
    recorded = ledger.append(entries)
    assert [e.trace_id for e in ledger.entries()] == [TRACE, TRACE, None]
    assert ledger.find(entries[0].jti)[0].trace_id == TRACE
    assert verify_chain(ledger.entries(), ledger.head()).ok
    # Without a trace id, the hash is the one entries always had.
    assert recorded[2].hash == hash_without_the_field(recorded[2])
    assert recorded[0].hash != hash_without_the_field(recorded[0])
    # Changing, adding or removing a trace id breaks the chain at that entry.
    for index, changed in ((0, "0" * 32), (0, None), (2, TRACE)):
        edited = list(recorded)
        edited[index] = dataclasses.replace(edited[index], trace_id=changed)
        report = verify_chain(edited, ledger.head())
        assert not report.ok
        assert report.broken_seq == index + 1


def test_an_older_sqlite_ledger_gains_the_column_and_still_verifies(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = SQLiteLedger(path, clock=fixed_clock)
    before = old.append(chain(3))
    old.close()
    with sqlite3.connect(path) as db:  # the version 1 layout: no trace_id column
        db.execute("ALTER TABLE entries DROP COLUMN trace_id")
        db.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    db.close()

    reopened = SQLiteLedger(path, clock=fixed_clock, create=False)
    assert list(reopened.entries()) == before
    after = reopened.append(with_trace(chain(1), TRACE))
    assert verify_chain(reopened.entries(), reopened.head()).ok
    assert after[0].trace_id == TRACE
    assert after[0].hash == entry_hash(
        after[0], seq=4, recorded_us=after[0].recorded_us, prev_hash=before[-1].hash
    )
    reopened.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM meta").fetchone() == ("2",)
    db.close()


def test_a_copied_ledger_keeps_its_trace_ids(tmp_path: Path) -> None:
    from ect_middleware.ledger.copy import copy_ledger

    source = SQLiteLedger(tmp_path / "a.db", clock=fixed_clock)
    recorded = source.append(with_trace(chain(2), TRACE) + chain(1))
    destination = SQLiteLedger(tmp_path / "b.db", clock=fixed_clock)
    assert copy_ledger(source, destination).ok
    assert list(destination.entries()) == recorded
    source.close()
    destination.close()

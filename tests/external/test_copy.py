"""``ect ledger copy SRC DST``: SQLite into PostgreSQL and back, entries verbatim, verified on
both sides; a non-empty destination and a broken source are refused."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from ect_middleware.errors import LedgerError
from ect_middleware.ledger import ChainReport, LedgerEntry, open_ledger, verify_chain
from ect_middleware.ledger.base import GENESIS_HASH
from ect_middleware.ledger.copy import copy_ledger
from ect_middleware.ledger.memory import MemoryLedger
from ect_middleware.ledger.postgres import PostgresLedger
from ect_middleware.ledger.sqlite import SQLiteLedger

from ..support.cli import ect_cli
from ..support.clock import fixed_clock
from ..support.ledger import chain, workflow


def entries_of(url: str) -> list[LedgerEntry]:
    ledger = open_ledger(url, create=False)
    try:
        return list(ledger.entries())
    finally:
        ledger.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite ledger of 1,212 entries: a DAG workflow and pages' worth of chains."""
    ledger = SQLiteLedger(tmp_path / "source.db", clock=fixed_clock)
    ledger.append(workflow(12, seed=5))
    steps = chain(10)
    for _ in range(120):
        ledger.append(steps)
    ledger.close()
    return f"sqlite:///{tmp_path / 'source.db'}"


def test_sqlite_into_postgresql_and_back(sqlite_url: str, pg_url: str, tmp_path: Path) -> None:
    began = time.perf_counter()
    done = ect_cli("ledger", "copy", sqlite_url, pg_url)
    print(f"\ncopy of 1,212 entries, SQLite -> PostgreSQL: {time.perf_counter() - began:.2f} s")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == (
        "source intact: 1212 entries\n"
        "copied 1212 entries\n"
        "destination intact: 1212 entries, same chain head as the source\n"
    )
    original = entries_of(sqlite_url)
    assert entries_of(pg_url) == original  # every field: seq, times, hashes, parents
    assert ect_cli("ledger", "verify", "--ledger", pg_url).stdout.startswith(
        "ledger intact: 1212 entries\nhead: entry 1212 hash "
    )

    # The copy is a live ledger: appending continues its chain.
    ledger = open_ledger(pg_url)
    assert [e.seq for e in ledger.append(chain(2))] == [1213, 1214]
    assert verify_chain(ledger.entries(), ledger.head()) == ChainReport(True, 1214)
    ledger.close()

    # And out again, for an auditor's laptop.
    back = f"sqlite:///{tmp_path / 'audit.db'}"
    out = ect_cli("ledger", "copy", pg_url, back)
    assert out.returncode == 0, out.stdout + out.stderr
    assert entries_of(back)[:1212] == original
    assert len(entries_of(back)) == 1214


def test_a_non_empty_destination_is_refused(sqlite_url: str, pg_url: str) -> None:
    assert ect_cli("ledger", "copy", sqlite_url, pg_url).returncode == 0
    again = ect_cli("ledger", "copy", sqlite_url, pg_url)
    assert (again.returncode, again.stdout) == (2, "")
    assert again.stderr == (
        "ect ledger: error: the destination ledger is not empty (1212 entries)\n"
    )
    other = open_ledger(pg_url)
    other.append(chain(1))
    other.close()
    assert len(entries_of(pg_url)) == 1213  # untouched by the refused copy


def test_a_broken_source_copies_nothing(sqlite_url: str, pg_url: str) -> None:
    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as db:
        db.execute("UPDATE entries SET iss = 'spiffe://org-z.example/agent/z' WHERE seq = 600")
    done = ect_cli("ledger", "copy", sqlite_url, pg_url)
    assert (done.returncode, done.stderr) == (1, "")
    assert done.stdout == (
        "source ledger BROKEN at entry 600: content does not match its hash; nothing copied\n"
    )
    assert entries_of(pg_url) == []


def test_a_missing_source_is_an_error_and_creates_nothing(tmp_path: Path, schema: str) -> None:
    missing = tmp_path / "typo.db"
    destination = tmp_path / "new.db"
    done = ect_cli("ledger", "copy", f"sqlite:///{missing}", f"sqlite:///{destination}")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"ect ledger: error: no ledger file at {missing}\n"
    assert not missing.exists()
    assert not destination.exists()


def test_copying_an_empty_ledger(tmp_path: Path, pg_url: str) -> None:
    SQLiteLedger(tmp_path / "empty.db").close()
    done = ect_cli("ledger", "copy", f"sqlite:///{tmp_path / 'empty.db'}", pg_url)
    assert done.returncode == 0
    assert done.stdout.splitlines()[1] == "copied 0 entries"
    assert entries_of(pg_url) == []


def test_only_engines_that_can_import_verbatim_are_destinations(
    pg_ledger: PostgresLedger,
) -> None:
    pg_ledger.append(chain(2))
    with pytest.raises(LedgerError, match="cannot import entries verbatim"):
        copy_ledger(pg_ledger, MemoryLedger())


def test_sqlite_imports_are_all_or_nothing_and_must_link(tmp_path: Path) -> None:
    source = MemoryLedger(clock=fixed_clock)
    recorded = source.append(chain(6))
    destination = SQLiteLedger(tmp_path / "d.db")

    def failing() -> object:
        yield from recorded[:3]
        raise RuntimeError("the source went away")

    with pytest.raises(RuntimeError):
        destination.import_chain(failing())  # type: ignore[arg-type]
    assert destination.head() == (0, GENESIS_HASH)
    with pytest.raises(LedgerError, match="entry 3 does not extend the chain"):
        destination.import_chain([recorded[0], *recorded[2:]])
    assert destination.head() == (0, GENESIS_HASH)
    assert destination.import_chain(recorded) == 6
    assert list(destination.entries()) == recorded
    with pytest.raises(LedgerError, match=r"not empty \(6 entries\)"):
        destination.import_chain(recorded)
    destination.close()

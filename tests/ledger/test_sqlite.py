"""What the SQLite engine writes to disk, and how it fails."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ect_middleware.errors import LedgerError
from ect_middleware.ledger import ChainReport, open_ledger, verify_chain
from ect_middleware.ledger.sqlite import _FIND, _PAGE_WID, SQLiteLedger

from ..support.clock import fixed_clock
from ..support.ledger import chain, workflow


def pragma(ledger: SQLiteLedger, name: str) -> object:
    """A setting of the calling thread's own connection."""
    return ledger._connections.get().execute(f"PRAGMA {name}").fetchone()[0]


def test_file_layout(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    ledger = SQLiteLedger(path, clock=fixed_clock)
    recorded = ledger.append(workflow(5, seed=3))
    ledger.close()

    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        objects = set(
            db.execute("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
        )
        assert objects == {
            ("table", "meta"),
            ("table", "entries"),
            ("table", "chain_head"),
            ("index", "entries_jti"),
            ("index", "entries_wid"),
        }
        assert db.execute("SELECT key, value FROM meta").fetchall() == [("schema_version", "2")]
        assert db.execute("SELECT seq, hash FROM chain_head").fetchall() == [(5, recorded[-1].hash)]
        row = db.execute(
            "SELECT typeof(recorded_us), recorded_us, typeof(iat), par, unresolved, wid"
            " FROM entries WHERE seq = 5"
        ).fetchone()
        last = recorded[-1]
        assert row == (
            "integer",
            1_800_000_000_250_000,
            "real",
            "[" + ",".join(f'"{p}"' for p in last.par) + "]",
            "[" + ",".join(f'"{p}"' for p in last.unresolved) + "]",
            last.wid,
        )


def test_lookups_use_the_indexes(tmp_path: Path) -> None:
    SQLiteLedger(tmp_path / "ledger.db").close()
    with sqlite3.connect(tmp_path / "ledger.db") as db:
        find_plan = db.execute(f"EXPLAIN QUERY PLAN {_FIND}", ("x",)).fetchall()
        wid_plan = db.execute(f"EXPLAIN QUERY PLAN {_PAGE_WID}", ("x", 0)).fetchall()
    assert "USING INDEX entries_jti" in str(find_plan)
    assert "USING INDEX entries_wid" in str(wid_plan)
    assert "TEMP B-TREE" not in str(wid_plan)  # seq order comes from the index itself


def test_synchronous_is_normal_unless_the_url_asks_for_full(tmp_path: Path) -> None:
    normal = open_ledger(f"sqlite:///{tmp_path}/a.db")
    full = open_ledger(f"sqlite:///{tmp_path}/b.db?synchronous=full")
    assert isinstance(normal, SQLiteLedger)
    assert isinstance(full, SQLiteLedger)
    assert (pragma(normal, "synchronous"), pragma(full, "synchronous")) == (1, 2)  # NORMAL, FULL
    assert pragma(normal, "busy_timeout") == 30_000
    normal.close()
    full.close()


def test_only_the_nowait_append_goes_without_the_busy_timeout(tmp_path: Path) -> None:
    ledger = SQLiteLedger(tmp_path / "ledger.db")
    other = sqlite3.connect(ledger.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    assert ledger.append_nowait(chain(1)) is None
    other.execute("ROLLBACK")
    assert [e.seq for e in ledger.append_nowait(chain(2)) or []] == [1, 2]
    assert pragma(ledger, "busy_timeout") == 0  # left off for the next nowait append
    for use in (ledger.head, lambda: ledger.find("x"), lambda: list(ledger.entries())):
        ledger.append_nowait(chain(1))
        use()  # every other use turns it back on first
        assert pragma(ledger, "busy_timeout") == 30_000
    ledger.append_nowait(chain(1))
    ledger.append(chain(1))
    assert pragma(ledger, "busy_timeout") == 30_000
    assert verify_chain(ledger.entries(), ledger.head()) == ChainReport(True, 7)
    other.close()
    ledger.close()


def test_entries_survive_closing_and_reopening(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    first = SQLiteLedger(path, clock=fixed_clock)
    recorded = first.append(chain(4))
    first.close()
    again = SQLiteLedger(path, create=False)
    assert list(again.entries()) == recorded
    assert again.head() == (4, recorded[-1].hash)
    more = again.append(chain(2))
    assert [e.seq for e in more] == [5, 6]
    assert verify_chain(again.entries(), again.head()) == ChainReport(True, 6)
    again.close()


def test_read_only_opening_never_creates_a_ledger(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="no ledger file at"):
        SQLiteLedger(tmp_path / "typo.db", create=False)
    assert not (tmp_path / "typo.db").exists()
    with sqlite3.connect(tmp_path / "other.db") as db:
        db.execute("CREATE TABLE t (x)")
    with pytest.raises(LedgerError, match="is not an ECT ledger"):
        SQLiteLedger(tmp_path / "other.db", create=False)


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    SQLiteLedger(tmp_path / "ledger.db").close()
    with sqlite3.connect(tmp_path / "ledger.db") as db:
        db.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    with pytest.raises(LedgerError, match="unsupported ledger schema version '3'"):
        SQLiteLedger(tmp_path / "ledger.db")


def test_a_closed_ledger_says_so(tmp_path: Path) -> None:
    ledger = SQLiteLedger(tmp_path / "ledger.db")
    ledger.append(chain(1))
    ledger.close()
    with pytest.raises(LedgerError, match="the ledger is closed"):
        ledger.append(chain(1))


def test_storage_errors_are_ledger_errors_without_token_contents(tmp_path: Path) -> None:
    ledger = SQLiteLedger(tmp_path / "ledger.db")
    ledger.append(chain(1))
    with sqlite3.connect(tmp_path / "ledger.db") as db:
        db.execute("DROP TABLE entries")
    new = chain(1)[0]
    with pytest.raises(LedgerError, match=r"^ledger append failed: no such table: entries$"):
        ledger.append([new])
    assert ledger.head()[0] == 1  # the failed transaction was rolled back
    ledger.close()


def test_undecodable_text_is_reported_without_quoting_it(tmp_path: Path) -> None:
    ledger = SQLiteLedger(tmp_path / "ledger.db")
    (recorded,) = ledger.append(chain(1))
    with sqlite3.connect(tmp_path / "ledger.db") as db:
        db.execute("UPDATE entries SET ect = ?", (recorded.ect.encode() + b"\xff",))
    with pytest.raises(LedgerError) as raised:
        ledger.find(recorded.jti)
    assert str(raised.value) == "ledger read failed: a stored text value is not valid UTF-8"
    assert recorded.ect[:40] not in str(raised.value)
    ledger.close()

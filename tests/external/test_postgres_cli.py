"""``ect ledger verify`` and ``show`` on a PostgreSQL ledger, run as the real entry point.

The database refuses edits (``test_postgres_engine``); a superuser can still disable the
triggers, edit, and re-enable them. These tests do exactly that, and expect ``verify`` to
name the first broken entry, as it does for SQLite (``tests/ledger/test_cli.py``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
import pytest
from psycopg import sql

from ect_middleware.ledger import LedgerEntry
from ect_middleware.ledger.base import seal
from ect_middleware.ledger.postgres import PostgresLedger, _row

from ..support.cli import ect_cli
from ..support.ledger import EXTERNAL, WORKER, chain, entry
from ..support.services import admin

Db = psycopg.Connection[tuple[object, ...]]


@dataclass(frozen=True)
class Recorded:
    schema: str
    url: str
    entries: list[LedgerEntry]


@pytest.fixture
def recorded(pg_ledger: PostgresLedger, pg_url: str) -> Recorded:
    """Ten entries: workflow A (seq 1-3, 6-8) and B (4, 5, 9), and a fan-in (10) of both
    that also names a parent never recorded here (as in the SQLite CLI tests)."""
    a, b = chain(6), chain(3)
    fan_in = entry(
        (a[-1].jti, b[-1].jti, EXTERNAL),
        wid=b[0].wid,
        direction="received",
        by=WORKER,
        unresolved=(EXTERNAL,),
    )
    stored: list[LedgerEntry] = []
    for batch in (a[:3], b[:2], a[3:], [b[2], fan_in]):
        stored += pg_ledger.append(batch)
    return Recorded(pg_ledger.schema, pg_url, stored)


@contextmanager
def tampering(schema: str) -> Iterator[Db]:
    """A superuser session with the ledger's triggers disabled, re-enabled at the end."""
    tables = [sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(t))
              for t in ("entries", "chain_head")]  # fmt: skip
    with admin() as db:
        for table in tables:
            db.execute(sql.SQL("ALTER TABLE {} DISABLE TRIGGER USER").format(table))
        try:
            db.execute(sql.SQL("SET search_path = {}").format(sql.Identifier(schema)))
            yield db
        finally:
            for table in tables:
                db.execute(sql.SQL("ALTER TABLE {} ENABLE TRIGGER USER").format(table))


def verify(url: str) -> tuple[int, str, str]:
    done = ect_cli("ledger", "verify", "--ledger", url)
    return done.returncode, done.stdout, done.stderr


def test_an_intact_ledger_verifies(recorded: Recorded) -> None:
    head = recorded.entries[-1].hash
    assert verify(recorded.url) == (
        0,
        f"ledger intact: 10 entries\nhead: entry 10 hash {head}\n",
        "",
    )


COLUMNS = (
    "seq, ect, wit, direction, recorder, jti, wid, iss, iat, par, unresolved, recorded_us,"
    " prev_hash, hash, trace_id"
)
INSERT = f"INSERT INTO entries ({COLUMNS}) VALUES ({', '.join(['%s'] * 15)})"  # noqa: S608


def _forged(seq: int, prev_hash: str) -> tuple[object, ...]:
    """A well-formed entry with a correct hash, as a forger with the code would make."""
    return _row(seal(entry(), seq=seq, recorded_us=1_800_000_000_000_000, prev_hash=prev_hash))


def edit_token(db: Db, r: Recorded) -> None:
    db.execute("UPDATE entries SET ect = %s WHERE seq = 4", (r.entries[8].ect,))


def edit_jti(db: Db, r: Recorded) -> None:
    db.execute("UPDATE entries SET jti = %s WHERE seq = 6", (EXTERNAL,))


def edit_and_rehash(db: Db, r: Recorded) -> None:
    """Change entry 5 and give it a correct new hash: entry 6 no longer links to it."""
    changed = seal(
        entry(wid=r.entries[4].wid), seq=5, recorded_us=r.entries[4].recorded_us,
        prev_hash=r.entries[3].hash,
    )  # fmt: skip
    db.execute("UPDATE entries SET ect = %s, jti = %s, par = '{}', hash = %s WHERE seq = 5",
               (changed.ect, changed.jti, changed.hash))  # fmt: skip


def delete_middle(db: Db, r: Recorded) -> None:
    db.execute("DELETE FROM entries WHERE seq = 5")


def delete_last(db: Db, r: Recorded) -> None:
    db.execute("DELETE FROM entries WHERE seq = 10")


def append_forged(db: Db, r: Recorded) -> None:
    db.execute(INSERT, _forged(11, r.entries[-1].hash))


def insert_forged(db: Db, r: Recorded) -> None:
    """Make room after entry 5 and slip a forged, correctly linked entry in as 6."""
    for seq in range(10, 5, -1):  # one by one: the primary key is checked row by row
        db.execute("UPDATE entries SET seq = seq + 1 WHERE seq = %s", (seq,))
    db.execute(INSERT, _forged(6, r.entries[4].hash))
    db.execute("UPDATE chain_head SET seq = 11")


def swap_rows(db: Db, r: Recorded) -> None:
    """Exchange everything but the position of entries 3 and 8."""
    content = COLUMNS.replace("seq, ", "")
    db.execute(
        f"UPDATE entries e SET ({content}) = (SELECT {content} FROM entries o"  # noqa: S608
        " WHERE o.seq = 11 - e.seq) WHERE e.seq IN (3, 8)"
    )


def swap_tokens(db: Db, r: Recorded) -> None:
    db.execute("UPDATE entries SET ect = %s WHERE seq = 2", (r.entries[8].ect,))
    db.execute("UPDATE entries SET ect = %s WHERE seq = 9", (r.entries[1].ect,))


def reorder(db: Db, r: Recorded) -> None:
    db.execute("UPDATE entries SET seq = 100 WHERE seq = 4")
    db.execute("UPDATE entries SET seq = 4 WHERE seq = 5")
    db.execute("UPDATE entries SET seq = 5 WHERE seq = 100")


def garble_parents(db: Db, r: Recorded) -> None:
    db.execute("UPDATE entries SET par = '{6f1f}' WHERE seq = 7")


def null_parent(db: Db, r: Recorded) -> None:
    db.execute("UPDATE entries SET par = ARRAY[NULL]::text[] WHERE seq = 7")


def shift_time(db: Db, r: Recorded) -> None:
    db.execute("UPDATE entries SET recorded_us = recorded_us + 1 WHERE seq = 8")


def shift_iat(db: Db, r: Recorded) -> None:
    db.execute("UPDATE entries SET iat = iat + 0.001 WHERE seq = 3")


def drop_unresolved_mark(db: Db, r: Recorded) -> None:
    db.execute("UPDATE entries SET unresolved = '{}' WHERE seq = 10")


def edit_head(db: Db, r: Recorded) -> None:
    db.execute("UPDATE chain_head SET hash = %s", ("f" * 64,))


@pytest.mark.parametrize(
    ("tamper", "report"),
    [
        (edit_token, "ledger BROKEN at entry 4: content does not match its hash"),
        (edit_jti, "ledger BROKEN at entry 6: content does not match its hash"),
        (edit_and_rehash, "ledger BROKEN at entry 6: does not link to the previous entry"),
        (delete_middle, "ledger BROKEN at entry 6: missing entry before it"),
        (
            delete_last,
            "ledger BROKEN at entry 10: missing (it and every later entry were removed)",
        ),
        (append_forged, "ledger BROKEN at entry 11: not covered by the recorded chain head"),
        (insert_forged, "ledger BROKEN at entry 7: does not link to the previous entry"),
        (swap_rows, "ledger BROKEN at entry 3: does not link to the previous entry"),
        (swap_tokens, "ledger BROKEN at entry 2: content does not match its hash"),
        (reorder, "ledger BROKEN at entry 4: does not link to the previous entry"),
        (garble_parents, "ledger BROKEN at entry 7: content does not match its hash"),
        (null_parent, "ledger BROKEN at entry 7: content does not match its hash"),
        (shift_time, "ledger BROKEN at entry 8: content does not match its hash"),
        (shift_iat, "ledger BROKEN at entry 3: content does not match its hash"),
        (drop_unresolved_mark, "ledger BROKEN at entry 10: content does not match its hash"),
        (edit_head, "ledger BROKEN at entry 10: does not match the recorded chain head"),
    ],
)
def test_tampering_by_a_superuser_is_found_at_the_entry_it_touched(
    recorded: Recorded, tamper: Callable[[Db, Recorded], None], report: str
) -> None:
    with tampering(recorded.schema) as db:
        tamper(db, recorded)
    # The triggers are back on: edits are refused again.
    with admin() as db, pytest.raises(psycopg.Error, match="append-only"):
        db.execute(sql.SQL("DELETE FROM {}.entries").format(sql.Identifier(recorded.schema)))
    assert verify(recorded.url) == (1, report + "\n", "")


def test_a_missing_chain_head_is_an_error(recorded: Recorded) -> None:
    with tampering(recorded.schema) as db:
        db.execute("DELETE FROM chain_head")
    assert verify(recorded.url) == (
        2,
        "",
        "ect ledger: error: the ledger's chain head record is missing\n",
    )


def test_show_describes_every_entry_without_tokens(recorded: Recorded) -> None:
    done = ect_cli("ledger", "show", "--ledger", recorded.url, "--format", "json")
    assert (done.returncode, done.stderr) == (0, "")
    for stored in recorded.entries:
        assert stored.ect not in done.stdout
        assert stored.wit is not None
        assert stored.wit not in done.stdout
    shown = json.loads(done.stdout)
    assert [item["seq"] for item in shown] == list(range(1, 11))
    assert [item["hash"] for item in shown] == [e.hash for e in recorded.entries]
    assert shown[-1]["unresolved"] == [EXTERNAL]
    assert shown[-1]["recorded_at"] == "2027-01-15T08:00:00.250000Z"
    wid = recorded.entries[3].wid
    assert wid is not None
    one = ect_cli("ledger", "show", "--ledger", recorded.url, "--wid", wid)
    assert [item["seq"] for item in json.loads(one.stdout)] == [4, 5, 9, 10]


def test_a_missing_schema_is_an_error_and_stays_missing(pg_url: str, schema: str) -> None:
    assert verify(pg_url) == (
        2,
        "",
        f"ect ledger: error: no ECT ledger in schema '{schema}' of that database\n",
    )
    with admin() as db:
        assert (
            db.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
            is None
        )

"""``ect ledger verify`` and ``ect ledger show``, run as the real console entry point.

The tamper tests edit the SQLite file with the ``sqlite3`` module, as someone with write
access to it could, and expect ``verify`` to name the first broken entry.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from ect_middleware.ledger import LedgerEntry
from ect_middleware.ledger.base import seal
from ect_middleware.ledger.sqlite import SQLiteLedger

from ..support.cli import ect_cli
from ..support.clock import fixed_clock
from ..support.ledger import EXTERNAL, PLANNER, WORKER, chain, entry

INSERT = (
    "INSERT INTO entries (seq, ect, wit, direction, recorder, jti, wid, iss, iat, par,"
    " unresolved, recorded_us, prev_hash, hash, trace_id)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
READ_CONTENT = (
    "SELECT ect, wit, direction, recorder, jti, wid, iss, iat, par, unresolved, recorded_us,"
    " prev_hash, hash, ? FROM entries WHERE seq = ?"
)
WRITE_CONTENT = (
    "UPDATE entries SET ect = ?, wit = ?, direction = ?, recorder = ?, jti = ?, wid = ?,"
    " iss = ?, iat = ?, par = ?, unresolved = ?, recorded_us = ?, prev_hash = ?, hash = ?"
    " WHERE seq = ?"
)


@dataclass(frozen=True)
class Recorded:
    path: Path
    url: str
    entries: list[LedgerEntry]


@pytest.fixture
def recorded(tmp_path: Path) -> Recorded:
    """Ten entries: workflow A (seq 1-3, 6-8) and B (4, 5, 9), and a fan-in (10) of both
    that also names a parent never recorded here."""
    a, b = chain(6), chain(3)
    fan_in = entry(
        (a[-1].jti, b[-1].jti, EXTERNAL),
        wid=b[0].wid,
        direction="received",
        by=WORKER,
        unresolved=(EXTERNAL,),
    )
    path = tmp_path / "ledger.db"
    ledger = SQLiteLedger(path, clock=fixed_clock)
    stored: list[LedgerEntry] = []
    for batch in (a[:3], b[:2], a[3:], [b[2], fan_in]):
        stored += ledger.append(batch)
    ledger.close()
    return Recorded(path, f"sqlite:///{path}", stored)


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


def test_an_anchored_head_is_checked(recorded: Recorded) -> None:
    """The head printed by an earlier verify, kept elsewhere, catches what the unkeyed
    chain cannot: a ledger rewritten whole with every hash recomputed."""
    anchor = recorded.entries[6].hash  # the head as it was at entry 7, anchored then
    done = ect_cli("ledger", "verify", "--ledger", recorded.url, "--expect-head", anchor.upper())
    assert done.returncode == 0
    assert done.stdout.endswith("anchored head found at entry 7 (3 entries recorded since)\n")
    with sqlite3.connect(recorded.path) as db:
        rewrite_from(db, recorded, 5)  # a forgery that the chain walk alone cannot see
    assert verify(recorded.url)[0] == 0
    done = ect_cli("ledger", "verify", "--ledger", recorded.url, "--expect-head", anchor)
    assert done.returncode == 1
    assert f"anchored head {anchor} NOT FOUND" in done.stdout
    bad = ect_cli("ledger", "verify", "--ledger", recorded.url, "--expect-head", "abc")
    assert (bad.returncode, bad.stdout) == (2, "")
    assert "64 hexadecimal digits" in bad.stderr


def rewrite_from(db: sqlite3.Connection, r: Recorded, seq: int) -> None:
    """Backdate entry ``seq`` by a day and reseal it and every later one, head included:
    a rewrite with every hash recomputed, which the chain walk alone cannot tell."""
    kept, prev_hash = r.entries[seq - 1 :], r.entries[seq - 2].hash
    db.execute("DELETE FROM entries WHERE seq >= ?", (seq,))
    for n, old in enumerate(kept, start=seq):
        when = old.recorded_us - (86_400_000_000 if n == seq else 0)
        new = seal(old, seq=n, recorded_us=when, prev_hash=prev_hash)
        db.execute(
            INSERT,
            (new.seq, new.ect, new.wit, new.direction, new.recorder, new.jti, new.wid,
             new.iss, new.iat, json.dumps(list(new.par)), json.dumps(list(new.unresolved)),
             new.recorded_us, new.prev_hash, new.hash, new.trace_id),
        )  # fmt: skip
        prev_hash = new.hash
    db.execute("UPDATE chain_head SET seq = ?, hash = ?", (seq + len(kept) - 1, prev_hash))


def _forged(recorded: Recorded, seq: int, prev_hash: str) -> tuple[object, ...]:
    """A well-formed entry with a correct hash, as a forger with the code would make."""
    forged = seal(entry(), seq=seq, recorded_us=1_800_000_000_000_000, prev_hash=prev_hash)
    par = json.dumps(list(forged.par))
    return (forged.seq, forged.ect, forged.wit, forged.direction, forged.recorder, forged.jti,
            forged.wid, forged.iss, forged.iat, par, "[]", forged.recorded_us,
            forged.prev_hash, forged.hash, forged.trace_id)  # fmt: skip


def edit_token(db: sqlite3.Connection, r: Recorded) -> None:
    db.execute("UPDATE entries SET ect = ? WHERE seq = 4", (r.entries[8].ect,))


def edit_jti(db: sqlite3.Connection, r: Recorded) -> None:
    db.execute("UPDATE entries SET jti = ? WHERE seq = 6", (EXTERNAL,))


def edit_and_rehash(db: sqlite3.Connection, r: Recorded) -> None:
    """Change entry 5 and give it a correct new hash: entry 6 no longer links to it."""
    changed = seal(
        entry(wid=r.entries[4].wid), seq=5, recorded_us=r.entries[4].recorded_us,
        prev_hash=r.entries[3].hash,
    )  # fmt: skip
    db.execute("UPDATE entries SET ect = ?, jti = ?, par = '[]', hash = ? WHERE seq = 5",
               (changed.ect, changed.jti, changed.hash))  # fmt: skip


def delete_middle(db: sqlite3.Connection, r: Recorded) -> None:
    db.execute("DELETE FROM entries WHERE seq = 5")


def delete_last(db: sqlite3.Connection, r: Recorded) -> None:
    db.execute("DELETE FROM entries WHERE seq = 10")


def append_forged(db: sqlite3.Connection, r: Recorded) -> None:
    db.execute(INSERT, _forged(r, 11, r.entries[-1].hash))


def insert_forged(db: sqlite3.Connection, r: Recorded) -> None:
    """Make room after entry 5 and slip a forged, correctly linked entry in as 6."""
    for seq in range(10, 5, -1):
        db.execute("UPDATE entries SET seq = seq + 1 WHERE seq = ?", (seq,))
    db.execute(INSERT, _forged(r, 6, r.entries[4].hash))
    db.execute("UPDATE chain_head SET seq = 11")


def swap_rows(db: sqlite3.Connection, r: Recorded) -> None:
    """Exchange everything but the position of entries 3 and 8."""
    three = db.execute(READ_CONTENT, (8, 3)).fetchone()  # content of 3, to be put at 8
    eight = db.execute(READ_CONTENT, (3, 8)).fetchone()
    db.execute(WRITE_CONTENT, three)
    db.execute(WRITE_CONTENT, eight)


def swap_tokens(db: sqlite3.Connection, r: Recorded) -> None:
    db.execute("UPDATE entries SET ect = ? WHERE seq = 2", (r.entries[8].ect,))
    db.execute("UPDATE entries SET ect = ? WHERE seq = 9", (r.entries[1].ect,))


def reorder(db: sqlite3.Connection, r: Recorded) -> None:
    db.execute("UPDATE entries SET seq = 100 WHERE seq = 4")
    db.execute("UPDATE entries SET seq = 4 WHERE seq = 5")
    db.execute("UPDATE entries SET seq = 5 WHERE seq = 100")


def garble_parents(db: sqlite3.Connection, r: Recorded) -> None:
    db.execute("UPDATE entries SET par = '[\"6f1f' WHERE seq = 7")


def retype_time(db: sqlite3.Connection, r: Recorded) -> None:
    db.execute("UPDATE entries SET recorded_us = 'yesterday' WHERE seq = 8")


def drop_unresolved_mark(db: sqlite3.Connection, r: Recorded) -> None:
    db.execute("UPDATE entries SET unresolved = '[]' WHERE seq = 10")


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
        (retype_time, "ledger BROKEN at entry 8: content does not match its hash"),
        (drop_unresolved_mark, "ledger BROKEN at entry 10: content does not match its hash"),
    ],
)
def test_tampering_is_found_at_the_entry_it_touched(
    recorded: Recorded, tamper: Callable[[sqlite3.Connection, Recorded], None], report: str
) -> None:
    with sqlite3.connect(recorded.path) as db:
        tamper(db, recorded)
    assert verify(recorded.url) == (1, report + "\n", "")


def test_a_missing_chain_head_is_an_error(recorded: Recorded) -> None:
    with sqlite3.connect(recorded.path) as db:
        db.execute("DELETE FROM chain_head")
    assert verify(recorded.url) == (
        2,
        "",
        "ect ledger: error: the ledger's chain head record is missing\n",
    )


def test_errors_are_one_line_and_create_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "typo.db"
    assert verify(f"sqlite:///{missing}") == (
        2,
        "",
        f"ect ledger: error: no ledger file at {missing}\n",
    )
    assert not missing.exists()
    code, out, err = verify("mysql://auditor:s3cret@db/ledger")
    assert (code, out) == (2, "")
    assert err.startswith("ect ledger: error: unsupported ledger scheme 'mysql'")
    assert "s3cret" not in err


def test_the_url_defaults_to_ect_ledger_then_the_working_folder(
    recorded: Recorded, tmp_path: Path
) -> None:
    from_env = ect_cli("ledger", "verify", env={"ECT_LEDGER": recorded.url})
    assert from_env.returncode == 0
    assert from_env.stdout.startswith("ledger intact: 10 entries\nhead: entry 10 hash ")
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    default = ect_cli("ledger", "verify", cwd=folder)
    assert default.returncode == 2
    assert default.stderr == f"ect ledger: error: no ledger file at {folder}/ect-ledger.db\n"


def show(*args: str) -> list[dict[str, object]]:
    done = ect_cli("ledger", "show", *args)
    assert (done.returncode, done.stderr) == (0, "")
    shown: list[dict[str, object]] = json.loads(done.stdout)
    return shown


def test_show_describes_every_entry_without_tokens(recorded: Recorded) -> None:
    done = ect_cli("ledger", "show", "--ledger", recorded.url, "--format", "json")
    assert done.returncode == 0
    for stored in recorded.entries:
        assert stored.ect not in done.stdout
        assert stored.wit is not None
        assert stored.wit not in done.stdout
        assert stored.ect.split(".")[2] not in done.stdout  # not even the signature
    shown = json.loads(done.stdout)
    assert [item["seq"] for item in shown] == list(range(1, 11))
    last, stored = shown[-1], recorded.entries[-1]
    assert {k: v for k, v in last.items() if k != "claims"} == {
        "seq": 10,
        "jti": stored.jti,
        "wid": stored.wid,
        "iss": WORKER,
        "direction": "received",
        "recorder": WORKER,
        "par": [recorded.entries[7].jti, recorded.entries[8].jti, EXTERNAL],
        "extension": None,
        "policy": None,
        "unresolved": [EXTERNAL],
        "recorded_at": "2027-01-15T08:00:00.250000Z",
        "trace_id": None,
        "hash": stored.hash,
    }
    assert last["claims"] == {
        "iss": WORKER,
        "aud": PLANNER,
        "iat": 1_800_000_000,
        "exp": 1_800_000_300,
        "jti": stored.jti,
        "exec_act": "plan",
        "par": [recorded.entries[7].jti, recorded.entries[8].jti, EXTERNAL],
        "wid": stored.wid,
    }
    assert [item["direction"] for item in shown[:9]] == ["minted"] * 9
    assert shown[1]["claims"]["exec_act"] == "step-1"


def test_show_one_workflow(recorded: Recorded) -> None:
    wid = recorded.entries[3].wid
    assert wid is not None
    shown = show("--ledger", recorded.url, "--wid", wid)
    assert [item["seq"] for item in shown] == [4, 5, 9, 10]
    assert {item["wid"] for item in shown} == {wid}
    assert show("--ledger", recorded.url, "--wid", EXTERNAL) == []


def test_show_an_empty_ledger(tmp_path: Path) -> None:
    SQLiteLedger(tmp_path / "empty.db").close()
    done = ect_cli("ledger", "show", "--ledger", f"sqlite:///{tmp_path}/empty.db")
    assert (done.returncode, done.stdout, done.stderr) == (0, "[]\n", "")

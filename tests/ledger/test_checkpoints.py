"""WAL checkpoints run in a background thread of each process, not inside a request's
commit; the thread stops when the ledger is closed."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from ect_middleware.ledger import checkpoints
from ect_middleware.ledger.sqlite import SQLiteLedger

from ..support.ledger import chain


def _checkpoint_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "ect-ledger-checkpoint"]


def _eventually(condition: object, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.02)
    return False


def test_a_background_thread_moves_the_wal_into_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checkpoints, "EVERY_APPENDS", 5)
    others = set(_checkpoint_threads())  # other tests' ledgers may still be open
    path = tmp_path / "ledger.db"
    ledger = SQLiteLedger(path)
    empty = path.stat().st_size
    try:
        for entry in chain(30):
            ledger.append([entry])
        # The request connections only checkpoint past the backstop (10,000 pages), so a
        # database file that grows was written by the background thread.
        assert _eventually(lambda: path.stat().st_size > empty)
        assert set(_checkpoint_threads()) - others
    finally:
        ledger.close()
    assert _eventually(lambda: not set(_checkpoint_threads()) - others)
    reopened = SQLiteLedger(path, create=False)
    try:
        assert reopened.head()[0] == 30
    finally:
        reopened.close()


def test_closing_a_ledger_that_never_appended_starts_no_thread(tmp_path: Path) -> None:
    before = len(_checkpoint_threads())
    ledger = SQLiteLedger(tmp_path / "ledger.db")
    ledger.find("nothing")
    ledger.close()
    assert len(_checkpoint_threads()) == before

"""The ledger writer: at once when nothing waits, else its thread, with group commit, in
order; failures and close."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from ect_middleware.errors import LedgerError
from ect_middleware.ledger import LedgerEntry, NewEntry, verify_chain
from ect_middleware.ledger.sqlite import SQLiteLedger
from ect_middleware.ledger.writer import LedgerWriter

from ..support.clock import fixed_clock
from ..support.ledger import workflow


class GatedLedger(SQLiteLedger):
    """A real SQLite ledger whose (writer thread's) appends can be held at the door, and
    made to fail; ``append_nowait`` (the caller's thread) is the engine's own."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, clock=fixed_clock)
        self.calls: list[int] = []
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.gate.set()
        #: an append of exactly this many entries fails
        self.fail_size: int | None = None

    def append(self, entries: Sequence[NewEntry]) -> list[LedgerEntry]:
        self.calls.append(len(entries))
        self.entered.set()
        assert self.gate.wait(10)
        if len(entries) == self.fail_size:
            raise LedgerError("disk full")
        return super().append(entries)


@pytest.fixture
def ledger(tmp_path: Path) -> GatedLedger:
    return GatedLedger(tmp_path / "ledger.db")


@contextmanager
def write_lock_held(ledger: SQLiteLedger) -> Iterator[None]:
    """Another connection (another process, say) holds the ledger's write lock."""
    other = sqlite3.connect(ledger.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_with_nothing_to_wait_for_a_batch_is_written_at_once_in_the_callers_thread(
    ledger: GatedLedger,
) -> None:
    writer = LedgerWriter(ledger)
    future = writer.submit(workflow(3, seed=1))

    assert future.done()  # no hand-off: written before submit returned
    assert [e.seq for e in future.result()] == [1, 2, 3]
    assert ledger.calls == []  # the writer thread's append was never needed
    writer.close()


def test_a_batch_that_would_wait_for_the_lock_waits_on_the_writer_thread(
    ledger: GatedLedger,
) -> None:
    writer = LedgerWriter(ledger)
    with write_lock_held(ledger):
        future = writer.submit(workflow(2, seed=1))
        assert ledger.entered.wait(10)  # handed to the thread, which waits for the lock
        assert not future.done()
    assert [e.seq for e in future.result(10)] == [1, 2]
    assert ledger.calls == [2]
    writer.close()


def test_batches_queued_during_a_write_share_the_next_transaction(ledger: GatedLedger) -> None:
    writer = LedgerWriter(ledger)
    batches = [workflow(n, seed=n) for n in (2, 1, 3, 2)]
    ledger.gate.clear()
    with write_lock_held(ledger):
        first = writer.submit(batches[0])  # the lock is taken: to the thread
    assert ledger.entered.wait(10)  # the writer is inside the first transaction
    rest = [writer.submit(b) for b in batches[1:]]  # queued behind it, never at once
    ledger.gate.set()

    results = [f.result(10) for f in (first, *rest)]
    writer.close()

    assert ledger.calls == [2, 1 + 3 + 2]  # the three waiting batches: one transaction
    assert [[e.jti for e in r] for r in results] == [[e.jti for e in b] for b in batches]
    seqs = [e.seq for r in results for e in r]
    assert seqs == list(range(1, 9))  # in the order they were submitted
    assert verify_chain(ledger.entries(), ledger.head()).ok


def test_a_failed_transaction_fails_each_caller_in_it_and_the_next_one_proceeds(
    ledger: GatedLedger,
) -> None:
    writer = LedgerWriter(ledger)
    ledger.fail_size = 4
    ledger.gate.clear()
    with write_lock_held(ledger):
        blocker = writer.submit(workflow(1, seed=1))
    assert ledger.entered.wait(10)
    doomed = [writer.submit(workflow(2, seed=s)) for s in (2, 3)]  # one transaction of 4
    ledger.gate.set()
    assert [e.seq for e in blocker.result(10)] == [1]
    for future in doomed:
        with pytest.raises(LedgerError, match="disk full"):
            future.result(10)
    later = writer.append(workflow(1, seed=4))  # the writer is idle again: at once
    writer.close()

    assert [e.seq for e in later] == [2]
    assert [e.seq for e in ledger.entries()] == [1, 2]
    assert verify_chain(ledger.entries(), ledger.head()).ok


def test_close_writes_what_is_queued_then_refuses_more(ledger: GatedLedger) -> None:
    writer = LedgerWriter(ledger)
    ledger.gate.clear()
    with write_lock_held(ledger):
        futures = [writer.submit(workflow(1, seed=s)) for s in range(5)]
    assert ledger.entered.wait(10)
    closing = threading.Thread(target=writer.close)
    closing.start()
    ledger.gate.set()
    closing.join(10)

    assert all(f.done() and f.exception() is None for f in futures)
    assert len(list(ledger.entries())) == 5
    with pytest.raises(LedgerError, match="closed"):
        writer.submit(workflow(1, seed=9))


def test_in_background_mode_submit_returns_at_once_and_the_thread_writes_behind(
    ledger: GatedLedger,
) -> None:
    writer = LedgerWriter(ledger, background=True)
    ledger.gate.clear()  # the thread may not write yet
    batches = [workflow(2, seed=s) for s in (1, 2, 3)]
    futures = [writer.submit(b) for b in batches]

    assert all(f.done() and f.exception() is None for f in futures)  # nobody waits
    assert ledger.entered.wait(10)  # the thread holds the first batch at the door
    assert list(ledger.entries()) == []  # written behind the callers, not yet
    ledger.gate.set()
    writer.close()  # drains the queue

    # what was queued while the thread held its first transaction: one more transaction
    assert sum(ledger.calls) == 6
    assert len(ledger.calls) <= 2
    expected = [e.jti for b in batches for e in b]
    assert [e.jti for e in ledger.entries()] == expected  # in submission order
    assert verify_chain(ledger.entries(), ledger.head()).ok


def test_in_background_mode_nothing_is_written_in_the_callers_thread(
    ledger: GatedLedger,
) -> None:
    writer = LedgerWriter(ledger, background=True)
    writer.submit(workflow(1, seed=1))
    writer.close()

    assert ledger.calls == [1]  # the thread's append, even with the write lock free
    assert len(list(ledger.entries())) == 1


def test_in_background_mode_a_failed_write_is_logged_and_later_batches_go_on(
    ledger: GatedLedger, caplog: pytest.LogCaptureFixture
) -> None:
    writer = LedgerWriter(ledger, background=True)
    ledger.fail_size = 3
    ledger.gate.clear()
    first = workflow(1, seed=1)
    writer.submit(first)
    assert ledger.entered.wait(10)  # the thread holds this batch: the next two wait
    with caplog.at_level("ERROR", logger="ect_middleware"):
        writer.submit(workflow(2, seed=2))
        writer.submit(workflow(1, seed=3))  # with the one above: a transaction of 3
        ledger.gate.set()
        writer.close()
        after_close = [r for r in caplog.records if r.getMessage().startswith("ect.")]

    assert ledger.calls == [1, 3]
    failures = [r.ect for r in after_close if r.ect["event"] == "ect.ledger_failed"]  # type: ignore[attr-defined]
    assert failures == [{"event": "ect.ledger_failed", "reason": "disk full", "lost_entries": 3}]
    assert [e.jti for e in ledger.entries()] == [e.jti for e in first]
    with pytest.raises(LedgerError, match="closed"):
        writer.submit(workflow(1, seed=9))


_EXIT_WITHOUT_CLOSE = """
import sys
from ect_middleware.ledger.sqlite import SQLiteLedger
from ect_middleware.ledger.writer import LedgerWriter
from tests.support.ledger import workflow

writer = LedgerWriter(SQLiteLedger(sys.argv[1]), background=True)
for seed in range(20):
    writer.submit(workflow(2, seed=seed))
"""


def test_in_background_mode_the_interpreters_exit_writes_what_is_queued(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    root = Path(__file__).resolve().parents[2]
    subprocess.run(
        [sys.executable, "-c", _EXIT_WITHOUT_CLOSE, str(path)], cwd=root, check=True, timeout=30
    )

    ledger = SQLiteLedger(path, create=False)
    assert len(list(ledger.entries())) == 40  # the process ended without close()
    assert verify_chain(ledger.entries(), ledger.head()).ok
    ledger.close()


def test_in_background_mode_drain_returns_once_everything_submitted_is_written(
    ledger: GatedLedger,
) -> None:
    writer = LedgerWriter(ledger, background=True)
    for seed in range(4):
        writer.submit(workflow(1, seed=seed))
    writer.drain()

    assert len(list(ledger.entries())) == 4  # written, and the writer still open
    writer.submit(workflow(1, seed=9))
    writer.close()
    assert len(list(ledger.entries())) == 5

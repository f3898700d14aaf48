"""Several processes, each with several threads, on one SQLite ledger; fork and spawn."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from ect_middleware.ledger import ChainReport, verify_chain
from ect_middleware.ledger.sqlite import SQLiteLedger

from ..support.clock import fixed_clock
from ..support.ledger import PLANNER, WORKER, chain
from ..support.workers import ROUNDS, append_from_threads, append_in_child

spawn = multiprocessing.get_context("spawn")


def test_two_processes_of_four_threads_never_fork_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    SQLiteLedger(path).close()
    start, rounds = spawn.Barrier(3), spawn.Barrier(2 * 4)
    processes = [
        spawn.Process(target=append_from_threads, args=(str(path), who, 4, 1250, start, rounds))
        for who in (PLANNER, WORKER)
    ]
    for process in processes:
        process.start()
    start.wait(timeout=120)  # both have minted their 5,000 ECTs: the race begins
    began = time.perf_counter()
    for process in processes:
        process.join(timeout=120)
    elapsed = time.perf_counter() - began
    print(f"\n10,000 single-entry appends from 2 processes x 4 threads: {elapsed:.1f} s")

    assert [p.exitcode for p in processes] == [0, 0]
    ledger = SQLiteLedger(path, create=False)
    recorded = list(ledger.entries())
    assert [e.seq for e in recorded] == list(range(1, 10_001))
    assert Counter(e.recorder for e in recorded) == {PLANNER: 5000, WORKER: 5000}
    assert len({e.wid for e in recorded}) == 8  # one chain per thread
    # They really did write at the same time: every lockstep round holds entries of all
    # eight threads of both processes (see ``hammer``), so the writer changes in each round.
    thread_changes = sum(a.wid != b.wid for a, b in itertools.pairwise(recorded))
    process_changes = sum(a.recorder != b.recorder for a, b in itertools.pairwise(recorded))
    print(f"the writing thread changed {thread_changes} times, the process {process_changes}")
    assert thread_changes >= 7 * ROUNDS
    assert process_changes >= ROUNDS
    # Every thread's chain kept its order: each parent is recorded before its child.
    assert verify_chain(recorded, ledger.head()) == ChainReport(True, 10_000)
    ledger.close()


def test_a_ledger_opened_before_spawning_works_in_the_child(tmp_path: Path) -> None:
    ledger = SQLiteLedger(tmp_path / "ledger.db", clock=fixed_clock)
    ledger.append(chain(2))
    child = spawn.Process(target=append_in_child, args=(ledger, chain(3)))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0
    assert [e.seq for e in ledger.append(chain(1))] == [6]
    recorded = list(ledger.entries())
    assert {e.recorded_us for e in recorded} == {1_800_000_000_250_000}  # the clock travelled
    assert verify_chain(recorded, ledger.head()) == ChainReport(True, 6)
    ledger.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_never_touches_its_parents_connections(tmp_path: Path) -> None:
    ledger = SQLiteLedger(tmp_path / "ledger.db")
    ledger.append(chain(3))
    mine = ledger._connections.get()
    # A second thread with a connection of its own, alive across the fork: the child
    # has no such thread, and must not close that connection when it drops its state.
    theirs: list[object] = []
    opened, release = threading.Event(), threading.Event()

    def hold_a_connection() -> None:
        theirs.append(ledger._connections.get())
        opened.set()
        release.wait()

    holder = threading.Thread(target=hold_a_connection)
    holder.start()
    opened.wait()

    pid = os.fork()
    if pid == 0:  # the child: report through the exit status only, never return
        code = 70
        try:
            import gc

            gc.collect()
            own = ledger._connections.get()
            appended = [e.seq for e in ledger.append(chain(2))]
            inherited_open = not mine.in_transaction and not theirs[0].in_transaction  # type: ignore[attr-defined]
            code = 0 if (own is not mine and appended == [4, 5] and inherited_open) else 71
        finally:
            os._exit(code)

    _, status = os.waitpid(pid, 0)
    release.set()
    holder.join()
    assert os.waitstatus_to_exitcode(status) == 0
    assert ledger._connections.get() is mine
    assert [e.seq for e in ledger.append(chain(2))] == [6, 7]
    assert verify_chain(ledger.entries(), ledger.head()) == ChainReport(True, 7)
    ledger.close()

"""Many writers on one PostgreSQL ledger: 4 processes x 4 threads, 5,000 entries per process.

Each append call is its own transaction of ``BATCH`` entries (a request records a few
ECTs per call too); measured on a 2-core VM, single-entry calls take about 4 times longer
for the same 20,000 entries, the fixed cost of each transaction's round trips and flush.
"""

from __future__ import annotations

import itertools
import multiprocessing
import time
from collections import Counter

from ect_middleware.ledger import ChainReport, verify_chain
from ect_middleware.ledger.postgres import PostgresLedger

from ..support.cli import ect_cli
from ..support.ledger import PLANNER, WORKER
from ..support.services import POSTGRES
from ..support.workers import ROUNDS, append_to_postgres_from_threads

spawn = multiprocessing.get_context("spawn")
PROCESSES, THREADS, PER_PROCESS, BATCH = 4, 4, 5000, 10
RECORDERS = [PLANNER, WORKER, PLANNER + "-2", WORKER + "-2"]


def test_four_processes_of_four_threads_never_fork_the_chain(schema: str, pg_url: str) -> None:
    PostgresLedger(POSTGRES, schema=schema).close()
    start, rounds = spawn.Barrier(PROCESSES + 1), spawn.Barrier(PROCESSES * THREADS)
    per_thread = PER_PROCESS // THREADS
    processes = [
        spawn.Process(
            target=append_to_postgres_from_threads,
            args=(POSTGRES, schema, who, THREADS, per_thread, BATCH, start, rounds),
        )
        for who in RECORDERS
    ]
    for process in processes:
        process.start()
    start.wait(timeout=300)  # every process has minted its 5,000 ECTs: the race begins
    began = time.perf_counter()
    for process in processes:
        process.join(timeout=300)
    elapsed = time.perf_counter() - began
    total = PROCESSES * PER_PROCESS
    calls = total // BATCH
    print(
        f"\n{total:,} entries in {calls:,} appends of {BATCH} from {PROCESSES} processes x"
        f" {THREADS} threads: {elapsed:.1f} s, {calls / elapsed:.0f} appends/s,"
        f" {total / elapsed:.0f} entries/s"
    )

    assert [p.exitcode for p in processes] == [0] * PROCESSES
    ledger = PostgresLedger(POSTGRES, schema=schema, create=False)
    recorded = list(ledger.entries())
    assert [e.seq for e in recorded] == list(range(1, total + 1))
    assert Counter(e.recorder for e in recorded) == dict.fromkeys(RECORDERS, PER_PROCESS)
    assert len({e.wid for e in recorded}) == PROCESSES * THREADS  # one chain per thread
    # They really wrote at the same time: every lockstep round holds entries of every
    # process (see ``hammer``), so the writing process changes in each round.
    process_changes = sum(a.recorder != b.recorder for a, b in itertools.pairwise(recorded))
    print(f"the writing process changed {process_changes} times")
    assert process_changes >= (PROCESSES - 1) * ROUNDS
    # Every call's entries are consecutive (one transaction each), and every thread's
    # chain kept its order: each parent is recorded before its child.
    for first in range(0, total, BATCH):
        assert len({e.wid for e in recorded[first : first + BATCH]}) == 1
    assert verify_chain(recorded, ledger.head()) == ChainReport(True, total)
    ledger.close()
    done = ect_cli("ledger", "verify", "--ledger", pg_url)
    assert done.returncode == 0
    assert done.stdout.startswith(f"ledger intact: {total} entries\nhead: entry {total} hash ")

"""Targets for ``spawn``-ed processes (importable by module name, free of pytest state)."""

from __future__ import annotations

import threading
from typing import Any

from ect_middleware.ledger import Ledger, NewEntry
from ect_middleware.ledger.postgres import PostgresLedger
from ect_middleware.ledger.sqlite import SQLiteLedger

from .ledger import chain

#: How many lockstep rounds ``hammer`` splits every chain into.
ROUNDS = 20
#: A guard against a hung writer, not a speed limit.
HANG = 300


def append_in_child(ledger: Ledger, entries: list[NewEntry]) -> None:
    """Use a ledger that was opened in the parent and pickled across ``spawn``."""
    ledger.append(entries)
    ledger.close()


def append_from_threads(
    path: str, recorder: str, threads: int, per_thread: int, start: Any, rounds: Any
) -> None:
    """Every entry appended on its own (batch size 1) to a SQLite ledger; see ``hammer``."""
    hammer(SQLiteLedger(path, create=False), recorder, threads, per_thread, 1, start, rounds)


def append_to_postgres_from_threads(
    conninfo: str,
    schema: str,
    recorder: str,
    threads: int,
    per_thread: int,
    batch: int,
    start: Any,
    rounds: Any,
) -> None:
    """``batch`` entries per append call to a PostgreSQL ledger; see ``hammer``."""
    ledger = PostgresLedger(conninfo, schema=schema, create=False)
    hammer(ledger, recorder, threads, per_thread, batch, start, rounds)


def open_postgres_and_append(conninfo: str, schema: str, recorder: str, start: Any) -> None:
    """Wait at ``start`` with the others, then open (creating the schema if nobody has)."""
    entries = chain(1, by=recorder)
    start.wait()
    ledger = PostgresLedger(conninfo, schema=schema)
    ledger.append(entries)
    ledger.close()


def hammer(
    ledger: Ledger,
    recorder: str,
    threads: int,
    per_thread: int,
    batch: int,
    start: Any,
    rounds: Any,
) -> None:
    """Mint ``threads`` chains first, wait at ``start`` (a process barrier), then append
    them from ``threads`` threads at once, ``batch`` entries per append call (each call is
    one transaction); close the ledger; raise the first failure.

    ``rounds`` is a process barrier shared by every thread of every process: each thread
    appends its chain in ``ROUNDS`` parts and waits for all the others after each part.
    So every writer is in the middle of its chain while every other one writes, and each
    round's entries come from every thread of every process, whatever the scheduler does:
    the writers' interleaving is guaranteed by construction, never left to chance.
    """
    chains = [chain(per_thread, by=recorder) for _ in range(threads)]
    failures: list[BaseException] = []
    go = threading.Barrier(threads)

    def run(entries: list[NewEntry]) -> None:
        calls = [entries[i : i + batch] for i in range(0, len(entries), batch)]
        step = -(-len(calls) // ROUNDS)
        try:
            go.wait()
            for first in range(0, step * ROUNDS, step):
                for call in calls[first : first + step]:
                    ledger.append(call)
                rounds.wait(timeout=HANG)
        except BaseException as exc:
            failures.append(exc)
            rounds.abort()  # the others would wait for this thread for ever

    workers = [threading.Thread(target=run, args=(c,)) for c in chains]
    start.wait()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    ledger.close()
    if failures:
        raise failures[0]

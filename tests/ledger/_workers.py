"""Targets for ``spawn``-ed processes (importable by module name, free of pytest state)."""

from __future__ import annotations

import threading
from typing import Any

from ect_middleware.ledger import Ledger, NewEntry
from ect_middleware.ledger.sqlite import SQLiteLedger

from ._support import chain


def append_in_child(ledger: Ledger, entries: list[NewEntry]) -> None:
    """Use a ledger that was opened in the parent and pickled across ``spawn``."""
    ledger.append(entries)
    ledger.close()


def append_from_threads(
    path: str, recorder: str, threads: int, per_thread: int, start: Any
) -> None:
    """Every entry appended on its own (batch size 1) to a SQLite ledger; see ``hammer``."""
    hammer(SQLiteLedger(path, create=False), recorder, threads, per_thread, 1, start)


def hammer(
    ledger: Ledger, recorder: str, threads: int, per_thread: int, batch: int, start: Any
) -> None:
    """Mint ``threads`` chains first, wait at ``start`` (a process barrier), then append
    them from ``threads`` threads at once, ``batch`` entries per append call (each call is
    one transaction); close the ledger; raise the first failure."""
    chains = [chain(per_thread, by=recorder) for _ in range(threads)]
    failures: list[BaseException] = []
    go = threading.Barrier(threads)

    def run(entries: list[NewEntry]) -> None:
        try:
            go.wait()
            for i in range(0, len(entries), batch):
                ledger.append(entries[i : i + batch])
        except BaseException as exc:
            failures.append(exc)

    workers = [threading.Thread(target=run, args=(c,)) for c in chains]
    start.wait()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    ledger.close()
    if failures:
        raise failures[0]

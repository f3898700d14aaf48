"""Targets for ``spawn``-ed processes (importable by module name, free of pytest state)."""

from __future__ import annotations

import threading
from typing import Any

from ect_middleware.ledger import NewEntry
from ect_middleware.ledger.sqlite import SQLiteLedger

from ._support import chain


def append_in_child(ledger: SQLiteLedger, entries: list[NewEntry]) -> None:
    """Use a ledger that was opened in the parent and pickled across ``spawn``."""
    ledger.append(entries)
    ledger.close()


def append_from_threads(
    path: str, recorder: str, threads: int, per_thread: int, start: Any
) -> None:
    """Mint ``threads`` chains first, wait at ``start`` (a process barrier), then append
    every entry on its own (batch size 1) from ``threads`` threads at once."""
    ledger = SQLiteLedger(path, create=False)
    chains = [chain(per_thread, by=recorder) for _ in range(threads)]
    failures: list[BaseException] = []
    go = threading.Barrier(threads)

    def run(entries: list[NewEntry]) -> None:
        try:
            go.wait()
            for entry in entries:
                ledger.append([entry])
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

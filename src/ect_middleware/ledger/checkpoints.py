"""WAL checkpoints off the request path, in a background thread of each process.

By default SQLite checkpoints inside the commit that pushes the WAL past 1,000 pages: that
one request copies the pages back into the database and waits for two fsyncs: a pause
of milliseconds for whichever request happens to fill the WAL, which shows in the
average append too. Here the request connections only checkpoint
as a backstop (at ``BACKSTOP_PAGES``), and a daemon thread with its own connection runs a
PASSIVE checkpoint every ``EVERY_APPENDS`` appends or ``INTERVAL`` seconds, whichever comes
first. SQLite does the work without the GIL, so it overlaps with the requests.

Durability does not depend on this thread: a commit is in the WAL before ``append``
returns; checkpoints only move committed pages into the main file.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import weakref
from collections.abc import Callable

from ..errors import LedgerError
from ..logs import log

#: Request connections still checkpoint themselves past this many WAL pages (about 40 MB),
#: so the WAL stays bounded even if the background thread cannot run.
BACKSTOP_PAGES = 10_000
EVERY_APPENDS = 200
INTERVAL = 1.0
#: The thread ends after this long without appends (and starts again on the next one), so
#: ledgers that are never closed do not keep a thread each.
IDLE_EXIT = 30.0


_all: weakref.WeakSet[Checkpointer] = weakref.WeakSet()


class Checkpointer:
    """One background checkpointing thread per ledger per process, started lazily."""

    def __init__(self, connection: Callable[[], sqlite3.Connection]) -> None:
        #: the calling thread's connection (the ledger's per-thread connections)
        self._connection = connection
        self._closed = False
        self._forked()
        _all.add(self)

    def _forked(self) -> None:
        """Fresh state: at creation, and in a child after ``fork`` (the thread is not
        there, and the lock may have been held by it at the moment of the fork)."""
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._appends = 0

    def appended(self) -> None:
        """Called after each append: start the thread if needed, wake it when due."""
        with self._lock:
            if self._closed:
                return
            self._appends += 1
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="ect-ledger-checkpoint", daemon=True
                )
                self._thread.start()
            elif self._appends >= EVERY_APPENDS:
                self._wake.set()

    def close(self) -> None:
        """Stop the thread (it finishes a checkpoint in progress first)."""
        with self._lock:
            self._closed = True
            thread = self._thread
        self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(10)

    def _run(self) -> None:
        idle = 0.0
        try:
            conn = self._connection()
            while True:
                woken = self._wake.wait(INTERVAL)
                self._wake.clear()
                with self._lock:
                    if self._closed:
                        return
                    busy, self._appends = self._appends, 0
                if not woken and not busy:
                    idle += INTERVAL
                    if idle >= IDLE_EXIT:
                        return
                    continue
                idle = 0.0
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except (sqlite3.Error, LedgerError) as exc:  # e.g. the file was removed
            log.warning("ect.ledger.checkpoint_stopped", reason=str(exc))


def _after_fork_in_child() -> None:
    for checkpointer in list(_all):
        checkpointer._forked()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)

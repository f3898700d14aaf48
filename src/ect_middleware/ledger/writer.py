"""Appends on a thread of their own, with group commit.

An event loop must never wait on the ledger: a SQLite commit takes about 100 µs, and a
writer that waits on another process's lock takes milliseconds, during which no other
request would make progress. So requests hand their entries to this writer and await a
future. Entries handed over while a transaction is being written go into the next one
together: one commit for many requests, and each caller still resumes only once its own
entries are durable. Batches are written in the order they were submitted.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future

from ..errors import LedgerError
from .base import Ledger, LedgerEntry, NewEntry

#: At most this many entries in one transaction; the rest wait for the next one.
MAX_BATCH_ENTRIES = 512

_Batch = tuple[Sequence[NewEntry], "Future[list[LedgerEntry]]"]


class LedgerWriter:
    """One writer thread per ledger per process, started on first use."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._closed = False
        self._reset()

    def _reset(self) -> None:
        """Fresh state: at creation, and in a child after ``fork`` (no thread there)."""
        self._pid = os.getpid()
        self._cond = threading.Condition()
        self._queue: deque[_Batch] = deque()
        self._thread: threading.Thread | None = None

    def submit(self, entries: Sequence[NewEntry]) -> Future[list[LedgerEntry]]:
        """Queue ``entries`` for one transaction; the future gives them sealed."""
        future: Future[list[LedgerEntry]] = Future()
        if self._pid != os.getpid():
            self._reset()
        with self._cond:
            if self._closed:
                raise LedgerError("the ledger is closed")
            self._queue.append((entries, future))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="ect-ledger-writer", daemon=True
                )
                self._thread.start()
            self._cond.notify()
        return future

    def append(self, entries: Sequence[NewEntry]) -> list[LedgerEntry]:
        """``submit`` and wait: for threads that may block (WSGI workers, thread pools)."""
        return self.submit(entries).result()

    def close(self) -> None:
        """Write what is queued, then stop the thread."""
        with self._cond:
            self._closed = True
            thread = self._thread
            self._cond.notify()
        if thread is not None and thread is not threading.current_thread():
            thread.join(30)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if not self._queue:
                    return  # closed and drained
                batches = self._take()
            self._write(batches)

    def _take(self) -> list[_Batch]:
        batches = [self._queue.popleft()]
        size = len(batches[0][0])
        while self._queue and size + len(self._queue[0][0]) <= MAX_BATCH_ENTRIES:
            batches.append(self._queue.popleft())
            size += len(batches[-1][0])
        return batches

    def _write(self, batches: list[_Batch]) -> None:
        # Written even when a caller has given up waiting (a cancelled request): what it
        # handed over is part of the record.
        waiting = [future.set_running_or_notify_cancel() for _, future in batches]
        try:
            sealed = self._ledger.append([e for entries, _ in batches for e in entries])
        except BaseException as exc:  # every caller of the transaction learns of it
            for (_, future), live in zip(batches, waiting, strict=True):
                if live:
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        start = 0
        for (entries, future), live in zip(batches, waiting, strict=True):
            if live:
                future.set_result(sealed[start : start + len(entries)])
            start += len(entries)

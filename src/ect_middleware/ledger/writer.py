"""Appends that never keep an event loop waiting, with group commit.

An event loop must never wait on the ledger: an append that waits for another process's
write lock (or for a network round trip, or a disk sync) would stop every other request
for milliseconds. So requests hand their entries to this writer and get a future:

- When the writer has nothing in hand and the engine can append without waiting
  (``append_nowait``: SQLite when its write lock is free, in ``synchronous=normal``), the
  append runs at once in the caller's thread. It costs what it costs on a thread (CPU
  time, like a signature) without the thread hand-offs, which can take longer than the
  append itself on a machine with few cores.
- Otherwise the batch goes to the writer's thread. Batches handed over while it writes go
  into the next transaction together: one commit for many requests, and each caller still
  resumes only once its own entries are durable.

Batches are written in the order they were submitted: one is never written at once while
an earlier one waits in the queue.

With ``background=True`` (``ECT_LEDGER_WRITE=background``) every batch goes to the
writer's thread and ``submit`` returns a future that is already done: the caller goes on
(and answers its request) before its entries are durable. The thread writes what has
accumulated in one transaction, in submission order; a failed write cannot reach a caller
any more, so it is logged (``ect.ledger_failed``) and those entries are lost. ``close``
writes everything still queued; so does the interpreter's exit, which would otherwise stop
the (daemon) thread with batches in hand. A crash of the process loses what was queued and not
yet committed: the loss window docs/PROFILE.md and docs/SECURITY.md describe.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future

from ..errors import LedgerError
from ..logs import log
from .base import Ledger, LedgerEntry, NewEntry

#: At most this many entries in one transaction; the rest wait for the next one.
MAX_BATCH_ENTRIES = 512
#: In background mode the thread, woken by a first batch, gathers what arrives for up to
#: this long (or until a transaction is full, or ``drain``/``close``) before it writes:
#: one commit, and one thread wake-up, for many requests. It bounds how much later than
#: the response an entry is committed, so it is part of the documented loss window.
GATHER_SECONDS = 0.005

#: What ``submit`` returns in background mode: done, with nothing sealed to give. One
#: shared future, since nobody waits on it and a done future cannot change.
_QUEUED: Future[list[LedgerEntry]] = Future()
_QUEUED.set_result([])

#: the entries, and the future of the caller waiting for them (None: nobody waits)
_Batch = tuple[Sequence[NewEntry], "Future[list[LedgerEntry]] | None"]


class LedgerWriter:
    """One writer thread per ledger per process, started on first use."""

    def __init__(self, ledger: Ledger, *, background: bool = False) -> None:
        """``background``: every batch is written by the thread, behind its caller."""
        self._ledger = ledger
        #: whether the ledger keeps what it is given (``Ledger.records``)
        self.records = ledger.records
        self._background = background
        self._closed = False
        self._reset()

    def _reset(self) -> None:
        """Fresh state: at creation, and in a child after ``fork`` (no thread there)."""
        self._pid = os.getpid()
        self._cond = threading.Condition()
        self._queue: deque[_Batch] = deque()
        self._writing = False
        self._hurry = False  # ``drain`` waits: stop gathering
        self._thread: threading.Thread | None = None

    def submit(self, entries: Sequence[NewEntry]) -> Future[list[LedgerEntry]]:
        """Write ``entries`` in one transaction, at once or on the writer's thread; the
        future gives them sealed (it is already done when they were written at once).

        In background mode the future is done at once, with an empty list: the entries
        are only queued, and a failure to write them is logged, not raised."""
        if self._pid != os.getpid():
            self._reset()
        future: Future[list[LedgerEntry]] = _QUEUED if self._background else Future()
        if not self._background and self._idle():
            sealed = self._ledger.append_nowait(entries)
            if sealed is not None:
                future.set_result(sealed)
                return future
        with self._cond:
            if self._closed:
                raise LedgerError("the ledger is closed")
            was_empty = not self._queue
            self._queue.append((entries, None if self._background else future))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="ect-ledger-writer", daemon=True
                )
                self._thread.start()
                if self._background:
                    atexit.register(self.close)  # idempotent; unregistered by close
            if was_empty or not self._background:  # a gathering thread is not woken
                self._cond.notify_all()  # the thread, and any ``drain``
        return future

    def append(self, entries: Sequence[NewEntry]) -> list[LedgerEntry]:
        """``submit`` and wait: for threads that may block (WSGI workers, thread pools).
        A list of the caller's own: in background mode the future's is shared."""
        return list(self.submit(entries).result())

    def _idle(self) -> bool:
        """Nothing queued or being written (so nothing submitted earlier is pending)."""
        with self._cond:
            if self._closed:
                raise LedgerError("the ledger is closed")
            return not self._queue and not self._writing

    def drain(self) -> None:
        """Wait until everything submitted so far is written (or has failed)."""
        with self._cond:
            while (self._queue or self._writing) and self._thread is not None:
                if not self._thread.is_alive():
                    return
                self._hurry = True
                self._cond.notify_all()
                self._cond.wait(0.1)
            self._hurry = False

    def close(self) -> None:
        """Write what is queued, then stop the thread."""
        with self._cond:
            self._closed = True
            thread = self._thread
            self._cond.notify_all()  # the thread, and any ``drain``
        if self._background:
            atexit.unregister(self.close)
        if thread is not None and thread is not threading.current_thread():
            thread.join(30)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if self._background:
                    self._gather()
                if not self._queue:
                    return  # closed and drained
                batches = self._take()
                self._writing = True
            try:
                self._write(batches)
            finally:
                with self._cond:
                    self._writing = False
                    self._cond.notify_all()  # for ``drain``

    def _gather(self) -> None:
        """Wait (holding no lock) for more batches to share the transaction."""
        deadline = time.monotonic() + GATHER_SECONDS
        while not (self._closed or self._hurry):
            if sum(len(entries) for entries, _ in self._queue) >= MAX_BATCH_ENTRIES:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._cond.wait(remaining)

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
        waiting = [
            future is not None and future.set_running_or_notify_cancel() for _, future in batches
        ]
        try:
            sealed = self._ledger.append([e for entries, _ in batches for e in entries])
        except BaseException as exc:  # every caller of the transaction learns of it
            for (_, future), live in zip(batches, waiting, strict=True):
                if future is not None and live:
                    future.set_exception(exc)
            if any(future is None for _, future in batches):  # nobody waits: say so here
                lost = sum(len(entries) for entries, future in batches if future is None)
                log.error("ect.ledger_failed", reason=str(exc), lost_entries=lost)
            if not isinstance(exc, Exception):
                raise
            return
        start = 0
        for (entries, future), live in zip(batches, waiting, strict=True):
            if future is not None and live:
                future.set_result(sealed[start : start + len(entries)])
            start += len(entries)

"""In-process ledger engine (``memory://``): for tests, the demo and single-process tools.

Nothing survives the process. One lock serialises appends, so threads never fork the chain.
Readers do not take the lock: the list only grows, so an index into it stays valid.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from ..limits import Clock, system_clock
from .base import GENESIS_HASH, Ledger, LedgerEntry, NewEntry, seal_after


class MemoryLedger(Ledger):
    """A thread-safe, hash-chained list of entries with a separately kept head."""

    def __init__(self, *, clock: Clock = system_clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: list[LedgerEntry] = []
        self._by_jti: dict[str, list[LedgerEntry]] = {}
        self._head: tuple[int, str] = (0, GENESIS_HASH)

    def append(self, entries: Sequence[NewEntry]) -> list[LedgerEntry]:
        if not entries:
            return []
        with self._lock:
            sealed = seal_after(self._head, entries, int(self._clock() * 1_000_000))
            for recorded in sealed:
                self._by_jti.setdefault(recorded.jti, []).append(recorded)
            self._entries.extend(sealed)
            self._head = (sealed[-1].seq, sealed[-1].hash)
        return sealed

    def append_nowait(self, entries: Sequence[NewEntry]) -> list[LedgerEntry]:
        """``append``: it never waits for more than another thread's append in memory."""
        return self.append(entries)

    def find(self, jti: str) -> list[LedgerEntry]:
        with self._lock:
            return list(self._by_jti.get(jti, ()))

    def entries(self, *, wid: str | None = None) -> Iterator[LedgerEntry]:
        """Entries in chain order, including those appended while iterating (as SQLite)."""
        return self._iterate(None, wid)

    def head(self) -> tuple[int, str]:
        with self._lock:
            return self._head

    @contextmanager
    def snapshot(self) -> Iterator[_MemorySnapshot]:
        """A view whose ``head`` and ``entries`` agree even while others append."""
        with self._lock:
            head = self._head
        yield _MemorySnapshot(self, head)

    def close(self) -> None:
        """Nothing to release: the entries live as long as this object."""

    def _iterate(self, stop: int | None, wid: str | None) -> Iterator[LedgerEntry]:
        index = 0
        while index < (len(self._entries) if stop is None else stop):
            entry = self._entries[index]
            index += 1
            if wid is None or entry.wid == wid:
                yield entry


class _MemorySnapshot:
    def __init__(self, ledger: MemoryLedger, head: tuple[int, str]) -> None:
        self._ledger = ledger
        self._head = head

    def entries(self, *, wid: str | None = None) -> Iterator[LedgerEntry]:
        return self._ledger._iterate(self._head[0], wid)

    def head(self) -> tuple[int, str]:
        return self._head

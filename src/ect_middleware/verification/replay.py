"""Replay caches: remember a token id until the token could no longer be verified anyway."""

from __future__ import annotations

import heapq
import threading
from typing import Protocol

from ..limits import Clock


class ReplayCache(Protocol):
    def first_use(self, key: str, expires_at: float) -> bool:
        """Record ``key`` until ``expires_at``; False if it was already recorded (a replay)."""


class MemoryReplayCache:
    """Per-process replay cache, bounded in size; entries expire with their tokens.

    When full of unexpired entries, the entry closest to expiry is dropped first: that is the
    token with the least time left to be replayed in.
    """

    def __init__(self, clock: Clock, max_entries: int = 500_000) -> None:
        self._clock = clock
        self._max = max_entries
        self._expiry: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._expiry)

    def first_use(self, key: str, expires_at: float) -> bool:
        now = self._clock()
        with self._lock:
            self._purge(now)
            if key in self._expiry:
                return False
            if len(self._expiry) >= self._max:
                _, oldest = heapq.heappop(self._heap)
                self._expiry.pop(oldest, None)
            self._expiry[key] = expires_at
            heapq.heappush(self._heap, (expires_at, key))
            return True

    def _purge(self, now: float) -> None:
        heap, expiry = self._heap, self._expiry
        while heap and heap[0][0] <= now:
            _, key = heapq.heappop(heap)
            if expiry.get(key, now + 1) <= now:
                del expiry[key]

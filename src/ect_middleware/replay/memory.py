"""The per-process replay cache (``ECT_REPLAY=memory://``, the default)."""

from __future__ import annotations

import hashlib
import heapq
import math
import secrets
import threading

from ..errors import ECTError
from ..limits import Clock
from .base import DEFAULT_MAX_PER_CALLER, CallerQuota, ReplayCache


class MemoryReplayCache(ReplayCache):
    """Per-process replay cache, bounded in size; entries expire with their tokens.

    Every request leaves two keys (its WPT's and its ECT's) for up to six minutes, so at a
    few hundred requests a second the cache holds a few hundred thousand of them. They are
    kept small: each key is stored as a 64-bit keyed BLAKE2b fingerprint in a set, and
    expiry is tracked per whole second (a bucket of fingerprints per second, rounded up, so
    nothing is forgotten early): a fraction of what the key string and its dict and heap
    entries would take, which is what keeps the cache's memory bounded under load.

    A fingerprint collision would make a fresh token look replayed (never the reverse):
    with 2^64 values and a secret per-process key that nobody can aim at, at a million
    live keys the chance for a given token is about 1 in 10^13.

    When full of unexpired entries, a new key is refused (``replay.unavailable``, 503),
    never made room for by forgetting one that could still be replayed; and no caller may
    hold more than ``max_per_caller`` live keys (``CallerQuota``), so that one caller alone
    cannot fill it.
    """

    def __init__(
        self,
        clock: Clock,
        max_entries: int = 500_000,
        *,
        max_per_caller: int = DEFAULT_MAX_PER_CALLER,
    ) -> None:
        self._clock = clock
        self._max = max_entries
        self._quota = CallerQuota(max_per_caller)
        self._secret = secrets.token_bytes(16)
        self._seen: set[int] = set()
        self._buckets: dict[int, list[int]] = {}  # expiry second -> fingerprints
        self._seconds: list[int] = []  # heap of the buckets' seconds
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._seen)

    def __bool__(self) -> bool:
        """A cache is a cache, empty or not (``replay or default`` must keep it)."""
        return True

    def close(self) -> None:
        """Nothing to release: the keys live as long as this object."""

    def first_use(self, key: str, expires_at: float, owner: str | None = None) -> bool:
        digest = hashlib.blake2b(key.encode(), digest_size=8, key=self._secret).digest()
        fingerprint = int.from_bytes(digest, "big")
        second = math.ceil(expires_at)
        now = self._clock()
        with self._lock:
            self._purge(now)
            if fingerprint in self._seen:
                return False
            if len(self._seen) >= self._max:
                raise ECTError("replay.unavailable", "the replay cache is full")
            self._quota.charge(owner, second, now)
            self._seen.add(fingerprint)
            bucket = self._buckets.get(second)
            if bucket is None:
                bucket = self._buckets[second] = []
                heapq.heappush(self._seconds, second)
            bucket.append(fingerprint)
            return True

    def _purge(self, now: float) -> None:
        seconds, buckets, seen = self._seconds, self._buckets, self._seen
        while seconds and seconds[0] <= now:
            for fingerprint in buckets.pop(heapq.heappop(seconds)):
                seen.discard(fingerprint)

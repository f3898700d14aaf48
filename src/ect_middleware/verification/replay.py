"""Replay caches: remember a token id until the token could no longer be verified anyway."""

from __future__ import annotations

import hashlib
import heapq
import math
import secrets
import threading
from typing import Protocol

from ..errors import ECTError
from ..limits import Clock, Limits

DEFAULT_MAX_PER_CALLER = Limits.replay_max_per_caller


class ReplayCache(Protocol):
    def first_use(self, key: str, expires_at: float, owner: str | None = None) -> bool:
        """Record ``key`` until ``expires_at``; False if it was already recorded (a replay).

        ``owner`` (the caller whose token it is) is charged for the key while it lives:
        past its share of the cache the key is refused (``replay.caller_limit``), and
        a cache that cannot record a key raises ``replay.unavailable``: a key is never
        forgotten before its expiry to make room, which would let its token be replayed.
        """

    def close(self) -> None:
        """Release connections; the cache is not used afterwards."""


class MemoryReplayCache:
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


class CallerQuota:
    """How many live replay keys each caller holds in one cache, in this process.

    A key is charged to its owner until its expiry second; past ``max_per_caller`` live
    keys the owner's next key raises ``replay.caller_limit`` (429) before it is recorded.
    Counted per owner and expiry second, not per key, so it costs a few bytes per caller
    and second. Shared caches (SQLite, Redis) keep one per process: a caller can hold at
    most ``max_per_caller`` keys per process.
    """

    def __init__(self, max_per_caller: int) -> None:
        self._max = max_per_caller
        self._live: dict[str, int] = {}
        self._by_second: dict[int, dict[str, int]] = {}
        self._seconds: list[int] = []  # heap of the keys of _by_second
        self._lock = threading.Lock()

    def charge(self, owner: str | None, second: int, now: float) -> None:
        """Charge ``owner`` one key until ``second``; raise if it already holds its share."""
        if owner is None:
            return
        with self._lock:
            self._release(now)
            held = self._live.get(owner, 0)
            if held >= self._max:
                raise ECTError("replay.caller_limit", "too many live tokens from this caller")
            self._live[owner] = held + 1
            owners = self._by_second.get(second)
            if owners is None:
                owners = self._by_second[second] = {}
                heapq.heappush(self._seconds, second)
            owners[owner] = owners.get(owner, 0) + 1

    def refund(self, owner: str | None, second: int) -> None:
        """Undo a ``charge`` whose key was not recorded after all."""
        if owner is None:
            return
        with self._lock:
            owners = self._by_second.get(second)
            if owners is None or owners.get(owner, 0) == 0:
                return
            owners[owner] -= 1
            self._live[owner] -= 1

    def _release(self, now: float) -> None:
        seconds, live = self._seconds, self._live
        while seconds and seconds[0] <= now:
            for owner, count in self._by_second.pop(heapq.heappop(seconds)).items():
                left = live[owner] - count
                if left > 0:
                    live[owner] = left
                else:
                    del live[owner]

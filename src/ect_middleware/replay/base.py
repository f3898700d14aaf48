"""The replay caches' contract: remember a token id until the token could no longer be
verified anyway, and never forget one sooner."""

from __future__ import annotations

import heapq
import threading
from abc import ABC, abstractmethod

from ..errors import ECTError
from ..limits import Limits

DEFAULT_MAX_PER_CALLER = Limits.replay_max_per_caller


class ReplayCache(ABC):
    """What every replay cache engine (memory, SQLite, Redis) implements."""

    @abstractmethod
    def first_use(self, key: str, expires_at: float, owner: str | None = None) -> bool:
        """Record ``key`` until ``expires_at``; False if it was already recorded (a replay).

        ``owner`` (the caller whose token it is) is charged for the key while it lives:
        past its share of the cache the key is refused (``replay.caller_limit``), and
        a cache that cannot record a key raises ``replay.unavailable``: a key is never
        forgotten before its expiry to make room, which would let its token be replayed.
        """

    @abstractmethod
    def close(self) -> None:
        """Release connections; the cache is not used afterwards."""


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

"""How many rejections get a signed ledger entry of their own.

Were every rejected request to leave one, anyone able to send requests could grow the
ledger at will. Entries of their own are limited by a token bucket (``burst``, then
``per_second``); a rejection beyond it is counted by code instead, and the counts go into
the next rejection that is recorded (``unrecorded_rejections`` in its ``ext``), or into a
record of their own when the service closes. So the ledger grows by at most the bucket's
rate however fast rejections come, and no rejection goes unaccounted for (only a crash
loses the counts made since the last recorded one).
"""

from __future__ import annotations

import threading

from .limits import Clock


class RejectionBudget:
    def __init__(self, clock: Clock, burst: int, per_second: float) -> None:
        self._clock = clock
        self._burst = float(burst)
        self._rate = per_second
        self._tokens = float(burst)
        self._refilled = clock()
        self._unrecorded: dict[str, int] = {}
        self._lock = threading.Lock()

    def admit(self, code: str) -> dict[str, int] | None:
        """None: count this rejection, record nothing. Otherwise record it, with these
        counts of the rejections not recorded since the last one (possibly empty)."""
        now = self._clock()
        with self._lock:
            elapsed = max(0.0, now - self._refilled)
            self._tokens = min(self._burst, self._tokens + elapsed * self._rate)
            self._refilled = now
            if self._tokens < 1:
                self._unrecorded[code] = self._unrecorded.get(code, 0) + 1
                return None
            self._tokens -= 1
            counted, self._unrecorded = self._unrecorded, {}
            return counted

    def drain(self) -> dict[str, int]:
        """The counts not yet recorded anywhere (the service is closing)."""
        with self._lock:
            counted, self._unrecorded = self._unrecorded, {}
            return counted

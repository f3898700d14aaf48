"""The fixed instant the tests run at, and clocks that stand at it.

Tokens minted and verified at ``NOW`` make every time check exact; a test that needs time
to pass moves a ``MovableClock`` instead of waiting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

#: The instant every test with a fixed clock runs at (2027-01-15T08:00:00Z).
NOW = 1_800_000_000
#: What a ledger with ``fixed_clock`` records as ``recorded_at``: 2027-01-15T08:00:00.250000Z.
RECORDED_AT = NOW + 0.25


def clock() -> float:
    """A clock standing at ``NOW``."""
    return float(NOW)


def fixed(at: float) -> Callable[[], float]:
    """A clock standing at ``at``."""
    return lambda: at


def fixed_clock() -> float:
    """The ledgers' clock: a quarter second past ``NOW``, so ``recorded_at`` has a fraction."""
    return RECORDED_AT


class MovableClock:
    """A clock standing at ``now`` until a test moves it."""

    def __init__(self, now: float) -> None:
        self.now = float(now)

    def __call__(self) -> float:
        return self.now

    @contextmanager
    def shifted(self, seconds: float) -> Iterator[None]:
        before = self.now
        self.now = before + seconds
        try:
            yield
        finally:
            self.now = before

"""The bounds every check is measured against (PROFILE §9), and the clock they use.

All time-dependent code takes a ``Clock`` so that tests can verify tokens at fixed instants.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

#: Seconds since the epoch, like ``time.time``.
Clock = Callable[[], float]

system_clock: Clock = time.time


@dataclass(frozen=True)
class Limits:
    max_token_bytes: int = 16 * 1024
    max_ect_header_bytes: int = 64 * 1024
    leeway: int = 60
    dag_skew: int = 30
    ect_lifetime: int = 300
    #: the longest ECT accepted: ``exp - iat`` and ``exp - now`` (+ leeway) at most this
    ect_max_lifetime: int = 900
    wpt_lifetime: int = 60
    wpt_max_lifetime: int = 300
    max_parents: int = 256
    max_ects_per_request: int = 32
    max_ancestors: int = 10_000
    ext_max_bytes: int = 4096
    ext_max_depth: int = 5
    #: live replay-cache keys one caller may hold in one process's cache
    replay_max_per_caller: int = 100_000
    #: rejections recorded with an entry of their own: a burst, then a rate; the others
    #: are counted into the next one recorded (``rejection_budget``)
    rejections_recorded_burst: int = 1000
    rejections_recorded_per_second: float = 10.0

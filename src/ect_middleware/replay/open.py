"""Open a replay cache from its URL (``ECT_REPLAY``), as ``ledger.open`` opens a ledger.

- ``memory://`` (the default): per process. Enough for one process; with several
  replicas or worker processes a token replayed to another one is not recognised.
- ``sqlite:///relative.db`` or ``sqlite:////abs/path.db``: shared by the worker processes
  of one host (see ``replay.sqlite``).
- ``redis://host:6379/0`` or ``rediss://...``: shared by every replica (see
  ``replay.redis``; needs the ``[redis]`` extra).

Each scheme maps to a small factory in ``ENGINES``. Error messages name the scheme, never
the URL, which may hold a password.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import SplitResult

from ..limits import Clock
from ..storage_urls import engine_for, options, sqlite_path
from .base import DEFAULT_MAX_PER_CALLER, ReplayCache
from .memory import MemoryReplayCache
from .sqlite import SQLiteReplayCache

#: (parsed URL, clock, max_per_caller) -> replay cache.
EngineFactory = Callable[[SplitResult, Clock, int], ReplayCache]


def _memory(url: SplitResult, clock: Clock, max_per_caller: int) -> ReplayCache:
    if url.netloc or url.path or url.query:
        raise ValueError("a memory:// replay cache URL takes no host, path or options")
    return MemoryReplayCache(clock, max_per_caller=max_per_caller)


def _sqlite(url: SplitResult, clock: Clock, max_per_caller: int) -> ReplayCache:
    path = sqlite_path(url, "replay cache")
    options(url, (), "sqlite replay cache")
    return SQLiteReplayCache(path, clock, max_per_caller=max_per_caller)


def _redis(url: SplitResult, clock: Clock, max_per_caller: int) -> ReplayCache:
    try:  # imported here: the base install has no redis client
        from .redis import RedisReplayCache
    except ImportError as exc:
        raise ValueError(
            "a redis replay cache needs the redis extra: pip install 'ect-middleware[redis]'"
        ) from exc
    return RedisReplayCache.from_url(url, clock, max_per_caller=max_per_caller)


ENGINES: dict[str, EngineFactory] = {
    "memory": _memory,
    "sqlite": _sqlite,
    "redis": _redis,
    "rediss": _redis,
}


def open_replay_cache(
    url: str, clock: Clock, *, max_per_caller: int = DEFAULT_MAX_PER_CALLER
) -> ReplayCache:
    """The replay cache at ``url``."""
    factory, parsed = engine_for(url, ENGINES, "replay cache")
    return factory(parsed, clock, max_per_caller)

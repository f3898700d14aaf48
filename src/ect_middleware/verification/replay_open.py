"""Open a replay cache from its URL (``ECT_REPLAY``).

- ``memory://`` (the default): per process. Enough for one process; with several
  replicas or worker processes a token replayed to another one is not recognised.
- ``sqlite:///relative.db`` or ``sqlite:////abs/path.db``: shared by the worker processes
  of one host (see ``replay_sqlite``).
- ``redis://host:6379/0`` or ``rediss://...``: shared by every replica (see
  ``replay_redis``; needs the ``[redis]`` extra).

Error messages name the scheme, never the URL, which may hold a password.
"""

from __future__ import annotations

from ..limits import Clock
from .replay import DEFAULT_MAX_PER_CALLER, MemoryReplayCache, ReplayCache

SCHEMES = ("memory://", "sqlite://", "redis://", "rediss://")


def open_replay_cache(
    url: str, clock: Clock, *, max_per_caller: int = DEFAULT_MAX_PER_CALLER
) -> ReplayCache:
    scheme, separator, rest = url.partition("://")
    scheme = scheme.lower() if separator and scheme.isalnum() else ""
    if scheme == "memory":
        if rest:
            raise ValueError("a memory:// replay cache URL takes no host, path or options")
        return MemoryReplayCache(clock, max_per_caller=max_per_caller)
    if scheme == "sqlite":
        from .replay_sqlite import SQLiteReplayCache

        path = rest[1:] if rest.startswith("/") else ""
        if not path or "?" in path:
            raise ValueError("a sqlite replay cache URL is sqlite:///path.db (no host, no options)")
        return SQLiteReplayCache(path, clock, max_per_caller=max_per_caller)
    if scheme in ("redis", "rediss"):
        try:  # imported here: the base install has no redis client
            from .replay_redis import RedisReplayCache
        except ImportError as exc:
            raise ValueError(
                "a redis replay cache needs the redis extra: pip install 'ect-middleware[redis]'"
            ) from exc
        return RedisReplayCache.from_url(url, clock, max_per_caller=max_per_caller)
    named = f"scheme {scheme!r}" if scheme else "URL"
    raise ValueError(f"unsupported replay cache {named}; supported: {', '.join(SCHEMES)}")

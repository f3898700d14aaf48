"""A replay cache in Redis, shared by every replica of a service
(``ECT_REPLAY=redis://host:6379/0``; needs the ``[redis]`` extra).

With the default in-memory cache, a WPT or ECT replayed to *another* replica of the same
service is not recognised. Here each first use is one atomic ``SET key 1 NX PX ttl``: the
replica that sets the key wins, every later attempt anywhere is a replay. The key lives
exactly as long as the token could still be verified (its expiry plus leeway, counted
from this service's clock), so Redis never grows beyond the tokens in flight. Run it with
``maxmemory-policy noeviction``: an evicting Redis would forget unexpired keys (a replay
window); a full ``noeviction`` Redis refuses the write, which is ``replay.unavailable``.
Each process charges the keys it records to their callers (``CallerQuota``).

Fail closed: if Redis cannot answer, ``first_use`` raises the ``replay.unavailable``
rejection (503). A token is never accepted without its use having been recorded.

URL options: ``prefix`` (key prefix, default ``ect:replay:``, so one Redis can serve
several services or tests); every other query parameter goes to redis-py
(``socket_timeout``, ``socket_connect_timeout``, ``ssl_cert_reqs``...). The database
number is the URL path (``redis://host:6379/2``). Messages never contain the URL.
"""

from __future__ import annotations

import math
from urllib.parse import SplitResult, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ..errors import ECTError
from ..limits import Clock
from ..logs import log
from ..storage_urls import driver_options
from .base import DEFAULT_MAX_PER_CALLER, CallerQuota, ReplayCache

DEFAULT_PREFIX = "ect:replay:"
#: Seconds; a blackholed Redis delays a request by at most about this before the 503.
DEFAULT_TIMEOUT = "2"
_TIMEOUTS = {"socket_timeout": DEFAULT_TIMEOUT, "socket_connect_timeout": DEFAULT_TIMEOUT}


class RedisReplayCache(ReplayCache):
    """``ReplayCache`` over one Redis client (thread-safe; fork-safe: redis-py's pool
    reconnects in a child process)."""

    def __init__(
        self,
        client: redis.Redis,
        clock: Clock,
        *,
        prefix: str = DEFAULT_PREFIX,
        max_per_caller: int = DEFAULT_MAX_PER_CALLER,
    ) -> None:
        self._client = client
        self._clock = clock
        self.prefix = prefix
        self._quota = CallerQuota(max_per_caller)

    @classmethod
    def from_url(
        cls, url: SplitResult, clock: Clock, *, max_per_caller: int = DEFAULT_MAX_PER_CALLER
    ) -> RedisReplayCache:
        """``redis://[user[:password]@]host[:port][/db][?prefix=ect:replay:&...]``"""
        ours, rest = driver_options(url, ("prefix",), _TIMEOUTS)
        prefix = ours.get("prefix", DEFAULT_PREFIX)
        plain = urlunsplit((url.scheme, url.netloc, url.path, rest, ""))
        try:
            client = redis.Redis.from_url(
                plain,
                # One immediate retry on a fresh connection: a pooled connection that a
                # Redis restart dropped is replaced instead of failing a request.
                retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
            )
        except ValueError as exc:  # redis-py's messages name options, not the URL
            raise ValueError(f"bad redis replay cache URL: {exc}") from None
        return cls(client, clock, prefix=prefix, max_per_caller=max_per_caller)

    def first_use(self, key: str, expires_at: float, owner: str | None = None) -> bool:
        now = self._clock()
        ttl_ms = max(1, math.ceil((expires_at - now) * 1000))
        second = math.ceil(expires_at)
        self._quota.charge(owner, second, now)
        first = False
        try:
            first = bool(self._client.set(self.prefix + key, b"1", nx=True, px=ttl_ms))
        except redis.RedisError as exc:
            log.error("ect.replay_unavailable", error=type(exc).__name__)
            raise ECTError("replay.unavailable", "the replay cache is unavailable") from None
        finally:
            if not first:
                self._quota.refund(owner, second)
        return first

    def close(self) -> None:
        self._client.close()

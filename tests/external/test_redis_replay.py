"""The Redis replay cache on a real Redis: one atomic first use, shared by every instance,
forgotten when the token could no longer be verified, failing closed when Redis is down."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from ect_middleware.errors import CODES, ECTError
from ect_middleware.replay import MemoryReplayCache, open_replay_cache
from ect_middleware.replay.redis import RedisReplayCache
from ect_middleware.runtime import Runtime

from ..support.clock import NOW, clock
from ..support.mesh import Mesh
from ..support.services import NOWHERE_PORT, REDIS, redis_client, with_options


def test_first_use_then_replay(redis_url: str, redis_prefix: str) -> None:
    cache = open_replay_cache(redis_url, clock)
    assert isinstance(cache, RedisReplayCache)
    assert cache.first_use("wpt|b|a|1", NOW + 90) is True
    assert cache.first_use("wpt|b|a|1", NOW + 90) is False
    assert cache.first_use("wpt|b|a|2", NOW + 90) is True
    client = redis_client()
    try:
        # The key is prefixed, and lives exactly as long as the token could be verified.
        ttl = client.pttl(redis_prefix + "wpt|b|a|1")
        assert 89_000 < ttl <= 90_000
        assert client.get(redis_prefix + "wpt|b|a|1") == b"1"
    finally:
        client.close()


def test_a_use_is_forgotten_when_the_token_expires(redis_url: str) -> None:
    cache = open_replay_cache(redis_url, time.time)
    assert cache.first_use("ect|b|w|1", time.time() + 0.3) is True
    assert cache.first_use("ect|b|w|1", time.time() + 0.3) is False
    time.sleep(0.5)
    assert cache.first_use("ect|b|w|1", time.time() + 0.3) is True


def test_instances_share_uses_and_exactly_one_wins_a_race(redis_url: str) -> None:
    replicas = [open_replay_cache(redis_url, clock) for _ in range(8)]
    start = threading.Barrier(len(replicas))
    results: list[bool] = []

    def present(cache: object) -> None:
        assert isinstance(cache, RedisReplayCache)
        start.wait()
        results.append(cache.first_use("wpt|b|a|race", NOW + 60))

    threads = [threading.Thread(target=present, args=(r,)) for r in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]


def test_prefixes_keep_services_apart(redis_prefix: str) -> None:
    one = open_replay_cache(with_options(REDIS, prefix=redis_prefix + "one:"), clock)
    two = open_replay_cache(with_options(REDIS, prefix=redis_prefix + "two:"), clock)
    assert one.first_use("k", NOW + 60) is True
    assert two.first_use("k", NOW + 60) is True


def test_redis_down_fails_closed_without_the_url() -> None:
    url = f"redis://:s3cret@127.0.0.1:{NOWHERE_PORT}/0"
    cache = open_replay_cache(url, clock)
    with pytest.raises(ECTError) as raised:
        cache.first_use("wpt|b|a|1", NOW + 60)
    error = raised.value
    assert (error.code, error.status) == ("replay.unavailable", 503)
    assert CODES["replay.unavailable"] == (503, "replay cache unavailable")
    assert error.problem()["detail"] == "the replay cache is unavailable"
    assert "s3cret" not in str(error)
    assert str(NOWHERE_PORT) not in str(error)


def test_url_options_go_to_redis_and_prefix_stays_ours(redis_prefix: str) -> None:
    cache = open_replay_cache(with_options(REDIS, prefix=redis_prefix, socket_timeout="0.5"), clock)
    assert isinstance(cache, RedisReplayCache)
    assert cache.prefix == redis_prefix
    kwargs = cache._client.connection_pool.connection_kwargs
    assert (kwargs["socket_timeout"], kwargs["socket_connect_timeout"]) == (0.5, 2.0)
    assert kwargs["db"] == int(REDIS.rsplit("/", 1)[1])
    assert "prefix" not in kwargs
    default = open_replay_cache("rediss://cache.internal:6380/2", clock)  # not connected yet
    assert isinstance(default, RedisReplayCache)
    assert default.prefix == "ect:replay:"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("memcached://user:s3cret@host", "unsupported replay cache scheme 'memcached'"),
        (
            "localhost:6379",
            "unsupported replay cache URL; supported: memory://, sqlite://, redis://",
        ),
        ("memory://elsewhere", "a memory:// replay cache URL takes no host, path or options"),
        ("redis://:s3cret@host/0?socket_timeout=soon", "bad redis replay cache URL"),
    ],
)
def test_bad_urls_are_named_without_their_secrets(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        open_replay_cache(url, clock)
    assert "s3cret" not in str(raised.value)


def test_memory_is_the_default(mesh: Mesh, tmp_path: Path) -> None:
    assert isinstance(open_replay_cache("memory://", clock), MemoryReplayCache)
    runtime = Runtime(mesh.settings("b", "http://b.example"))
    assert isinstance(runtime.replay, MemoryReplayCache)
    runtime.close()


def test_ect_replay_selects_redis(mesh: Mesh, redis_url: str, redis_prefix: str) -> None:
    from ect_middleware import Settings

    wl = mesh["b"]
    settings = Settings.from_env(
        {
            "ECT_WORKLOAD_ID": wl.id,
            "ECT_KEY_FILE": str(wl.key_file),
            "ECT_WIT_FILE": str(wl.wit_file),
            "ECT_TRUST_BUNDLE": str(mesh.trust_bundle),
            "ECT_AUDIENCE": "http://b.example",
            "ECT_LEDGER": "memory://",
            "ECT_REPLAY": redis_url,
        }
    )
    runtime = Runtime(settings)
    assert isinstance(runtime.replay, RedisReplayCache)
    assert runtime.replay.prefix == redis_prefix
    runtime.close()


def test_a_caller_holds_at_most_its_share(redis_url: str) -> None:
    cache = open_replay_cache(redis_url, clock, max_per_caller=2)
    assert cache.first_use("m1", NOW + 60, "mallory")
    assert not cache.first_use("m1", NOW + 60, "mallory")  # a replay is not charged
    assert cache.first_use("m2", NOW + 60, "mallory")
    with pytest.raises(ECTError) as refused:
        cache.first_use("m3", NOW + 60, "mallory")
    assert (refused.value.code, refused.value.status) == ("replay.caller_limit", 429)
    assert cache.first_use("a1", NOW + 60, "alice")

"""The in-memory replay cache: a key is refused until it expires, and only then."""

from __future__ import annotations

from pathlib import Path

import pytest

from ect_middleware.errors import ECTError
from ect_middleware.replay import MemoryReplayCache
from ect_middleware.runtime import Runtime

from ..support.clock import NOW, MovableClock
from ..support.mesh import Mesh


def test_a_key_is_refused_until_it_expires() -> None:
    clock = MovableClock(NOW)
    cache = MemoryReplayCache(clock)
    assert cache.first_use("wpt|a", clock.now + 10.5)
    assert not cache.first_use("wpt|a", clock.now + 10.5)
    assert cache.first_use("wpt|b", clock.now + 10.5)  # another key is another token
    clock.now += 10.5  # the expiry second is rounded up: still remembered
    assert not cache.first_use("wpt|a", clock.now + 10)
    clock.now += 0.5
    assert cache.first_use("wpt|a", clock.now + 10)
    assert len(cache) == 1


def test_expired_keys_are_forgotten() -> None:
    clock = MovableClock(NOW)
    cache = MemoryReplayCache(clock)
    for i in range(1000):
        cache.first_use(f"ect|{i}", clock.now + i % 7)
    clock.now += 7
    cache.first_use("ect|new", clock.now + 60)
    assert len(cache) == 1


def test_when_full_a_new_key_is_refused_and_no_live_key_is_forgotten() -> None:
    clock = MovableClock(NOW)
    cache = MemoryReplayCache(clock, max_entries=3)
    cache.first_use("late", clock.now + 300)
    cache.first_use("soon", clock.now + 5)
    cache.first_use("later", clock.now + 600)
    with pytest.raises(ECTError) as refused:
        cache.first_use("new", clock.now + 60)
    assert (refused.value.code, refused.value.status) == ("replay.unavailable", 503)
    assert len(cache) == 3
    for key in ("late", "soon", "later"):
        assert not cache.first_use(key, clock.now + 600)  # still a replay
    clock.now += 5  # "soon" expires: room again
    assert cache.first_use("new", clock.now + 60)


def test_a_caller_holds_at_most_its_share_until_its_keys_expire() -> None:
    clock = MovableClock(NOW)
    cache = MemoryReplayCache(clock, max_per_caller=2)
    assert cache.first_use("m1", clock.now + 10, "mallory")
    assert cache.first_use("m2", clock.now + 20, "mallory")
    assert not cache.first_use("m2", clock.now + 20, "mallory")  # a replay costs nothing
    with pytest.raises(ECTError) as refused:
        cache.first_use("m3", clock.now + 20, "mallory")
    assert (refused.value.code, refused.value.status) == ("replay.caller_limit", 429)
    assert cache.first_use("a1", clock.now + 20, "alice")  # others are not affected
    clock.now += 10
    assert cache.first_use("m3", clock.now + 20, "mallory")


def test_an_empty_cache_given_to_the_runtime_is_the_one_it_uses(tmp_path: Path) -> None:
    cache = MemoryReplayCache(MovableClock(NOW))
    assert not len(cache)
    assert cache
    settings = Mesh(tmp_path).settings("b", "http://b.test")
    runtime = Runtime(settings, replay=cache)
    try:
        assert runtime.replay is cache
        assert runtime.verifier._replay is cache
    finally:
        runtime.close()

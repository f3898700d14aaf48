"""The in-memory replay cache: a key is refused until it expires, and only then."""

from __future__ import annotations

from ect_middleware.verification.replay import MemoryReplayCache


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_is_refused_until_it_expires() -> None:
    clock = Clock()
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
    clock = Clock()
    cache = MemoryReplayCache(clock)
    for i in range(1000):
        cache.first_use(f"ect|{i}", clock.now + i % 7)
    clock.now += 7
    cache.first_use("ect|new", clock.now + 60)
    assert len(cache) == 1


def test_when_full_the_key_closest_to_expiry_goes_first() -> None:
    clock = Clock()
    cache = MemoryReplayCache(clock, max_entries=3)
    cache.first_use("late", clock.now + 300)
    cache.first_use("soon", clock.now + 5)
    cache.first_use("later", clock.now + 600)
    cache.first_use("new", clock.now + 60)  # full: "soon" is dropped
    assert len(cache) == 3
    assert not cache.first_use("late", clock.now + 300)
    assert not cache.first_use("later", clock.now + 600)
    assert not cache.first_use("new", clock.now + 60)
    assert cache.first_use("soon", clock.now + 5)

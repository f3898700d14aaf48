"""``WatchedFile`` (the trust bundle and the service's WIT, re-read when they change) under
the conditions a rotation meets: a file caught half-written, a file that turns into
something unusable, a wall clock that is stepped back, and requests that come while another
thread is re-reading the file."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from types import TracebackType

import pytest

from ect_middleware.errors import ConfigurationError
from ect_middleware.tokens.trust import TrustBundle
from ect_middleware.watched import WatchedFile

from ..support.clock import NOW, MovableClock
from ..support.mesh import Mesh


@pytest.fixture
def bundle(hostile_mesh: Mesh, tmp_path: Path) -> Path:
    path = tmp_path / "bundle.json"
    path.write_bytes(hostile_mesh.trust_bundle.read_bytes())
    return path


def replace(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def test_a_half_written_file_keeps_the_last_good_value(bundle: Path) -> None:
    clock = MovableClock(NOW)
    watched = WatchedFile(str(bundle), TrustBundle.load, clock)
    first = watched.get()
    full = json.loads(bundle.read_text())
    domain = next(iter(full))
    only_one = json.dumps({domain: full[domain]})
    bundle.write_text(only_one[: len(only_one) // 2])  # caught mid-write
    clock.now += 2
    assert watched.get() is first
    bundle.write_text(only_one)  # the write completes
    clock.now += 2
    assert set(watched.get().domains) == {domain}


@pytest.mark.parametrize(
    "garbage",
    ["", "[]", '{"x": 1}', "[" * 100_000, "\udcff"],
    ids=["empty", "an array", "a bad domain", "nested 100,000 deep", "not UTF-8"],
)
def test_an_unusable_file_keeps_the_last_good_value(bundle: Path, garbage: str) -> None:
    clock = MovableClock(NOW)
    watched = WatchedFile(str(bundle), TrustBundle.load, clock)
    first = watched.get()
    bundle.write_bytes(garbage.encode("utf-8", "surrogateescape"))
    clock.now += 2
    assert watched.get() is first  # reported, never raised into a request


def test_a_clock_stepped_back_does_not_stop_the_reloads(bundle: Path) -> None:
    """An NTP step back by an hour must not freeze the trust bundle for an hour."""
    clock = MovableClock(NOW)
    watched = WatchedFile(str(bundle), TrustBundle.load, clock)
    first = watched.get()
    clock.now -= 3600
    full = json.loads(bundle.read_text())
    domain = next(iter(full))
    replace(bundle, json.dumps({domain: full[domain]}))
    clock.now += 2
    reloaded = watched.get()
    assert reloaded is not first
    assert set(reloaded.domains) == {domain}


class _Announced:
    """A lock that announces each thread coming to take it, before it waits."""

    def __init__(self, lock: threading.Lock, arrived: threading.Event) -> None:
        self.lock, self.arrived = lock, arrived

    def __enter__(self) -> bool:
        self.arrived.set()
        return self.lock.__enter__()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.lock.__exit__(kind, exc, tb)


def test_a_get_during_a_reload_returns_what_the_reload_loads(tmp_path: Path) -> None:
    """A request that comes while another thread re-reads the changed file (the re-read is
    due for both) must not be handed the value being replaced: after a rotation, no
    request that starts once the re-read is due signs with the previous key.

    The interleaving is fixed, not left to the scheduler: the re-read is held inside the
    loader until the second ``get`` has either returned or come to wait for the lock."""
    path = tmp_path / "value"
    path.write_text("old")
    loading, finish = threading.Event(), threading.Event()

    def loader(name: str) -> str:
        text = Path(name).read_text()
        if text == "new":  # the re-read, not the load at startup
            loading.set()
            assert finish.wait(60)
        return text

    clock = MovableClock(NOW)
    watched = WatchedFile(str(path), loader, clock)
    replace(path, "new")
    clock.now += 2  # the re-read is due
    reloading = threading.Thread(target=watched.get)
    got: list[str] = []
    arrived = threading.Event()

    def second() -> None:
        got.append(watched.get())
        arrived.set()

    reader = threading.Thread(target=second)
    reloading.start()
    try:
        assert loading.wait(60)  # the first get is re-reading, holding the lock
        watched._lock = _Announced(watched._lock, arrived)  # type: ignore[assignment]
        reader.start()
        assert arrived.wait(60)  # the second get returned, or waits for the lock
    finally:
        finish.set()
        reloading.join(60)
        if reader.ident is not None:  # started
            reader.join(60)
    assert got == ["new"]


def test_a_broken_file_at_startup_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "bundle.json"
    path.write_text("[" * 100_000)
    with pytest.raises(ConfigurationError):
        WatchedFile(str(path), TrustBundle.load, MovableClock(NOW))

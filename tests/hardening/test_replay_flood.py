"""Replay-cache flooding: a caller cannot make the cache forget a token that could still be
replayed, neither with ECTs that live for ever nor by filling it."""

from __future__ import annotations

import uuid

import httpx

from ect_middleware.limits import Limits
from ect_middleware.replay import MemoryReplayCache
from ect_middleware.runtime import Runtime

from ..support.clock import NOW
from ..support.mesh import Mesh
from ._hostile import Forger
from ._service import BASE, served


def _runtime(mesh: Mesh, cache: MemoryReplayCache, **limits: int) -> Runtime:
    settings = mesh.settings(
        "b", BASE, clock=lambda: float(NOW), limits=Limits(**limits) if limits else Limits()
    )
    return Runtime(settings, replay=cache)


def _failing_flood(forger: Forger, exp: int) -> list[tuple[str, str | bytes]]:
    """32 ECTs by mallory, in 16 two-task cycles: every one verifies and is put in the
    replay cache, then the request fails the DAG check (nothing is recorded)."""
    wid, ects = str(uuid.uuid4()), []
    for _ in range(16):
        x, y = str(uuid.uuid4()), str(uuid.uuid4())
        for jti, par in ((x, y), (y, x)):
            claims = {"jti": jti, "par": [par], "wid": wid, "exp": exp}
            ects.append(forger.ect("mallory", claims=claims))
    return forger.headers(BASE + "/x", caller="mallory", ects=ects)


def _problem(response: httpx.Response) -> str:
    return str(response.json()["code"])


def test_an_ect_that_lives_for_ever_is_refused_and_cannot_flush_a_captured_wpt(
    hostile_mesh: Mesh, forger: Forger
) -> None:
    cache = MemoryReplayCache(lambda: float(NOW), max_entries=40)
    with served(_runtime(hostile_mesh, cache)) as client:
        captured = forger.headers(BASE + "/x")  # a's request, seen by a proxy
        assert client.get("/x", headers=captured).status_code == 200
        for _ in range(5):
            flood = client.get("/x", headers=_failing_flood(forger, 2**53 - 1))
            assert flood.status_code == 400
            assert _problem(flood) == "ect.lifetime_exceeded"
        replayed = client.get("/x", headers=captured)
        assert replayed.status_code == 400
        assert _problem(replayed) == "wpt.replayed"


def test_a_full_cache_refuses_new_keys_instead_of_forgetting_live_ones(
    hostile_mesh: Mesh, forger: Forger
) -> None:
    cache = MemoryReplayCache(lambda: float(NOW), max_entries=40, max_per_caller=1000)
    with served(_runtime(hostile_mesh, cache)) as client:
        captured = forger.headers(BASE + "/x")
        assert client.get("/x", headers=captured).status_code == 200
        codes = [
            _problem(client.get("/x", headers=_failing_flood(forger, NOW + 900))) for _ in range(3)
        ]
        assert codes[0] == "dag.cycle"  # it fit: 33 keys, recorded before the DAG check
        assert codes[1:] == ["replay.unavailable"] * 2  # full: refused, 503
        assert len(cache) == 40
        replayed = client.get("/x", headers=captured)
        assert (replayed.status_code, _problem(replayed)) == (400, "wpt.replayed")


def test_one_caller_cannot_hold_more_than_its_share(hostile_mesh: Mesh, forger: Forger) -> None:
    cache = MemoryReplayCache(lambda: float(NOW), max_entries=1000, max_per_caller=40)
    with served(_runtime(hostile_mesh, cache)) as client:
        first = client.get("/x", headers=_failing_flood(forger, NOW + 900))
        assert _problem(first) == "dag.cycle"
        second = client.get("/x", headers=_failing_flood(forger, NOW + 900))
        assert (second.status_code, _problem(second)) == (429, "replay.caller_limit")
        assert len(cache) <= 40
        assert client.get("/x", headers=forger.headers(BASE + "/x")).status_code == 200  # a


def test_an_ect_lifetime_is_bounded_like_a_wpts(hostile_mesh: Mesh, forger: Forger) -> None:
    cache = MemoryReplayCache(lambda: float(NOW))
    with served(_runtime(hostile_mesh, cache, ect_max_lifetime=600)) as client:

        def send(**claims: int) -> httpx.Response:
            ect = forger.ect(claims=claims)
            return client.get("/x", headers=forger.headers(BASE + "/x", ects=[ect]))

        assert send(exp=NOW + 600).status_code == 200
        assert send(iat=NOW + 60, exp=NOW + 660).status_code == 200  # the leeway
        assert _problem(send(exp=NOW + 601)) == "ect.lifetime_exceeded"  # exp - iat

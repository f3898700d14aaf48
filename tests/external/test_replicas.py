"""Two replicas of one service behind one public URL, as real servers (uvicorn, waitress),
sharing a PostgreSQL ledger and a Redis replay cache: a token used at one replica is a
replay at the other. And with Redis gone, requests fail closed with a 503 problem."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import pytest
import redis

from ..support.mesh import Mesh
from ..support.replicas import PUBLIC, code, get, replicas
from ..support.servers import free_port


@pytest.mark.parametrize("kinds", [["uvicorn", "uvicorn"], ["uvicorn", "waitress"]])
def test_a_wpt_used_at_one_replica_is_a_replay_at_the_other(
    mesh: Mesh, pg_url: str, redis_url: str, kinds: list[str]
) -> None:
    with replicas(mesh, kinds, ledger=pg_url, replay=redis_url) as (first, second):
        headers = mesh.headers("a", PUBLIC + "/context")
        accepted = get(first, headers)
        assert accepted.status_code == 200
        assert accepted.json()["caller"] == mesh["a"].id
        replayed = get(second, headers)
        assert (replayed.status_code, code(replayed)) == (400, "wpt.replayed")
        assert code(get(first, headers)) == "wpt.replayed"
        assert get(second, mesh.headers("a", PUBLIC + "/context")).status_code == 200


def test_without_a_shared_cache_the_other_replica_cannot_tell(mesh: Mesh, pg_url: str) -> None:
    """Why ``ECT_REPLAY=redis://`` exists: each replica's in-memory cache only knows its own."""
    with replicas(mesh, ["uvicorn", "uvicorn"], ledger=pg_url) as (first, second):
        headers = mesh.headers("a", PUBLIC + "/context")
        assert get(first, headers).status_code == 200
        assert get(second, headers).status_code == 200  # the replay went through


@pytest.mark.parametrize("shared_cache", [False, True])
def test_an_ect_used_at_one_replica_is_a_replay_at_the_other(
    mesh: Mesh, pg_url: str, redis_url: str, shared_cache: bool
) -> None:
    """With a shared ledger, the ledger's uniqueness rule catches it even without Redis
    (both replicas record as the same workload); with Redis, the cache catches it first."""
    replay = redis_url if shared_cache else "memory://"
    with replicas(mesh, ["uvicorn", "waitress"], ledger=pg_url, replay=replay) as urls:
        ect = mesh.ect("a", mesh["b"].id).token
        assert get(urls[0], mesh.headers("a", PUBLIC + "/context", [ect])).status_code == 200
        again = get(urls[1], mesh.headers("a", PUBLIC + "/context", [ect]))  # a fresh WPT
        assert (again.status_code, code(again)) == (400, "ect.replayed")


class PrivateRedis:
    """A Redis server of this test's own, which it can stop and start again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
            finally:
                client.close()

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(10)
            self._process = None


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    yield server
    server.stop()


@pytest.mark.parametrize("kind", ["uvicorn", "waitress"])
def test_redis_down_fails_closed_and_recovers(
    mesh: Mesh, private_redis: PrivateRedis, kind: str
) -> None:
    with replicas(mesh, [kind], replay=private_redis.url) as (url,):
        used = mesh.headers("a", PUBLIC + "/context")
        assert get(url, used).status_code == 200

        private_redis.stop()
        for headers in (mesh.headers("a", PUBLIC + "/context"), used):  # fresh, and a replay
            refused = get(url, headers)
            assert refused.status_code == 503
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.json() == {
                "type": "urn:ect-middleware:error:replay.unavailable",
                "title": "replay cache unavailable",
                "status": 503,
                "detail": "the replay cache is unavailable",
                "code": "replay.unavailable",
            }

        private_redis.start()  # back, empty: the service recovers without a restart
        assert get(url, mesh.headers("a", PUBLIC + "/context")).status_code == 200

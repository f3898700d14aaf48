"""The SQLite replay cache: one winner per token across the worker processes of a host."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from ect_middleware.errors import ECTError
from ect_middleware.replay import open_replay_cache
from ect_middleware.replay.sqlite import SQLiteReplayCache

from ..support.mesh import Mesh
from ..support.paths import ROOT, SRC
from ..support.replicas import PUBLIC, code, get, replicas


def test_each_key_is_won_by_exactly_one_process(tmp_path: Path) -> None:
    path, keys = tmp_path / "replay.db", 500
    SQLiteReplayCache(path, lambda: 0.0).close()  # create the file once
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{ROOT}"}
    outs = [tmp_path / f"won-{n}.txt" for n in range(3)]
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.verification._replay_worker",
                str(path),
                str(keys),
                str(out),
            ],
            env=env,
            cwd=ROOT,
        )
        for out in outs
    ]
    assert [w.wait(120) for w in workers] == [0, 0, 0]
    won = [line for out in outs for line in out.read_text().splitlines() if line]
    assert sorted(won, key=int) == [str(k) for k in range(keys)]  # each exactly once


def test_keys_expire_with_their_tokens(tmp_path: Path) -> None:
    now = [1000.0]
    cache = SQLiteReplayCache(tmp_path / "replay.db", lambda: now[0])
    assert cache.first_use("k", 1060.0)
    assert not cache.first_use("k", 1060.0)
    now[0] = 1061.0  # the token could no longer be verified: its key may be used again
    assert cache.first_use("k", 1121.0)
    cache.close()


def test_fails_closed_when_the_file_breaks(tmp_path: Path) -> None:
    path = tmp_path / "replay.db"
    cache = open_replay_cache(f"sqlite:///{path}", lambda: 0.0)
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE replay")
    with pytest.raises(ECTError) as raised:
        cache.first_use("k", 60.0)
    assert (raised.value.code, raised.value.status) == ("replay.unavailable", 503)


def test_bad_urls_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"sqlite:///path\.db"):
        open_replay_cache("sqlite://", lambda: 0.0)


def test_a_wpt_used_at_one_worker_is_a_replay_at_the_other(mesh: Mesh, tmp_path: Path) -> None:
    ledger = f"sqlite:///{tmp_path / 'b.db'}"
    replay = f"sqlite:///{tmp_path / 'replay.db'}"
    with replicas(mesh, ["uvicorn", "waitress"], ledger=ledger, replay=replay) as (one, two):
        headers = mesh.headers("a", PUBLIC + "/context")
        assert get(one, headers).status_code == 200
        replayed = get(two, headers)
        assert (replayed.status_code, code(replayed)) == (400, "wpt.replayed")


def test_expired_keys_are_purged_not_kept_until_someone_reuses_them(tmp_path: Path) -> None:
    path, now = tmp_path / "replay.db", [1000.0]
    first = SQLiteReplayCache(path, lambda: now[0])
    for n in range(10):
        assert first.first_use(f"old-{n}", 1060.0)
    first.close()
    now[0] = 2000.0  # every key above has expired; a (re)started process purges them
    second = SQLiteReplayCache(path, lambda: now[0])
    assert second.first_use("new", 2060.0)
    second.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT key FROM replay").fetchall() == [("new",)]


def test_a_caller_holds_at_most_its_share(tmp_path: Path) -> None:
    cache = SQLiteReplayCache(tmp_path / "replay.db", lambda: 1000.0, max_per_caller=2)
    assert cache.first_use("m1", 1060.0, "mallory")
    assert not cache.first_use("m1", 1060.0, "mallory")  # a replay is not charged
    assert cache.first_use("m2", 1060.0, "mallory")
    with pytest.raises(ECTError) as refused:
        cache.first_use("m3", 1060.0, "mallory")
    assert refused.value.code == "replay.caller_limit"
    assert cache.first_use("a1", 1060.0, "alice")
    cache.close()

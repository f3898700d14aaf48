"""Running ``loadapp`` under a real ``uvicorn --workers 2`` and the load clients against it,
as separate processes; and reading back what they did.

Every process started here is started by this module and stopped by its own id (or its
own process group, for the server and the workers it forks).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ect_middleware.devkit import DevIdentities
from ect_middleware.ledger import LedgerEntry, open_ledger

from ..support.ledger import recorded
from ..support.paths import ROOT
from ..support.servers import free_port, uvicorn_server
from .loadapp import sink_app

SRC = ROOT / "src"
A = "spiffe://org-a.example/agent/a"
B = "spiffe://org-b.example/agent/b"
C = "spiffe://org-a.example/agent/c"


def child_env(**extra: str) -> dict[str, str]:
    """This environment, with the worktree's sources and tests importable first."""
    path = os.pathsep.join([str(SRC), str(ROOT), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, **extra}


@contextmanager
def sink() -> Iterator[str]:
    """The peer every request of the service calls: a uvicorn in a thread of this process,
    apart from the service so that killing the service never kills the peer."""
    port = free_port()
    with uvicorn_server(sink_app(), port) as base:
        yield base + "/sink"


class Server:
    """``uvicorn --workers 2 --factory tests.hardening.loadapp:create_app`` as service b,
    whose requests each call the peer at ``sink_url``."""

    def __init__(
        self, identities: DevIdentities, ledger: Path, folder: Path, sink_url: str
    ) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.folder = folder
        b = identities.workloads[B]
        self.env = child_env(
            ECT_WORKLOAD_ID=B,
            ECT_KEY_FILE=str(b.key_file),
            ECT_WIT_FILE=str(b.wit_file),
            ECT_TRUST_BUNDLE=str(identities.trust_bundle),
            ECT_AUDIENCE=self.base,
            ECT_PEERS=json.dumps({sink_url: C}),
            ECT_EXCLUDE_PATHS="/health",
            ECT_LEDGER=f"sqlite:///{ledger}",
            ECT_LOAD_SINK=sink_url,
        )
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        command = [
            sys.executable, "-m", "uvicorn", "--factory", "tests.hardening.loadapp:create_app",
            "--workers", "2", "--host", "127.0.0.1", "--port", str(self.port),
            "--no-access-log", "--log-level", "warning", "--timeout-graceful-shutdown", "5",
        ]  # fmt: skip
        with open(self.folder / f"server-{self.starts}.log", "wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, for kill -9 of all of it
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "the server exited; see " + str(self.folder)
            if len(self.workers()) == 2:
                try:
                    if httpx.get(self.base + "/health", timeout=1).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
            time.sleep(0.1)
        raise TimeoutError("uvicorn did not come up")

    def workers(self) -> list[int]:
        """The worker processes' ids (children of the uvicorn supervisor)."""
        assert self.process is not None
        return [pid for pid in children_of(self.process.pid) if _is_spawned_worker(pid)]

    def kill_worker(self) -> int:
        """kill -9 one worker; uvicorn's supervisor starts a new one."""
        victim = self.workers()[0]
        os.kill(victim, signal.SIGKILL)
        return victim

    def kill(self) -> None:
        """kill -9 the supervisor and its workers (its whole process group) at once."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


def children_of(parent: int) -> list[int]:
    """Ids of the live processes whose parent is ``parent`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) "
        if int(fields[1]) == parent and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return sorted(found)


def _is_spawned_worker(pid: int) -> bool:
    """A multiprocessing child running a worker (not multiprocessing's resource tracker)."""
    try:
        return b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


@contextmanager
def running(server: Server) -> Iterator[Server]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Clients:
    processes: list[subprocess.Popen[bytes]]
    outputs: list[Path]

    def wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for process in self.processes:
            process.wait(max(1.0, deadline - time.monotonic()))
            assert process.returncode == 0, "a load client failed"

    def terminate(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait(10)

    def records(self) -> list[dict[str, Any]]:
        return [
            json.loads(line)
            for path in self.outputs
            for line in path.read_text().splitlines()
            if line.strip()
        ]


def start_clients(
    identities: DevIdentities,
    server: Server,
    folder: Path,
    *,
    total: int,
    processes: int = 2,
    threads: int = 4,
    deadline: float = 900,
) -> Clients:
    """``processes`` x ``threads`` concurrent clients sharing ``total`` 2xx answers."""
    assert total % (processes * threads) == 0, "total must split evenly among the clients"
    a = identities.workloads[A]
    config = {
        "url": server.base + "/work",
        "caller": A,
        "key_file": str(a.key_file),
        "wit_file": str(a.wit_file),
        "server": B,
        "threads": threads,
        "per_thread": total // (processes * threads),
        "deadline": deadline,
    }
    (folder / "client.json").write_text(json.dumps(config))
    outputs = [folder / f"client-{i}.jsonl" for i in range(processes)]
    started = []
    for i, out in enumerate(outputs):
        command = [sys.executable, "-m", "tests.hardening._loadclient", str(folder / "client.json")]
        with open(folder / f"client-{i}.log", "wb") as log:
            started.append(
                subprocess.Popen([*command, str(out)], cwd=ROOT, env=child_env(), stderr=log)
            )
    return Clients(started, outputs)


def server_logs_are_clean(folder: Path) -> int:
    """Every server log of ``folder`` holds no token (a JWS starts ``eyJ``) and no
    traceback; returns how many lines were read."""
    lines = 0
    for log in sorted(folder.glob("server-*.log")):
        text = log.read_text(errors="replace")
        assert "eyJ" not in text, f"a token in {log.name}"
        assert "Traceback" not in text, f"an unhandled exception in {log.name}"
        lines += text.count("\n")
    return lines


def ledger_entries(path: Path) -> list[LedgerEntry]:
    """Every entry of the ledger file, after checking that its chain verifies."""
    return recorded(f"sqlite:///{path}")


def ledger_head(path: Path) -> int:
    ledger = open_ledger(f"sqlite:///{path}", create=False)
    try:
        return ledger.head()[0]
    finally:
        ledger.close()

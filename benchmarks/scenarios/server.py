"""Through a real server: the Starlette app under uvicorn (one worker) on loopback, with and
without ``ECTMiddleware``, driven by a load generator in this (separate) process.

Runs alternate between the two servers; each is bounded in requests and in seconds.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from .. import apps, identities
from ..common import ROOT, Result, median, scenario_main, scratch, subprocess_env
from ..loadgen import build_request, run_load

CONNECTIONS = 8


def run(quick: bool) -> Result:
    result = Result("server")
    runs, per_run, max_seconds = (2, 600, 10.0) if quick else (4, 3000, 20.0)
    with scratch("server") as folder:
        ids = identities.create(folder / "identities")
        ledger = f"sqlite:///{folder / 'ledger.db'}"
        rates: dict[str, list[float]] = {"bare": [], "ect": []}
        errors = 0
        with (
            _server("bare", folder, ledger) as bare_port,
            _server("ect", folder, ledger) as ect_port,
        ):
            ports = {"bare": bare_port, "ect": ect_port}
            for port in ports.values():  # warm-up: imports, caches, connections
                run_load(port, _requests(ids, 100), connections=CONNECTIONS, max_seconds=10)
            for _ in range(runs):
                for name, port in ports.items():
                    load = run_load(
                        port,
                        _requests(ids, per_run),
                        connections=CONNECTIONS,
                        max_seconds=max_seconds,
                    )
                    rates[name].append(load.per_second)
                    errors += load.errors
    bare, ect = median(rates["bare"]), median(rates["ect"])
    server = f"uvicorn {uvicorn.__version__}, 1 worker, {_implementation()}"
    result.add("bare app under uvicorn", round(bare), "req/s", note=server)
    result.add(
        "with ECTMiddleware under uvicorn",
        round(ect),
        "req/s",
        note=f"{CONNECTIONS} keep-alive connections, {runs} runs each",
    )
    result.add(
        "throughput ratio (with / bare)",
        round(ect / bare, 3),
        "x",
        note=f"{errors} non-200 answers" if errors else "",
    )
    return result


def _requests(ids: identities.Identities, count: int) -> list[bytes]:
    host = identities.SERVICE_URL.split("://", 1)[1]
    return [
        build_request("POST", identities.PATH, host, ids.request_headers(), apps.BODY)
        for _ in range(count)
    ]


@contextmanager
def _server(variant: str, folder: Path, ledger: str) -> Iterator[int]:
    port = _free_port()
    log = open(folder / f"server-{variant}.log", "wb")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchmarks.serve",
            variant,
            str(folder / "identities"),
            ledger,
            str(port),
        ],
        cwd=ROOT,
        env=subprocess_env(),
        stdout=log,
        stderr=log,
    )
    try:
        _wait_listening(port, process)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError("the server did not start listening")


def _implementation() -> str:
    """Which event loop and HTTP parser uvicorn's "auto" picks in this environment."""
    import importlib.util

    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return f"{loop} + {http}"


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    scenario_main("server", run)

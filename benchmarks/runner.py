"""Run every scenario, each in a process of its own, and print one table.

python -m benchmarks              # the full run (about 15 minutes on 2 cores)
python -m benchmarks --quick      # fewer rounds and smaller inputs (about 3 minutes)
python -m benchmarks --only asgi,wsgi
python -m benchmarks --src ../other-checkout/src   # measure another tree, same harness
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from .common import BENCH_DIR, RESULT_MARKER, ROOT, Row, subprocess_env

#: name -> what it measures (in the order they run: quick ones first)
SCENARIOS = {
    "asgi": "inbound + one outbound hop, in-process ASGI; OpenTelemetry for comparison",
    "wsgi": "the same through ECTWSGIMiddleware",
    "server": "uvicorn on loopback, load generator in another process",
    "ledger_size": "per-request cost with a ledger of 1,000 vs 1,000,000 entries",
    "dag": "256 parents; chains 9,999 and 10,001 deep; 32 ECTs x 2 parents on 9,000",
    "append": "ledger appends from one thread and from two processes",
    "ledger_postgres": "PostgreSQL ledger appends, 1 and 4 writers (when a server answers)",
    "memory": "RSS growth from 1,000 to 100,000 requests",
}
TIMEOUT = 3600


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="fewer rounds, smaller inputs")
    parser.add_argument("--only", help=f"comma-separated subset of: {', '.join(SCENARIOS)}")
    parser.add_argument("--src", type=Path, help="the source tree to measure (default: ./src)")
    parser.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {unknown[0]!r}; choose from {', '.join(SCENARIOS)}")

    env = subprocess_env()
    if args.src:
        env["PYTHONPATH"] = os.pathsep.join([str(args.src.resolve()), env["PYTHONPATH"]])
    logs = BENCH_DIR / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    header = _machine(args.quick, args.src)
    print(header, flush=True)
    rows: list[Row] = []
    failed = []
    for name in names:
        print(f"  {name:<12} {SCENARIOS[name]} ...", end="", flush=True)
        started = time.monotonic()
        status, found = _run(name, args.quick, env, logs / f"{name}.log")
        print(f" {time.monotonic() - started:.0f} s{'' if status == 0 else ' FAILED'}", flush=True)
        if status != 0:
            failed.append(name)
        rows.extend(found)
    print()
    print(table(rows))
    if failed:
        print(f"\nfailed: {', '.join(failed)} (see {logs})")
    if args.json:
        args.json.write_text(
            json.dumps(
                {"machine": header, "rows": [r.__dict__ for r in rows]},
                indent=2,
                ensure_ascii=False,
            )
        )
    return 1 if failed else 0


def _run(name: str, quick: bool, env: dict[str, str], log: Path) -> tuple[int, list[Row]]:
    command = [sys.executable, "-m", f"benchmarks.scenarios.{name}"] + (
        ["--quick"] if quick else []
    )
    with log.open("wb") as stderr:
        try:
            done = subprocess.run(
                command,
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=stderr,
                timeout=TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return 1, []
    for line in done.stdout.decode().splitlines():
        if line.startswith(RESULT_MARKER):
            return done.returncode, [Row(**r) for r in json.loads(line[len(RESULT_MARKER) :])]
    return done.returncode or 1, []


def table(rows: list[Row]) -> str:
    """The rows as a Markdown table (what docs/PERFORMANCE.md shows)."""
    lines = ["| scenario | measure | median | target | met | note |", "|---|---|--:|---|---|---|"]
    for r in rows:
        met = "" if r.met is None else ("yes" if r.met else "**no**")
        value = f"{r.value:,.3f}" if r.unit == "x" else f"{r.value:,.1f}"
        lines.append(
            f"| {r.scenario} | {r.measure} | {value} {r.unit} | {r.target} | {met} | {r.note} |"
        )
    return "\n".join(lines)


def _machine(quick: bool, src: Path | None) -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if "model name" in line)
    except (OSError, StopIteration):
        pass
    versions = ", ".join(
        f"{dist} {_version(dist)}"
        for dist in ("cryptography", "python-jose", "starlette", "httpx", "uvicorn")
    )
    load = f", load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"ect-middleware benchmarks, {'quick' if quick else 'full'} run, {when}\n"
        f"{cpu}, {os.cpu_count()} cores{load}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}; {versions}"
        + (f"\nsource measured: {src}" if src else "")
    )


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"

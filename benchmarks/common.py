"""What every scenario shares: where files go, timing rounds, medians, reporting."""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TextIO

ROOT = Path(__file__).resolve().parent.parent
#: Cached inputs (the pre-filled big ledger) and scratch space; ignored by git (.ect/).
BENCH_DIR = ROOT / ".ect" / "bench"
RESULT_MARKER = "BENCH-RESULT "


@dataclass
class Row:
    """One line of the result table."""

    scenario: str
    measure: str
    value: float
    unit: str
    #: e.g. "<= 1.30" for a ratio target; empty when the row is informational
    target: str = ""
    met: bool | None = None
    note: str = ""


@dataclass
class Result:
    scenario: str
    rows: list[Row] = field(default_factory=list)

    def add(self, measure: str, value: float, unit: str, **extra: object) -> Row:
        row = Row(self.scenario, measure, value, unit, **extra)  # type: ignore[arg-type]
        self.rows.append(row)
        return row


def log_like_an_application(stream: TextIO | None = None) -> None:
    """Log as a service that keeps the middleware's INFO lines (each request's checkpoint)
    does: stdlib logging at INFO, a timestamped line per event, to ``stream`` (stderr,
    which the runner writes to the scenario's log file). The library configures no logging
    itself; left alone, its INFO lines would stop at the level check, which is not what
    such a service pays."""
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=stream or sys.stderr,
    )


def scenario_main(name: str, run: Callable[[bool], Result]) -> None:
    """Entry point of a scenario process: run it and print its result as one JSON line."""
    parser = argparse.ArgumentParser(prog=f"python -m benchmarks.scenarios.{name}")
    parser.add_argument("--quick", action="store_true", help="fewer rounds, smaller inputs")
    args = parser.parse_args()
    log_like_an_application()
    result = run(args.quick)
    print(RESULT_MARKER + json.dumps([asdict(r) for r in result.rows]), flush=True)


@contextmanager
def scratch(name: str) -> Iterator[Path]:
    """A fresh folder under .ect/bench/ (a real disk, not tmpfs: SQLite must pay for I/O)."""
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=BENCH_DIR))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def median(values: list[float]) -> float:
    return statistics.median(values)


def timed(fn: Callable[[], object]) -> float:
    """Seconds taken by ``fn()``. The garbage collector stays on (it is part of what a
    request costs) but starts each batch with nothing left over from the previous one."""
    return timed_both(fn)[0]


def timed_both(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall-clock seconds, CPU seconds of this process) taken by ``fn()``.

    On a shared machine the wall clock also counts the time other processes had the CPU;
    the CPU time does not, so it is the steadier of the two for work that never waits.
    """
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def rss_bytes() -> int:
    """Resident set size of this process, from /proc (Linux) or getrusage's peak."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def subprocess_env() -> dict[str, str]:
    """The environment for child processes: this checkout's ``src`` and root come first on
    the path, so the code measured is the code in this tree, whatever is installed."""
    env = dict(os.environ)
    paths = [str(ROOT / "src"), str(ROOT)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env

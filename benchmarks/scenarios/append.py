"""Ledger append throughput: one-entry appends (what a request does) from one thread, and
from two processes appending to the same file at once. Afterwards the chain is walked:
concurrent writers must never fork it."""

from __future__ import annotations

import multiprocessing
import time
import uuid
from pathlib import Path

from ect_middleware.ledger import NewEntry, verify_chain
from ect_middleware.ledger.sqlite import SQLiteLedger

from .. import prefill
from ..common import Result, median, scenario_main, scratch
from ..identities import CALLER, SERVICE


def run(quick: bool) -> Result:
    result = Result("append")
    count, runs = (1_000, 3) if quick else (5_000, 5)
    single, double = [], []
    with scratch("append") as folder:
        for attempt in range(runs):
            path = folder / f"one-{attempt}.db"
            SQLiteLedger(path).close()
            single.append(count / _append(path, count))
            path = folder / f"two-{attempt}.db"
            SQLiteLedger(path).close()
            double.append(2 * count / _two_processes(path, count))
            ledger = SQLiteLedger(path, create=False)
            report = verify_chain(ledger.entries(), ledger.head())
            ledger.close()
            if not report.ok or report.entries != 2 * count:
                raise RuntimeError(f"two writers broke the chain: {report}")
    result.add(
        "one thread",
        round(median(single)),
        "appends/s",
        note=f"{count:,} one-entry appends, median of {runs}",
    )
    result.add(
        "two processes, one file",
        round(median(double)),
        "appends/s",
        note=f"{count:,} each; chain verified intact",
    )
    return result


def _entries(count: int) -> list[NewEntry]:
    wit = prefill.fake_wit(CALLER)
    now = time.time()
    entries = []
    for _ in range(count):
        jti, wid, parent = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
        token = prefill.fake_ect(CALLER, SERVICE, jti, wid, [parent], now)
        entries.append(
            NewEntry(token, wit, "received", SERVICE, jti, wid, CALLER, now, (parent,), (parent,))
        )
    return entries


def _append(path: Path, count: int, start: object = None) -> float:
    """Seconds to append ``count`` entries one by one (after ``start`` is set, if given)."""
    entries = _entries(count)
    ledger = SQLiteLedger(path, create=False)
    try:
        if start is not None:
            start.wait()  # type: ignore[attr-defined]
        begin = time.perf_counter()
        for entry in entries:
            ledger.append([entry])
        return time.perf_counter() - begin
    finally:
        ledger.close()


def _worker(path: Path, count: int, start: object) -> None:
    _append(path, count, start)


def _two_processes(path: Path, count: int) -> float:
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    workers = [context.Process(target=_worker, args=(path, count, start)) for _ in range(2)]
    for worker in workers:
        worker.start()
    time.sleep(1.0)  # both have built their entries and are waiting
    begin = time.perf_counter()
    start.set()
    for worker in workers:
        worker.join()
        if worker.exitcode != 0:
            raise RuntimeError("an appending process failed")
    return time.perf_counter() - begin


if __name__ == "__main__":
    scenario_main("append", run)

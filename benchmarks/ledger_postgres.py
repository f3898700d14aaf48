"""PostgreSQL ledger append throughput with 1 and with 4 writers.

    python -m benchmarks.ledger_postgres [--url URL] [--appends N] [--batch N] [--quick]

Each writer is a process of its own (as replicas are), appending ``--appends`` calls of
``--batch`` entries, each call one transaction, all writers starting together. Rounds
of 1 writer and of 4 writers are interleaved, so that a noisy machine slows both alike,
and each round uses a fresh schema, dropped afterwards. Printed: the median over rounds
of appends/s (all writers together) and of each append's latency (median and p95).

Self-contained so that a benchmark runner can call ``rows()`` (or ``main()``); it needs a
running PostgreSQL (``ECT_BENCH_POSTGRES``, else ``ECT_TEST_POSTGRES``, else
``postgresql://postgres@127.0.0.1:5432/test``) and the ``[postgres]`` extra. Entries
carry tokens of realistic size; their content does not matter to the ledger's cost.
"""

from __future__ import annotations

import argparse
import base64
import multiprocessing
import os
import statistics
import time
import uuid
from dataclasses import dataclass
from typing import Any

from ect_middleware.ledger import NewEntry
from ect_middleware.ledger.postgres import PostgresLedger

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
WRITERS = (1, 4)
ECT_BYTES, WIT_BYTES = 700, 800  # about the size of an EdDSA ECT and WIT

_spawn = multiprocessing.get_context("spawn")


@dataclass(frozen=True)
class Round:
    writers: int
    appends_per_s: float
    latency_ms: list[float]  # every append of every writer


def _token(size: int) -> str:
    raw = base64.urlsafe_b64encode(os.urandom(size * 3 // 4)).decode().rstrip("=")
    third = len(raw) // 3
    return f"{raw[:third]}.{raw[third : 2 * third]}.{raw[2 * third :]}"


def _entries(count: int, recorder: str) -> list[NewEntry]:
    """A chain of ``count`` tasks in one workflow, as one service records them."""
    wid = str(uuid.uuid4())
    made: list[NewEntry] = []
    for index in range(count):
        jti = str(uuid.uuid4())
        par = (made[-1].jti,) if made else ()
        made.append(
            NewEntry(
                _token(ECT_BYTES),
                _token(WIT_BYTES),
                "minted",
                recorder,
                jti,
                wid,
                recorder,
                1_800_000_000.0 + index,
                par,
            )
        )
    return made


def _writer(url: str, schema: str, appends: int, batch: int, start: Any, out: Any) -> None:
    ledger = PostgresLedger(url, schema=schema, create=False)
    entries = _entries(appends * batch, f"spiffe://bench.example/writer/{os.getpid()}")
    ledger.append(entries[:batch])  # open the pool and warm up outside the measurement
    calls = [entries[i : i + batch] for i in range(batch, len(entries), batch)]
    latencies = []
    start.wait()
    for call in calls:
        began = time.perf_counter()
        ledger.append(call)
        latencies.append((time.perf_counter() - began) * 1000)
    ledger.close()
    out.put(latencies)


def measure_round(url: str, writers: int, appends: int, batch: int) -> Round:
    """One round: ``writers`` processes on a fresh schema, dropped afterwards."""
    schema = f"ect_bench_{uuid.uuid4().hex[:12]}"
    PostgresLedger(url, schema=schema).close()
    try:
        start, out = _spawn.Barrier(writers + 1), _spawn.Queue()
        processes = [
            _spawn.Process(target=_writer, args=(url, schema, appends + 1, batch, start, out))
            for _ in range(writers)
        ]
        for process in processes:
            process.start()
        start.wait(timeout=300)
        began = time.perf_counter()
        latencies = [out.get(timeout=600) for _ in processes]
        elapsed = time.perf_counter() - began
        for process in processes:
            process.join(timeout=60)
        if any(process.exitcode != 0 for process in processes):
            raise RuntimeError("a writer failed")
        return Round(writers, writers * appends / elapsed, [x for w in latencies for x in w])
    finally:
        _drop(url, schema)


def _drop(url: str, schema: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def measure(url: str, *, appends: int, batch: int, rounds: int) -> dict[int, list[Round]]:
    """Rounds for each writer count in ``WRITERS``, interleaved."""
    results: dict[int, list[Round]] = {writers: [] for writers in WRITERS}
    for _ in range(rounds):
        for writers in WRITERS:
            results[writers].append(measure_round(url, writers, appends, batch))
    return results


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


def rows(quick: bool = False, *, url: str | None = None, batch: int = 1) -> list[dict[str, Any]]:
    """Results as rows (scenario, measure, value, unit) for a benchmark runner."""
    url = url or _default_url()
    appends, rounds = (200, 3) if quick else (1000, 5)
    found = []
    for writers, measured in measure(url, appends=appends, batch=batch, rounds=rounds).items():
        name = f"{writers} writer(s), {batch} entries per append"
        found += [
            {"scenario": "ledger_postgres", "measure": f"{name}: throughput", "unit": "appends/s",
             "value": statistics.median(r.appends_per_s for r in measured)},
            {"scenario": "ledger_postgres", "measure": f"{name}: latency median", "unit": "ms",
             "value": statistics.median(statistics.median(r.latency_ms) for r in measured)},
            {"scenario": "ledger_postgres", "measure": f"{name}: latency p95", "unit": "ms",
             "value": statistics.median(_p95(r.latency_ms) for r in measured)},
        ]  # fmt: skip
    return found


def _default_url() -> str:
    return (
        os.environ.get("ECT_BENCH_POSTGRES") or os.environ.get("ECT_TEST_POSTGRES") or DEFAULT_URL
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ledger_postgres")
    parser.add_argument("--url", default=None, help="PostgreSQL URL (a schema per round)")
    parser.add_argument("--appends", type=int, default=1000, help="append calls per writer")
    parser.add_argument("--batch", type=int, default=1, help="entries per append call")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per writer count")
    parser.add_argument("--quick", action="store_true", help="200 appends, 3 rounds")
    args = parser.parse_args(argv)
    appends, rounds = (200, 3) if args.quick else (args.appends, args.rounds)
    url = args.url or _default_url()
    print(
        f"PostgreSQL ledger append: {appends} appends of {args.batch} per writer,"
        f" {rounds} rounds, medians"
    )
    measured = measure(url, appends=appends, batch=args.batch, rounds=rounds)
    for writers, results in measured.items():
        throughput = statistics.median(r.appends_per_s for r in results)
        median = statistics.median(statistics.median(r.latency_ms) for r in results)
        p95 = statistics.median(_p95(r.latency_ms) for r in results)
        print(
            f"  {writers} writer{'s' if writers > 1 else ' '}: {throughput:7.0f} appends/s"
            f" ({throughput * args.batch:.0f} entries/s), latency median {median:.2f} ms,"
            f" p95 {p95:.2f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

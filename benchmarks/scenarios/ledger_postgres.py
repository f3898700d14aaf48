"""The PostgreSQL ledger's append throughput and latency (``benchmarks.ledger_postgres``),
as rows of the runner's table. Reported as not run when no PostgreSQL server answers
(``ECT_BENCH_POSTGRES``, else ``ECT_TEST_POSTGRES``, else 127.0.0.1:5432)."""

from __future__ import annotations

from ..common import Result, scenario_main


def run(quick: bool) -> Result:
    result = Result("ledger_postgres")
    try:
        from .. import ledger_postgres

        rows = ledger_postgres.rows(quick)
    except Exception as exc:  # no driver, no server, no permission: say so, do not fail
        result.add("not run", 0, "", note=f"{type(exc).__name__}: no PostgreSQL to measure")
        return result
    for row in rows:
        result.add(str(row["measure"]), round(float(row["value"]), 2), str(row["unit"]))
    return result


if __name__ == "__main__":
    scenario_main("ledger_postgres", run)

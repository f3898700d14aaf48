"""Targets for ``spawn``-ed processes (importable by module name, free of pytest state)."""

from __future__ import annotations

from typing import Any

from ect_middleware.ledger.postgres import PostgresLedger

from ..ledger._support import chain
from ..ledger._workers import append_in_child, hammer

__all__ = ["append_from_threads", "append_in_child", "open_and_append"]


def open_and_append(conninfo: str, schema: str, recorder: str, start: Any) -> None:
    """Wait at ``start`` with the others, then open (creating the schema if nobody has)."""
    entries = chain(1, by=recorder)
    start.wait()
    ledger = PostgresLedger(conninfo, schema=schema)
    ledger.append(entries)
    ledger.close()


def append_from_threads(
    conninfo: str,
    schema: str,
    recorder: str,
    threads: int,
    per_thread: int,
    batch: int,
    start: Any,
    rounds: Any,
) -> None:
    """``batch`` entries per append call to a PostgreSQL ledger; see ``hammer``."""
    ledger = PostgresLedger(conninfo, schema=schema, create=False)
    hammer(ledger, recorder, threads, per_thread, batch, start, rounds)

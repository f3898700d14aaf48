"""Trace ids in the PostgreSQL ledger: stored and verified, and a version 1 schema is
migrated (the column added, nothing rewritten) by the next process that opens it."""

from __future__ import annotations

import dataclasses

from psycopg import sql

from ect_middleware.ledger import verify_chain
from ect_middleware.ledger.postgres import PostgresLedger

from ..support.clock import fixed_clock
from ..support.ledger import chain
from ..support.services import POSTGRES, admin

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def test_trace_ids_are_stored_and_verified(pg_ledger: PostgresLedger) -> None:
    entries = [dataclasses.replace(e, trace_id=TRACE) for e in chain(2)] + chain(1)
    pg_ledger.append(entries)
    assert [e.trace_id for e in pg_ledger.entries()] == [TRACE, TRACE, None]
    assert verify_chain(pg_ledger.entries(), pg_ledger.head()).ok


def test_a_version_1_schema_is_migrated(schema: str) -> None:
    old = PostgresLedger(POSTGRES, schema=schema, clock=fixed_clock)
    before = old.append(chain(3))
    old.close()
    with admin() as db:
        s = sql.Identifier(schema)
        db.execute(sql.SQL("ALTER TABLE {s}.entries DROP COLUMN trace_id").format(s=s))
        db.execute(sql.SQL("UPDATE {s}.meta SET value = '1'").format(s=s))

    reader = PostgresLedger(POSTGRES, schema=schema, clock=fixed_clock, create=False)
    assert list(reader.entries()) == before
    reader.close()
    writer = PostgresLedger(POSTGRES, schema=schema, clock=fixed_clock)
    writer.append([dataclasses.replace(e, trace_id=TRACE) for e in chain(1)])
    assert [e.trace_id for e in writer.entries()] == [None, None, None, TRACE]
    assert verify_chain(writer.entries(), writer.head()).ok
    writer.close()

"""What the PostgreSQL engine creates, what the database itself refuses, and how the engine
opens, fails, forks and recovers."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
import uuid
from collections.abc import Callable

import psycopg
import pytest
from psycopg import sql

from ect_middleware.errors import LedgerError
from ect_middleware.ledger import ChainReport, open_ledger, verify_chain
from ect_middleware.ledger.base import GENESIS_HASH, seal
from ect_middleware.ledger.postgres import PostgresLedger
from ect_middleware.ledger.postgres_schema import GRANTS

from ..support.cli import ect_cli
from ..support.clock import fixed_clock
from ..support.ledger import PLANNER, WORKER, chain, entry, workflow
from ..support.services import NOWHERE_PORT, POSTGRES, admin, with_options
from ..support.workers import append_in_child, open_postgres_and_append

spawn = multiprocessing.get_context("spawn")


def q(schema: str, text: str) -> sql.Composed:
    """``text`` with ``{s}`` standing for the quoted schema name."""
    return sql.SQL(text).format(s=sql.Identifier(schema))


def test_schema_layout(pg_ledger: PostgresLedger, schema: str) -> None:
    recorded = pg_ledger.append(workflow(5, seed=3))
    with admin() as db:
        tables = db.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY 1", (schema,)
        ).fetchall()
        indexes = db.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s"
            " AND tablename = 'entries'",
            (schema,),
        ).fetchall()
        triggers = db.execute(
            "SELECT tgname, tgenabled FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND NOT t.tgisinternal ORDER BY 1",
            (schema,),
        ).fetchall()
        types = dict(
            db.execute(
                "SELECT column_name, data_type FROM information_schema.columns"
                " WHERE table_schema = %s AND table_name = 'entries'",
                (schema,),
            ).fetchall()
        )
        meta = db.execute(q(schema, "SELECT key, value FROM {s}.meta")).fetchall()
        head = db.execute(q(schema, "SELECT id, seq, hash FROM {s}.chain_head")).fetchall()
        last = db.execute(
            q(
                schema,
                "SELECT recorded_us, iat, par, unresolved, wid FROM {s}.entries WHERE seq = 5",
            )
        ).fetchone()
    assert tables == [("chain_head",), ("entries",), ("flush_marks",), ("meta",)]
    assert {name: d.split(" USING ")[1] for name, d in indexes} == {
        "entries_pkey": "btree (seq)",
        "entries_jti": "btree (jti)",
        "entries_wid": "btree (wid, seq)",
    }
    assert triggers == [
        ("chain_head_moves_forward", "O"),
        ("chain_head_single_row", "O"),
        ("entries_append_only", "O"),
        ("entries_extend_head", "O"),
    ]
    assert (types["par"], types["iat"], types["recorded_us"]) == (
        "ARRAY",
        "double precision",
        "bigint",
    )
    assert meta == [("schema_version", "2")]
    assert head == [(1, 5, recorded[-1].hash)]
    assert last == (
        1_800_000_000_250_000,
        recorded[-1].iat,
        list(recorded[-1].par),
        list(recorded[-1].unresolved),
        recorded[-1].wid,
    )


def test_flush_marks_keep_one_row_per_live_session(schema: str) -> None:
    ledger = PostgresLedger(POSTGRES, schema=schema, pool_max=1)
    for _ in range(5):
        ledger.append(chain(1))
    count = q(schema, "SELECT count(*), sum(flushes) FROM {s}.flush_marks")
    with admin() as db:
        assert db.execute(count).fetchone() == (1, 5)
    ledger.close()  # its session ends: the next opening forgets its row
    alive = q(schema, "SELECT count(*) FROM pg_stat_activity, {s}.flush_marks WHERE pid = backend")
    with admin() as db:
        deadline = time.monotonic() + 10
        while db.execute(alive).fetchone() != (0,) and time.monotonic() < deadline:
            time.sleep(0.02)  # the server process ends shortly after the client leaves
    PostgresLedger(POSTGRES, schema=schema).close()
    with admin() as db:
        assert db.execute(count).fetchone() == (0, None)


def test_lookups_use_the_indexes(pg_ledger: PostgresLedger) -> None:
    pg_ledger.append(chain(3))
    statements = pg_ledger._sql
    with admin() as db:
        db.execute("SET enable_seqscan = off")  # a tiny table: ask whether an index fits
        find = db.execute(sql.SQL("EXPLAIN ") + statements.find, ("x",)).fetchall()
        page = db.execute(sql.SQL("EXPLAIN ") + statements.page_wid, ("x", 0)).fetchall()
    assert "entries_jti" in str(find)
    assert "Index Scan using entries_wid" in str(page)
    assert "Sort" not in str(page)  # chain order comes from the (wid, seq) index itself


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE {s}.entries SET jti = jti WHERE seq = 2",
        "UPDATE {s}.entries SET ect = 'x'",
        "DELETE FROM {s}.entries WHERE seq = 3",
        "DELETE FROM {s}.entries WHERE false",  # refused even when it would change nothing
        "TRUNCATE {s}.entries",
        "INSERT INTO {s}.entries SELECT * FROM {s}.entries WHERE seq = 1"
        " ON CONFLICT (seq) DO UPDATE SET ect = 'x'",
    ],
)
def test_the_database_refuses_to_change_entries(
    pg_ledger: PostgresLedger, schema: str, statement: str
) -> None:
    recorded = pg_ledger.append(chain(3))
    with admin() as db, pytest.raises(psycopg.Error, match="append-only"):
        db.execute(q(schema, statement))
    assert list(pg_ledger.entries()) == recorded
    assert verify_chain(pg_ledger.entries(), pg_ledger.head()) == ChainReport(True, 3)


@pytest.mark.parametrize(
    ("statement", "refusal"),
    [
        ("UPDATE {s}.chain_head SET seq = seq + 1", "only moves when entries are appended"),
        ("UPDATE {s}.chain_head SET seq = 1, hash = %(first)s", "only moves when"),
        ("UPDATE {s}.chain_head SET hash = %(first)s", "only moves when"),
        ("DELETE FROM {s}.chain_head", "append-only: DELETE on chain_head"),
        ("TRUNCATE {s}.chain_head", "append-only: TRUNCATE on chain_head"),
        ("INSERT INTO {s}.chain_head VALUES (2, 0, 'x')", "append-only: INSERT on chain_head"),
    ],
)
def test_only_appending_moves_the_head(
    pg_ledger: PostgresLedger, schema: str, statement: str, refusal: str
) -> None:
    recorded = pg_ledger.append(chain(3))
    with admin() as db, pytest.raises(psycopg.Error, match=refusal):
        db.execute(q(schema, statement), {"first": recorded[0].hash})
    assert pg_ledger.head() == (3, recorded[-1].hash)


def _insert(schema: str, *rows: tuple[object, ...]) -> None:
    placeholders = sql.SQL(", ").join(sql.SQL("(" + ", ".join(["%s"] * 15) + ")") for _ in rows)
    statement = q(schema, "INSERT INTO {s}.entries VALUES ") + placeholders
    with admin() as db:
        db.execute(statement, [value for row in rows for value in row])


def _as_row(e: object) -> tuple[object, ...]:
    from ect_middleware.ledger.postgres import _row

    return _row(e)  # type: ignore[arg-type]


def test_inserted_rows_must_extend_the_chain(pg_ledger: PostgresLedger, schema: str) -> None:
    """Whoever may INSERT can only extend the chain at its head, linked; what they put in
    an entry is then the chain walk's business."""
    recorded = pg_ledger.append(chain(2))
    head = recorded[-1].hash

    def forged(seq: int, prev: str) -> tuple[object, ...]:
        return _as_row(seal(entry(), seq=seq, recorded_us=1, prev_hash=prev))

    with pytest.raises(psycopg.Error, match="must extend the chain head"):
        _insert(schema, forged(4, head))  # a gap
    with pytest.raises(psycopg.Error, match="must extend the chain head"):
        _insert(schema, forged(3, "f" * 64))  # not linked to the head
    with pytest.raises(psycopg.Error, match="duplicate key"):
        _insert(schema, forged(2, recorded[0].hash))  # a fork at seq 2
    with pytest.raises(psycopg.Error, match="link to the one before it"):
        _insert(schema, forged(3, head), forged(4, "f" * 64))
    with pytest.raises(psycopg.Error, match="consecutive"):
        _insert(schema, forged(3, head), forged(5, "f" * 64))
    assert pg_ledger.head() == (2, head)

    # Well linked, but its hash is not its content's: accepted, moved the head, and found.
    linked = forged(3, head)
    _insert(schema, (*linked[:13], "e" * 64, *linked[14:]))
    assert pg_ledger.head() == (3, "e" * 64)
    report = verify_chain(pg_ledger.entries(), pg_ledger.head())
    assert report == ChainReport(False, 3, 3, "content does not match its hash")


def test_entries_survive_closing_and_reopening(schema: str) -> None:
    first = PostgresLedger(POSTGRES, schema=schema, clock=fixed_clock)
    recorded = first.append(chain(4))
    first.close()
    again = open_ledger(with_options(POSTGRES, schema=schema), create=False)
    assert list(again.entries()) == recorded
    more = again.append(chain(2))
    assert [e.seq for e in more] == [5, 6]
    assert verify_chain(again.entries(), again.head()) == ChainReport(True, 6)
    again.close()


def test_read_only_opening_never_creates_a_schema(schema: str) -> None:
    with pytest.raises(LedgerError, match=f"no ECT ledger in schema '{schema}'"):
        open_ledger(with_options(POSTGRES, schema=schema), create=False)
    with admin() as db:
        found = db.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,))
        assert found.fetchone() is None


def test_a_schema_with_other_tables_is_not_taken_over(schema: str) -> None:
    with admin() as db:
        db.execute(q(schema, "CREATE SCHEMA {s}"))
        db.execute(q(schema, "CREATE TABLE {s}.entries (x int)"))
    with pytest.raises(LedgerError, match="has tables but no ledger schema version"):
        PostgresLedger(POSTGRES, schema=schema)


def test_a_newer_schema_is_refused(pg_ledger: PostgresLedger, schema: str) -> None:
    with admin() as db:
        db.execute(q(schema, "UPDATE {s}.meta SET value = '3'"))
    with pytest.raises(LedgerError, match="unsupported ledger schema version '3'"):
        PostgresLedger(POSTGRES, schema=schema)


def test_processes_starting_at_once_create_the_schema_once(schema: str) -> None:
    start = spawn.Barrier(4)
    who = [PLANNER, WORKER, PLANNER, WORKER]
    processes = [
        spawn.Process(target=open_postgres_and_append, args=(POSTGRES, schema, w, start))
        for w in who
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [p.exitcode for p in processes] == [0, 0, 0, 0]
    ledger = PostgresLedger(POSTGRES, schema=schema, create=False)
    assert verify_chain(ledger.entries(), ledger.head()) == ChainReport(True, 4)
    ledger.close()


def test_a_writer_waits_for_the_head_lock(pg_ledger: PostgresLedger, schema: str) -> None:
    pg_ledger.append(chain(1))
    appended: list[int] = []
    with admin() as db:
        db.execute("BEGIN")
        db.execute(q(schema, "SELECT * FROM {s}.chain_head FOR UPDATE"))
        writer = threading.Thread(
            target=lambda: appended.extend(e.seq for e in pg_ledger.append(chain(1)))
        )
        writer.start()
        writer.join(0.5)
        assert writer.is_alive()  # queued behind the lock, not forking the chain
        db.execute("COMMIT")
    writer.join(10)
    assert appended == [2]


def test_a_closed_ledger_says_so(pg_ledger: PostgresLedger) -> None:
    pg_ledger.append(chain(1))
    pg_ledger.close()
    with pytest.raises(LedgerError, match="the ledger is closed"):
        pg_ledger.append(chain(1))
    with pytest.raises(LedgerError, match="the ledger is closed"):
        pg_ledger.find(str(uuid.uuid4()))


def test_url_options(schema: str) -> None:
    url = with_options(POSTGRES.replace("postgresql://", "postgres://"), schema=schema)
    ledger = open_ledger(url + "&pool_max=2&application_name=ect-test-app", clock=fixed_clock)
    assert isinstance(ledger, PostgresLedger)
    assert (ledger.schema, ledger._pool_max) == (schema, 2)
    ledger.append(chain(1))
    with admin() as db:
        names = db.execute(
            "SELECT application_name FROM pg_stat_activity WHERE application_name LIKE 'ect-%%'"
        ).fetchall()
    assert ("ect-test-app",) in names
    ledger.close()
    for bad, message in [
        ("schema=a-b", "plain SQL identifier"),
        ("schema=" + "x" * 64, "plain SQL identifier"),
        ("pool_max=0", "pool_max must be at least 1"),
        ("pool_max=many", "pool_max must be a whole number"),
    ]:
        with pytest.raises(ValueError, match=message):
            open_ledger(f"{POSTGRES}?{bad}")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (f"postgresql://auditor:s3cret%21@127.0.0.1:{NOWHERE_PORT}/x", "Connection refused"),
        ("postgresql://auditor:s3cret%21@127.0.0.1:5432/test?bogus=s3cret!", "bogus"),
        ("postgresql://nobody:s3cret%21@127.0.0.1:5432/test", "nobody"),
    ],
)
def test_errors_never_contain_the_url_or_its_password(url: str, reason: str) -> None:
    with pytest.raises(LedgerError) as raised:
        open_ledger(url)
    message = str(raised.value)
    assert message.startswith("ledger open failed: ")
    assert reason in message
    assert "s3cret" not in message
    assert "\n" not in message
    done = ect_cli("ledger", "verify", "--ledger", url)
    assert done.returncode == 2
    assert done.stderr.startswith("ect ledger: error: ledger open failed")
    assert "s3cret" not in done.stderr + done.stdout


def test_a_connection_dropped_by_the_server_is_replaced(schema: str) -> None:
    name = f"ect-test-{uuid.uuid4().hex[:8]}"
    url = with_options(POSTGRES, schema=schema, application_name=name)
    ledger = open_ledger(url, clock=fixed_clock)
    recorded = ledger.append(chain(2))
    for operation in (ledger.head, lambda: ledger.append(chain(1)), ledger.head):
        with admin() as db:  # as a server restart or failover would
            killed = db.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name = %s",
                (name,),
            ).fetchone()
        assert killed is not None
        assert killed[0] >= 1
        time.sleep(0.05)
        operation()
    assert ledger.find(recorded[0].jti) == [recorded[0]]
    assert verify_chain(ledger.entries(), ledger.head()) == ChainReport(True, 3)
    ledger.close()


def test_a_ledger_opened_before_spawning_works_in_the_child(pg_ledger: PostgresLedger) -> None:
    pg_ledger.append(chain(2))
    child = spawn.Process(target=append_in_child, args=(pg_ledger, chain(3)))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0
    assert [e.seq for e in pg_ledger.append(chain(1))] == [6]
    recorded = list(pg_ledger.entries())
    assert {e.recorded_us for e in recorded} == {1_800_000_000_250_000}  # the clock travelled
    assert verify_chain(recorded, pg_ledger.head()) == ChainReport(True, 6)
    assert "s3cret" not in repr(pg_ledger)
    assert POSTGRES not in repr(pg_ledger)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_opens_its_own_pool(pg_ledger: PostgresLedger) -> None:
    pg_ledger.append(chain(3))
    parents = pg_ledger._pool_here()
    with parents.connection() as held:  # a parent's session, open across the fork
        parent_backend = held.info.backend_pid
        pid = os.fork()
        if pid == 0:  # the child: report through the exit status only, never return
            code = 70
            try:
                own = pg_ledger._pool_here()
                appended = [e.seq for e in pg_ledger.append(chain(2))]
                with own.connection() as conn:
                    backend = conn.info.backend_pid
                ok = own is not parents and appended == [4, 5] and backend != parent_backend
                pg_ledger.close()  # closes the child's pool only
                code = 0 if ok else 71
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        # The same server session, untouched by the child.
        assert held.info.backend_pid == parent_backend
        assert held.execute("SELECT 1").fetchone() == (1,)
    assert pg_ledger._pool_here() is parents
    assert [e.seq for e in pg_ledger.append(chain(2))] == [6, 7]
    assert verify_chain(pg_ledger.entries(), pg_ledger.head()) == ChainReport(True, 7)


def test_an_import_is_all_or_nothing(pg_ledger: PostgresLedger) -> None:
    source = PostgresLedger(POSTGRES, schema=pg_ledger.schema + "_src", clock=fixed_clock)
    try:
        recorded = source.append(chain(6))
    finally:
        source.close()
        with admin() as db:
            db.execute(q(pg_ledger.schema + "_src", "DROP SCHEMA {s} CASCADE"))

    def failing() -> object:
        yield from recorded[:3]
        raise RuntimeError("the source went away")

    with pytest.raises(RuntimeError):
        pg_ledger.import_chain(failing())  # type: ignore[arg-type]
    assert pg_ledger.head() == (0, GENESIS_HASH)
    with pytest.raises(LedgerError, match="must extend the chain head"):
        pg_ledger.import_chain(recorded[1:])  # not from genesis
    assert pg_ledger.import_chain(recorded) == 6
    assert list(pg_ledger.entries()) == recorded
    with pytest.raises(LedgerError, match=r"not empty \(6 entries\)"):
        pg_ledger.import_chain(recorded)


def test_an_exhausted_pool_is_a_ledger_error(schema: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from ect_middleware.ledger import postgres

    monkeypatch.setattr(postgres, "POOL_TIMEOUT", 0.3)
    ledger = PostgresLedger(POSTGRES, schema=schema, pool_max=1)
    recorded = ledger.append(chain(1))
    with ledger.snapshot() as view:  # holds the only connection
        failed: list[BaseException] = []
        other = threading.Thread(target=lambda: _catch(failed, lambda: ledger.head()))
        other.start()
        other.join(10)
        assert view.head() == (1, recorded[0].hash)
    assert [str(e) for e in failed] == ["ledger read failed: no database connection within 0.3 s"]
    assert ledger.head() == (1, recorded[0].hash)  # and it recovers once one is free
    ledger.close()


def _catch(into: list[BaseException], call: Callable[[], object]) -> None:
    try:
        call()
    except BaseException as exc:
        into.append(exc)


def test_a_service_role_with_the_documented_grants(schema: str) -> None:
    """The deployment the schema's docstring advises: the tables belong to another role;
    the service may append and read, and can neither edit nor switch the triggers off."""
    role = f"ect_app_{uuid.uuid4().hex[:8]}"
    owner = PostgresLedger(POSTGRES, schema=schema)
    owner.append(chain(2))
    owner.close()
    with admin() as db:
        db.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        for grant in GRANTS:
            db.execute(sql.SQL(grant).format(s=sql.Identifier(schema), r=sql.Identifier(role)))
    try:
        url = with_options(POSTGRES.replace("postgres@", f"{role}@"), schema=schema)
        service = open_ledger(url)
        assert [e.seq for e in service.append(chain(3))] == [3, 4, 5]
        assert verify_chain(service.entries(), service.head()) == ChainReport(True, 5)
        service.close()
        with psycopg.connect(url.split("?")[0], autocommit=True) as conn:
            for statement, refusal in [
                ("UPDATE {s}.entries SET ect = 'x'", "permission denied"),
                ("DELETE FROM {s}.entries", "permission denied"),
                ("ALTER TABLE {s}.entries DISABLE TRIGGER USER", "must be owner"),
                ("UPDATE {s}.chain_head SET seq = 1", "only moves when entries are appended"),
            ]:
                with pytest.raises(psycopg.Error, match=refusal):
                    conn.execute(q(schema, statement))
    finally:
        with admin() as db:
            db.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            db.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))

"""PostgreSQL ledger engine, for ledgers shared by many replicas and services
(``postgresql://user@host:5432/db?schema=ect``; needs the ``[postgres]`` extra).

Same protocol and behaviour as the SQLite engine; what differs is how each property is had:

- Append-only, enforced by the database itself (see ``postgres_schema``): UPDATE, DELETE
  and TRUNCATE of entries are refused, inserted rows must extend the chain head, and only
  an insert moves the head, in the same transaction.
- Concurrency: ``append`` locks the head row (``SELECT ... FOR UPDATE``), seals the entries
  against it, inserts them and commits. Writers in every process and thread queue on that
  row lock, so the chain never forks; the insert trigger would refuse a fork anyway.
- Durability: an entry is on disk (as the session's ``synchronous_commit`` defines it)
  before ``append`` returns, but the WAL flush is not waited for while the head is
  locked: the append transaction commits asynchronously, which releases the lock at
  once, and is followed in the same pipeline by a tiny write committed synchronously
  (``postgres_schema.FLUSH``). WAL is flushed in order, so that commit's flush covers the
  append; concurrent writers share flushes instead of queueing for them. A crash can only
  lose appends that had not returned yet, a suffix of the chain, never a middle entry.
  (As with any commit, an append that fails after its COMMIT was sent may have been
  recorded: the ledger then holds more than the caller knows of, never less.)
  What is left inside the lock is one client round trip; ``benchmarks/ledger_postgres.py``
  measures the throughput this gives with one and several writers (docs/PERFORMANCE.md).
- Round trips: an append is two (begin, lock and read the head; insert, commit and
  flush, pipelined), for any number of entries; ``find`` is one indexed query
  (``jti``); ``entries(wid=...)`` pages through the ``(wid, seq)`` index.
- Connections come from a ``psycopg_pool`` pool opened on first use in each process. A
  child made by ``fork`` never touches its parent's pool (its sockets are the parent's):
  it keeps it, unused, and opens its own. A connection the server dropped (a restart, a
  failover) fails one attempt and is replaced; reads and the head lock are retried once on
  a fresh connection, an insert whose commit may have happened never is.
- The schema (``?schema=``, default ``ect``) is created, or checked and migrated, when
  the ledger is opened, under an advisory lock so that processes starting together do it
  once. Its version is in the ``meta`` table.

Options in the URL: ``schema`` and ``pool_max`` (connections per process, default 10);
every other query parameter goes to libpq (``sslmode``, ``connect_timeout``, ...). Error
messages never contain the URL or its password.
"""

from __future__ import annotations

import os
import re
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any, TypeVar
from urllib.parse import SplitResult, unquote, urlunsplit

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool, PoolTimeout

from ..errors import LedgerError
from ..limits import Clock, system_clock
from ..storage_urls import driver_options
from .base import (
    GENESIS_HASH,
    Ledger,
    LedgerEntry,
    NewEntry,
    RecordedTask,
    entry_from_row,
    entry_row,
    seal_after,
)
from .postgres_schema import (
    FLUSH,
    FORGET_ENDED_SESSIONS,
    MIGRATIONS,
    SCHEMA_VERSION,
    create_statements,
    lock_key,
)

DEFAULT_SCHEMA = "ect"
DEFAULT_POOL_MAX = 10
PAGE_SIZE = 500  # entries fetched per query when streaming
LOCK_TIMEOUT = "30s"  # how long an append waits for the head lock before giving up
POOL_TIMEOUT = 10.0  # seconds to wait for a pooled connection
CONNECT_TIMEOUT = "10"  # seconds (libpq), unless the URL says otherwise
ROWS_PER_INSERT = 500  # 15 parameters per row; PostgreSQL allows 65,535 per statement
ROWS_PER_COPY = 5000  # rows per COPY statement when importing a chain
_SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_OUR_OPTIONS = ("schema", "pool_max")
_LIBPQ_DEFAULTS = {"application_name": "ect-ledger", "connect_timeout": CONNECT_TIMEOUT}

_COLUMN_NAMES = (
    "seq",
    "ect",
    "wit",
    "direction",
    "recorder",
    "jti",
    "wid",
    "iss",
    "iat",
    "par",
    "unresolved",
    "recorded_us",
    "prev_hash",
    "hash",
    "trace_id",
)
_T = TypeVar("_T")
_Fetch = Callable[[sql.Composed, tuple[object, ...]], list[Any]]


class PostgresLedger(Ledger):
    """A ledger in one PostgreSQL schema, shared by any number of processes and hosts."""

    def __init__(
        self,
        conninfo: str,
        *,
        schema: str = DEFAULT_SCHEMA,
        clock: Clock = system_clock,
        create: bool = True,
        pool_max: int = DEFAULT_POOL_MAX,
    ) -> None:
        """Open the ledger in ``schema`` of the database at ``conninfo`` (a libpq URL or
        key=value string); with ``create``, make or migrate the schema if needed.

        With ``create=False`` the schema must already hold a ledger: read-only tools use it
        so that a mistyped name is an error instead of a new, empty (and "intact") ledger.
        """
        if not _SCHEMA_NAME.fullmatch(schema):
            raise ValueError("the ledger schema name must be a plain SQL identifier")
        if pool_max < 1:
            raise ValueError("pool_max must be at least 1")
        self.schema = schema
        self._conninfo = conninfo
        self._secrets = _secrets_of(conninfo)
        self._clock = clock
        self._pool_max = pool_max
        self._sql = _Statements(schema)
        self._lock = threading.Lock()
        self._pool: ConnectionPool | None = None
        self._pool_pid = 0
        self._closed = False
        with self._translated("open"), psycopg.connect(conninfo, autocommit=True) as conn:
            self._initialise(conn, create=create)
            self._check_schema(conn)
        with _registry_lock:
            _instances.add(self)

    # -- the Ledger contract -----------------------------------------------------------------

    def append(self, entries: Sequence[NewEntry]) -> list[LedgerEntry]:
        if not entries:
            return []
        with self._translated("append"), self._locked_head() as (conn, head):
            sealed = seal_after(head, entries, int(self._clock() * 1_000_000))
            with conn.pipeline():
                for start in range(0, len(sealed), ROWS_PER_INSERT):
                    chunk = sealed[start : start + ROWS_PER_INSERT]
                    params = [value for e in chunk for value in _row(e)]
                    conn.execute(self._sql.insert(len(chunk)), params)
                conn.execute("COMMIT")  # asynchronous: releases the head lock at once
                conn.execute(self._sql.flush)  # synchronous: waits until both are durable
        return sealed

    def find(self, jti: str) -> list[LedgerEntry]:
        rows = self._read(lambda conn: conn.execute(self._sql.find, (jti,)).fetchall())
        return [_entry(row) for row in rows]

    def ancestors(
        self, start: Sequence[str], wid: str | None, limit: int
    ) -> dict[str, RecordedTask]:
        """One recursive query, one round trip."""
        rows = self._read(
            lambda conn: conn.execute(self._sql.ancestors, (wid, list(start), limit)).fetchall()
        )
        return {
            jti: None if seq is None else (row_wid, iat, _strings(par))
            for jti, seq, row_wid, iat, par in rows
        }

    def entries(self, *, wid: str | None = None) -> Iterator[LedgerEntry]:
        """Stream entries a page at a time (no connection is held between pages)."""
        return _stream(self._fetch, self._sql, wid)

    def head(self) -> tuple[int, str]:
        return self._read(lambda conn: _read_head(conn, self._sql))

    def _fetch(self, statement: sql.Composed, params: tuple[object, ...]) -> list[Any]:
        return self._read(lambda conn: conn.execute(statement, params).fetchall())

    @contextmanager
    def snapshot(self) -> Iterator[_PostgresSnapshot]:
        """A view of one instant: a repeatable-read, read-only transaction on one
        connection, held for as long as the view is used."""
        with self._translated("read"), self._connection() as conn:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                view = _PostgresSnapshot(conn, self._sql, self._translated)
                view.head()  # the first read fixes the snapshot
                yield view
            finally:
                _rollback(conn)

    def close(self) -> None:
        """Close this process's pool (a parent's, inherited through ``fork``, is left alone)."""
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None and self._pool_pid == os.getpid():
            pool.close()
        elif pool is not None:
            _inherited.append(pool)  # a parent's, through fork: leave it be

    # -- copying a chain verbatim (``ect ledger copy``) --------------------------------------

    def import_chain(self, entries: Iterable[LedgerEntry]) -> int:
        """Record already-sealed entries exactly as they are (seq, time, hashes) into this
        ledger, which must be empty, in one transaction: all of them or none.

        The database checks that they link up from genesis; the caller verifies the hashes.
        """
        count = 0
        with self._translated("import"), self._locked_head() as (conn, head):
            if head != (0, GENESIS_HASH):
                raise LedgerError(f"the destination ledger is not empty ({head[0]} entries)")
            batch: list[LedgerEntry] = []
            for entry in entries:
                batch.append(entry)
                if len(batch) == ROWS_PER_COPY:
                    count += self._copy_rows(conn, batch)
                    batch = []
            count += self._copy_rows(conn, batch)
            conn.execute("COMMIT")
            conn.execute(self._sql.flush)
        return count

    def _copy_rows(self, conn: psycopg.Connection[Any], batch: list[LedgerEntry]) -> int:
        if batch:
            with conn.cursor().copy(self._sql.copy) as copy:
                for entry in batch:
                    copy.write_row(_row(entry))
        return len(batch)

    # -- pickling (e.g. to a ``spawn`` child) -----------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        """Only the configuration travels, never a pool or a connection."""
        return {
            "conninfo": self._conninfo,
            "schema": self.schema,
            "clock": self._clock,
            "pool_max": self._pool_max,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(  # type: ignore[misc]
            state["conninfo"],
            schema=state["schema"],
            clock=state["clock"],
            create=False,
            pool_max=state["pool_max"],
        )

    def __repr__(self) -> str:
        return f"<PostgresLedger schema={self.schema!r}>"  # never the URL

    # -- connections -------------------------------------------------------------------------

    def _pool_here(self) -> ConnectionPool:
        """This process's pool, opened on first use (and again in a forked child)."""
        pid = os.getpid()
        pool = self._pool
        if pool is not None and self._pool_pid == pid and not self._closed:
            return pool
        with self._lock:
            if self._closed:
                raise LedgerError("the ledger is closed")
            if self._pool is not None and self._pool_pid != pid:
                _inherited.append(self._pool)  # the parent's: never used nor closed here
                self._pool = None
            if self._pool is None:
                pool = ConnectionPool(
                    self._conninfo,
                    min_size=1,
                    max_size=self._pool_max,
                    kwargs={"autocommit": True},
                    timeout=POOL_TIMEOUT,
                    name=f"ect-ledger-{self.schema}",
                    open=False,
                )
                pool.open(wait=False)
                self._pool, self._pool_pid = pool, pid
            return self._pool

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        with self._pool_here().connection() as conn:
            yield conn

    def _read(self, query: Callable[[psycopg.Connection[Any]], _T]) -> _T:
        """Run a read on a pooled connection; once more if the server had dropped the
        connection (a read changes nothing, so repeating it is safe)."""
        with self._translated("read"):
            for attempt in (1, 2):
                with self._connection() as conn:
                    try:
                        return query(conn)
                    except psycopg.OperationalError:
                        if attempt == 2 or not conn.broken:
                            raise
                self._recover()
        raise AssertionError("unreachable")

    def _recover(self) -> None:
        """A connection turned out dropped by the server: a restart or failover drops them
        all, so have the pool test its idle ones and replace the dead, before a retry."""
        self._pool_here().check()

    @contextmanager
    def _locked_head(self) -> Iterator[tuple[psycopg.Connection[Any], tuple[int, str]]]:
        """A pooled connection inside a transaction that holds the chain head row lock, and
        the head (seq, hash). The body commits; any exception rolls back.

        Taking the lock changes nothing, so it is tried once more if the server had dropped
        the connection; the body (which may have committed) never is."""
        for attempt in (1, 2):
            with self._connection() as conn:
                try:
                    row = self._begin_and_lock(conn)
                except psycopg.OperationalError:
                    if attempt == 2 or not conn.broken:
                        raise
                else:
                    try:
                        yield conn, row
                    finally:
                        _rollback(conn)  # a no-op once the body has committed
                    return
            self._recover()

    def _begin_and_lock(self, conn: psycopg.Connection[Any]) -> tuple[int, str]:
        try:
            cur = conn.execute(self._sql.begin_and_lock)
            for _ in range(3):  # past the results of BEGIN and the two SET LOCAL
                cur.nextset()
            row = cur.fetchone()
            if row is None:
                raise LedgerError("the ledger's chain head record is missing")
        except BaseException:
            _rollback(conn)
            raise
        return int(row[0]), str(row[1])

    # -- schema ------------------------------------------------------------------------------

    def _initialise(self, conn: psycopg.Connection[Any], *, create: bool) -> None:
        """Create (with ``create``) or migrate the schema; once, whichever process gets the
        lock first. Read-only tools migrate too: migrations only add empty columns."""
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                         (lock_key(self.schema),))  # fmt: skip
            version = self._stored_version(conn)
            if version == str(SCHEMA_VERSION) and create:
                conn.execute(self._sql.forget_ended_sessions)
            if version is None:
                if not create:
                    return  # refused by _check_schema
                if self._has_tables(conn):
                    raise LedgerError(
                        f"schema {self.schema!r} has tables but no ledger schema version"
                    )
                for statement in create_statements(self.schema):
                    conn.execute(statement)
                return
            if not version.isdigit() or not 1 <= int(version) < SCHEMA_VERSION:
                return  # current, or refused by _check_schema with the version named
            for step in MIGRATIONS[int(version) - 1 :]:
                for text in step:
                    conn.execute(sql.SQL(text).format(s=sql.Identifier(self.schema)))
            conn.execute(self._sql.set_version, (str(SCHEMA_VERSION),))

    def _check_schema(self, conn: psycopg.Connection[Any]) -> None:
        version = self._stored_version(conn)
        if version is None:
            raise LedgerError(f"no ECT ledger in schema {self.schema!r} of that database")
        if version != str(SCHEMA_VERSION):
            raise LedgerError(
                f"schema {self.schema!r}: unsupported ledger schema version {version!r}"
            )

    def _stored_version(self, conn: psycopg.Connection[Any]) -> str | None:
        exists = conn.execute(
            "SELECT to_regclass(%s) IS NOT NULL", (f'"{self.schema}".meta',)
        ).fetchone()
        if not exists or not exists[0]:
            return None
        row = conn.execute(self._sql.get_version).fetchone()
        return None if row is None else str(row[0])

    def _has_tables(self, conn: psycopg.Connection[Any]) -> bool:
        row = conn.execute(
            "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = %s", (self.schema,)
        ).fetchone()
        return bool(row and row[0])

    # -- errors ------------------------------------------------------------------------------

    @contextmanager
    def _translated(self, operation: str) -> Iterator[None]:
        """psycopg errors become ``LedgerError``; messages carry neither stored values
        (only the server's primary message is kept, never its DETAIL) nor the URL."""
        try:
            yield
        except PoolTimeout:  # before psycopg.Error, of which it is one
            raise LedgerError(
                f"ledger {operation} failed: no database connection within {POOL_TIMEOUT:g} s"
            ) from None
        except psycopg.Error as exc:
            raise LedgerError(f"ledger {operation} failed: {self._reason(exc)}") from None

    def _reason(self, exc: psycopg.Error) -> str:
        """The server's primary message, else the first line of the client's (connection
        failures), with the URL and password blanked out wherever they would appear."""
        lines = str(exc).strip().splitlines()
        message = (exc.diag.message_primary if exc.diag.sqlstate else None) or (
            lines[0] if lines else type(exc).__name__
        )
        for secret in self._secrets:
            message = message.replace(secret, "***")
        return message


class _PostgresSnapshot:
    def __init__(
        self,
        conn: psycopg.Connection[Any],
        statements: _Statements,
        translated: Callable[[str], Any],
    ) -> None:
        self._conn = conn
        self._sql = statements
        self._translated = translated

    def entries(self, *, wid: str | None = None) -> Iterator[LedgerEntry]:
        return _stream(self._fetch, self._sql, wid)

    def head(self) -> tuple[int, str]:
        with self._translated("read"):
            return _read_head(self._conn, self._sql)

    def _fetch(self, statement: sql.Composed, params: tuple[object, ...]) -> list[Any]:
        with self._translated("read"):
            return self._conn.execute(statement, params).fetchall()


class _Statements:
    """The engine's SQL, composed once for one schema."""

    def __init__(self, schema: str) -> None:
        s = sql.Identifier(schema)
        columns = sql.SQL(", ").join(map(sql.Identifier, _COLUMN_NAMES))
        select = sql.SQL("SELECT {columns} FROM {s}.entries ").format(columns=columns, s=s)
        self.find = select + sql.SQL("WHERE jti = %s ORDER BY seq")
        self.page = select + sql.SQL(f"WHERE seq > %s ORDER BY seq LIMIT {PAGE_SIZE}")
        self.page_wid = select + sql.SQL(
            f"WHERE wid = %s AND seq > %s ORDER BY wid, seq LIMIT {PAGE_SIZE}"
        )
        self.head = sql.SQL("SELECT seq, hash FROM {s}.chain_head WHERE id = 1").format(s=s)
        # Breadth first from the tasks %s (a text array) through each task's recorded
        # parents, each task once (UNION), with the first entry recording it in the scope
        # of workflow %s (that workflow's or none's; none's only when NULL); the outer
        # LIMIT stops the recursion after that many tasks.
        self.ancestors = sql.SQL(
            "WITH RECURSIVE w(wid) AS MATERIALIZED (SELECT %s::text),"
            " walk(jti, seq) AS ("
            " SELECT t.jti, (SELECT m.seq FROM {s}.entries AS m WHERE m.jti = t.jti"
            " AND (m.wid IS NULL OR m.wid = w.wid) ORDER BY m.seq LIMIT 1)"
            " FROM w, unnest(%s::text[]) AS t(jti) WHERE t.jti IS NOT NULL"
            " UNION"
            " SELECT p.jti, (SELECT m.seq FROM {s}.entries AS m WHERE m.jti = p.jti"
            " AND (m.wid IS NULL OR m.wid = w.wid) ORDER BY m.seq LIMIT 1)"
            " FROM w, walk JOIN {s}.entries AS e ON e.seq = walk.seq"
            " CROSS JOIN LATERAL unnest(e.par) AS p(jti) WHERE p.jti IS NOT NULL)"
            " SELECT found.jti, e.seq, e.wid, e.iat, e.par"
            " FROM (SELECT * FROM walk LIMIT %s) AS found"
            " LEFT JOIN {s}.entries AS e ON e.seq = found.seq"
        ).format(s=s)
        # One simple-protocol round trip: begin, bound the wait, commit without waiting for
        # the flush (``FLUSH`` waits for it, after the lock is released), lock the head.
        self.begin_and_lock = sql.SQL(
            "BEGIN; SET LOCAL lock_timeout = {timeout}; SET LOCAL synchronous_commit = off;"
            " SELECT seq, hash FROM {s}.chain_head WHERE id = 1 FOR UPDATE"
        ).format(s=s, timeout=sql.Literal(LOCK_TIMEOUT))
        self.flush = sql.SQL(FLUSH).format(s=s)
        self.forget_ended_sessions = sql.SQL(FORGET_ENDED_SESSIONS).format(s=s)
        self.copy = sql.SQL("COPY {s}.entries ({columns}) FROM STDIN").format(s=s, columns=columns)
        self.get_version = sql.SQL(
            "SELECT value FROM {s}.meta WHERE key = 'schema_version'"
        ).format(s=s)
        self.set_version = sql.SQL(
            "UPDATE {s}.meta SET value = %s WHERE key = 'schema_version'"
        ).format(s=s)
        self._insert_head = sql.SQL("INSERT INTO {s}.entries ({columns}) VALUES ").format(
            s=s, columns=columns
        )
        self._row = sql.SQL("(" + ", ".join(["%s"] * len(_COLUMN_NAMES)) + ")")
        self._inserts: dict[int, sql.Composed] = {}

    def insert(self, rows: int) -> sql.Composed:
        """One INSERT of ``rows`` rows: one statement, so the head trigger runs once.
        (Not one ``unnest`` statement: that was slower for every batch size tried.)"""
        statement = self._inserts.get(rows)
        if statement is None:
            statement = self._insert_head + sql.SQL(", ").join([self._row] * rows)
            self._inserts[rows] = statement
        return statement


def _stream(fetch: _Fetch, statements: _Statements, wid: str | None) -> Iterator[LedgerEntry]:
    after = 0
    while True:
        if wid is None:
            rows = fetch(statements.page, (after,))
        else:
            rows = fetch(statements.page_wid, (wid, after))
        for row in rows:
            yield _entry(row)
        if len(rows) < PAGE_SIZE:
            return
        after = rows[-1][0]


def _read_head(conn: psycopg.Connection[Any], statements: _Statements) -> tuple[int, str]:
    row = conn.execute(statements.head).fetchone()
    if row is None:
        raise LedgerError("the ledger's chain head record is missing")
    return int(row[0]), str(row[1])


def _rollback(conn: psycopg.Connection[Any]) -> None:
    """End whatever transaction is open; a broken connection is left to the pool."""
    if conn.broken or conn.closed:
        return
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        with suppress(psycopg.Error):  # the pool discards a connection it cannot reset
            conn.execute("ROLLBACK")


def _row(entry: LedgerEntry) -> tuple[object, ...]:
    return entry_row(entry, list)


def _entry(row: Sequence[Any]) -> LedgerEntry:
    return entry_from_row(row, _strings)


def _strings(values: Sequence[Any] | None) -> tuple[str, ...]:
    """A stored text array. A NULL element was not written by ``append``: it reads as
    ``"NULL"``, which can never hash like the original, so the chain walk names the entry
    as altered instead of the read failing."""
    if values is None:
        return ("NULL",)
    return tuple("NULL" if value is None else str(value) for value in values)


# -- opening from a URL (``open_ledger``) ----------------------------------------------------


def open_postgres_ledger(url: SplitResult, clock: Clock, create: bool) -> PostgresLedger:
    """``postgresql://[user[:password]@]host[:port]/database[?schema=ect&pool_max=10&...]``"""
    ours, libpq = driver_options(url, _OUR_OPTIONS, _LIBPQ_DEFAULTS)
    conninfo = urlunsplit(("postgresql", url.netloc, url.path, libpq, ""))
    pool_max = ours.get("pool_max", str(DEFAULT_POOL_MAX))
    if not pool_max.isdigit():
        raise ValueError("the postgresql ledger option pool_max must be a whole number")
    return PostgresLedger(
        conninfo,
        schema=ours.get("schema", DEFAULT_SCHEMA),
        clock=clock,
        create=create,
        pool_max=int(pool_max),
    )


def _secrets_of(conninfo: str) -> tuple[str, ...]:
    """Strings that must never appear in an error message: the URL and its password."""
    password = None
    if "://" in conninfo:
        userinfo = conninfo.split("://", 1)[1].split("/", 1)[0].rpartition("@")[0]
        password = userinfo.partition(":")[2] or None
    found = [conninfo, password, unquote(password) if password else None]
    return tuple(sorted({s for s in found if s}, key=len, reverse=True))


# -- fork safety ------------------------------------------------------------------------------

_registry_lock = threading.Lock()
_instances: weakref.WeakSet[PostgresLedger] = weakref.WeakSet()
#: Pools inherited through ``fork``: kept referenced, so that nothing in this process ever
#: runs their clean-up on sockets that belong to the parent.
_inherited: list[ConnectionPool] = []


def _before_fork() -> None:
    _registry_lock.acquire()


def _after_fork_in_parent() -> None:
    _registry_lock.release()


def _after_fork_in_child() -> None:
    """A lock held by a thread that does not exist in the child would never be released."""
    for ledger in list(_instances):
        ledger._lock = threading.Lock()
    _registry_lock.release()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_before_fork,
        after_in_parent=_after_fork_in_parent,
        after_in_child=_after_fork_in_child,
    )

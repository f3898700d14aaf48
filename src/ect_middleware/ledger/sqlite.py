"""SQLite ledger engine, the embedded default (``sqlite:///ect-ledger.db``).

Durability: the database runs in WAL mode with ``synchronous=NORMAL`` by default. A commit
is in the WAL file (in the OS cache) before ``append`` returns, so it survives a crash or
kill of the process, and no commit waits for an fsync: an append (hashing, both indexes,
the head) costs CPU time only (``python3 dev.py bench --only append`` measures it). Only an
OS crash or power loss can lose the last commits. ``synchronous="full"``
(``?synchronous=full`` in the URL) also fsyncs the WAL on every commit, which survives
power loss too and makes every append wait for the disk. WAL checkpoints run in a
background thread (``checkpoints``), not in the request that happens to fill the WAL.

Concurrency: ``append`` reads the chain head, inserts the entries and moves the head inside
one ``BEGIN IMMEDIATE`` transaction. SQLite's write lock serialises writers across threads
and processes, so the chain never forks; waiting writers retry for up to ``BUSY_TIMEOUT``.
Every thread of every process uses its own connection (see ``connections``).

Reading never judges content: values are read back with the column's type and handed to
``verify_chain``, so an altered row shows up as a broken entry, not as a crash.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from ..errors import LedgerError
from ..limits import Clock, system_clock
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
from .checkpoints import BACKSTOP_PAGES, Checkpointer
from .connections import ThreadConnections

SCHEMA_VERSION = 2
BUSY_TIMEOUT = 30.0  # seconds a writer waits for the write lock before giving up
_SQLITE_BUSY = 5
_BUSY_TIMEOUT_PRAGMA = f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}"
_NO_BUSY_TIMEOUT_PRAGMA = "PRAGMA busy_timeout = 0"
PAGE_SIZE = 500  # entries fetched per query when streaming

Synchronous = Literal["normal", "full"]
_SYNCHRONOUS_PRAGMA = {
    "normal": "PRAGMA synchronous=NORMAL",
    "full": "PRAGMA synchronous=FULL",
}

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS entries (
        seq INTEGER PRIMARY KEY,
        ect TEXT NOT NULL,
        wit TEXT,
        direction TEXT NOT NULL,
        recorder TEXT NOT NULL,
        jti TEXT NOT NULL,
        wid TEXT,
        iss TEXT NOT NULL,
        iat REAL NOT NULL,
        par TEXT NOT NULL,
        unresolved TEXT NOT NULL,
        recorded_us INTEGER NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL,
        trace_id TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS entries_jti ON entries (jti)",
    "CREATE INDEX IF NOT EXISTS entries_wid ON entries (wid)",
    """CREATE TABLE IF NOT EXISTS chain_head (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        seq INTEGER NOT NULL,
        hash TEXT NOT NULL
    )""",
)
_INITIAL_ROWS = (
    (
        "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
        (str(SCHEMA_VERSION),),
    ),
    ("INSERT OR IGNORE INTO chain_head (id, seq, hash) VALUES (1, 0, ?)", (GENESIS_HASH,)),
)

# Every column is read back as its declared type, whatever an editor stored in it.
_COLUMNS = (
    "seq, CAST(ect AS TEXT), CAST(wit AS TEXT), CAST(direction AS TEXT),"
    " CAST(recorder AS TEXT), CAST(jti AS TEXT), CAST(wid AS TEXT), CAST(iss AS TEXT),"
    " CAST(iat AS REAL), CAST(par AS TEXT), CAST(unresolved AS TEXT),"
    " CAST(recorded_us AS INTEGER), CAST(prev_hash AS TEXT), CAST(hash AS TEXT),"
    " CAST(trace_id AS TEXT)"
)
_INSERT = (
    "INSERT INTO entries (seq, ect, wit, direction, recorder, jti, wid, iss, iat, par,"
    " unresolved, recorded_us, prev_hash, hash, trace_id)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
#: From version N to N + 1 (index N - 1). Each runs in the transaction that records the
#: new version, so a crash never half-applies one; adding a NULL column rewrites nothing.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (("ALTER TABLE entries ADD COLUMN trace_id TEXT",),)
_READ_HEAD = "SELECT seq, CAST(hash AS TEXT) FROM chain_head WHERE id = 1"
_ANY_ENTRY = "SELECT 1 FROM entries LIMIT 1"
_MOVE_HEAD = "UPDATE chain_head SET seq = ?, hash = ? WHERE id = 1"
_SELECT = f"SELECT {_COLUMNS} FROM entries"  # noqa: S608 (a constant column list)
_FIND = _SELECT + " WHERE jti = ? ORDER BY seq"
_PAGE = _SELECT + f" WHERE seq > ? ORDER BY seq LIMIT {PAGE_SIZE}"
_PAGE_WID = _SELECT + f" WHERE wid = ? AND seq > ? ORDER BY seq LIMIT {PAGE_SIZE}"
# ``Ledger.recorded_task`` and ``recorded_by``: the columns asked for, not whole entries.
_RECORDED_TASK = """SELECT CAST(wid AS TEXT), CAST(iat AS REAL), CAST(par AS TEXT) FROM entries
    WHERE jti = ?1 AND (wid IS NULL OR CAST(wid AS TEXT) = ?2) ORDER BY seq LIMIT 1"""
_RECORDED_BY = "SELECT 1 FROM entries WHERE jti = ? AND CAST(recorder AS TEXT) = ? LIMIT 1"
# The seq of the first entry recording task ``{jti}`` that can be a parent in workflow ?2
# (entries of that workflow or of none; of none only, when ?2 is NULL): ``dag.in_scope``,
# ``LedgerTaskStore.lookup`` in SQL.
_FIRST_MATCH = """(SELECT seq FROM entries WHERE jti = {jti}
    AND (wid IS NULL OR CAST(wid AS TEXT) = ?2) ORDER BY seq LIMIT 1)"""
# Breadth first from the tasks in ?1 through each task's recorded parents, each task once
# (UNION), at most ?3 tasks, with the entry that records each (NULL if none). Only string
# elements of well-formed ``par`` arrays are followed; whatever else an edited row holds
# is left to the caller's own lookups.
_ANCESTORS = f"""
WITH RECURSIVE walk(jti, seq) AS (
    SELECT value, {_FIRST_MATCH.format(jti="value")} FROM json_each(?1) WHERE type = 'text'
    UNION
    SELECT p.value, {_FIRST_MATCH.format(jti="p.value")} FROM walk
    JOIN entries AS e ON e.seq = walk.seq
    JOIN json_each(CASE WHEN json_valid(CAST(e.par AS TEXT)) THEN CAST(e.par AS TEXT)
                   ELSE '[]' END) AS p
    WHERE p.type = 'text'
    LIMIT ?3
)
SELECT walk.jti, e.seq, CAST(e.wid AS TEXT), CAST(e.iat AS REAL), CAST(e.par AS TEXT)
FROM walk LEFT JOIN entries AS e ON e.seq = walk.seq
"""  # noqa: S608 (constant fragments only)


class _Connection(sqlite3.Connection):
    """A connection that remembers whether its busy timeout is off.

    ``append_nowait`` turns it off to try the write lock and leaves it off, so a thread
    that only appends switches it once instead of twice per append (two statements saved
    on every append); every other use of the connection turns it back on first
    (``SQLiteLedger._connection``)."""

    waits = True  # busy_timeout is BUSY_TIMEOUT (sqlite3.connect's timeout)


class SQLiteLedger(Ledger):
    """A ledger in one SQLite file, shared safely by threads and processes."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Clock = system_clock,
        synchronous: Synchronous = "normal",
        create: bool = True,
    ) -> None:
        """Open the ledger file at ``path``; with ``create``, make it (and its folder) if needed.

        With ``create=False`` the file must already be a ledger: read-only tools use it so
        that a mistyped path is an error instead of a new, empty (and "intact") ledger.
        """
        if synchronous not in _SYNCHRONOUS_PRAGMA:
            raise ValueError("synchronous must be 'normal' or 'full'")
        self.path = Path(os.path.abspath(path))
        if not create and not self.path.is_file():
            raise LedgerError(f"no ledger file at {self.path}")
        self._clock = clock
        self._synchronous: Synchronous = synchronous
        self._uri = f"{self.path.as_uri()}?mode={'rwc' if create else 'rw'}"
        if create:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise LedgerError(
                    f"cannot create the folder of {self.path}: {exc.strerror}"
                ) from exc
        with _Translated(f"open of {self.path}"), closing(self._connect()) as conn:
            if create:
                _initialise(conn)
            _migrate(conn)
            self._check_schema(conn)
        self._uri = f"{self.path.as_uri()}?mode=rw"  # from now on the file must exist
        self._connections = ThreadConnections(self._connect)
        self._checkpointer = Checkpointer(self._connection)

    def append(self, entries: Sequence[NewEntry]) -> list[LedgerEntry]:
        if not entries:
            return []
        with _Translated("append"):
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            return self._append_begun(conn, entries)

    def append_nowait(self, entries: Sequence[NewEntry]) -> list[LedgerEntry] | None:
        """``append``, or None at once if it would have to wait: for another connection's
        write lock, or for the disk (``synchronous=full`` syncs every commit). What an
        event loop may run itself; the rest goes to ``LedgerWriter``'s thread."""
        if self._synchronous == "full":
            return None
        if not entries:
            return []
        with _Translated("append"):
            # The thread's own connection, whose page cache the lookups of the next
            # request find warm (a second connection's writes would invalidate it).
            conn = self._connections.get()
            if conn.waits:
                conn.execute(_NO_BUSY_TIMEOUT_PRAGMA)
                conn.waits = False
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if _is_busy(exc):
                    return None
                raise
            # Holding the write lock, nothing in the transaction waits for a lock (a
            # backstop checkpoint at commit is PASSIVE): the timeout can stay off.
            return self._append_begun(conn, entries)

    def _append_begun(
        self, conn: sqlite3.Connection, entries: Sequence[NewEntry]
    ) -> list[LedgerEntry]:
        """The rest of an append, once ``BEGIN IMMEDIATE`` holds the write lock."""
        try:
            head = conn.execute(_READ_HEAD).fetchone()
            sealed = seal_after(head, entries, int(self._clock() * 1_000_000))
            conn.executemany(_INSERT, [_row(recorded) for recorded in sealed])
            conn.execute(_MOVE_HEAD, (sealed[-1].seq, sealed[-1].hash))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self._checkpointer.appended()
        return sealed

    def find(self, jti: str) -> list[LedgerEntry]:
        with _Translated("read"):
            rows = self._connection().execute(_FIND, (jti,)).fetchall()
        return [_entry(row) for row in rows]

    def recorded_task(self, jti: str, wid: str | None) -> RecordedTask:
        with _Translated("read"):
            row = self._connection().execute(_RECORDED_TASK, (jti, wid)).fetchone()
        return None if row is None else (row[0], row[1], _load_strings(row[2]))

    def recorded_by(self, jti: str, recorder: str) -> bool:
        with _Translated("read"):
            return self._connection().execute(_RECORDED_BY, (jti, recorder)).fetchone() is not None

    def ancestors(
        self, start: Sequence[str], wid: str | None, limit: int
    ) -> dict[str, RecordedTask] | None:
        """One recursive query; None when this SQLite has no JSON functions."""
        with _Translated("read"):
            conn = self._connection()
        try:
            rows = conn.execute(
                _ANCESTORS, (_COMPACT_JSON.encode(list(start)), wid, limit)
            ).fetchall()
        except sqlite3.OperationalError:
            return None
        return {
            jti: None if seq is None else (row_wid, iat, _load_strings(par))
            for jti, seq, row_wid, iat, par in rows
        }

    def entries(self, *, wid: str | None = None) -> Iterator[LedgerEntry]:
        """Stream entries a page at a time (no transaction is held between pages)."""
        return _stream(self._connection, wid)

    def head(self) -> tuple[int, str]:
        with _Translated("read"):
            return _read_head(self._connection())

    @contextmanager
    def snapshot(self) -> Iterator[_SQLiteSnapshot]:
        """A view of one instant: a read transaction on a connection of its own."""
        with _Translated("read"), closing(self._connect()) as conn:
            conn.execute("BEGIN")
            view = _SQLiteSnapshot(conn)
            view.head()  # the first read fixes the snapshot; closing ends it
            yield view

    def close(self) -> None:
        self._checkpointer.close()
        with _Translated("close"):
            self._connections.close()

    def import_chain(self, entries: Iterable[LedgerEntry]) -> int:
        """Record already-sealed entries exactly as they are (seq, time, hashes) into this
        ledger, which must be empty, in one transaction (``ledger.copy``). Each must link to
        the one before; the caller verifies the hashes."""
        with _Translated("import"):
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                head = _read_head(conn)
                if head != (0, GENESIS_HASH) or conn.execute(_ANY_ENTRY).fetchone():
                    raise LedgerError(f"the destination ledger is not empty ({head[0]} entries)")
                count, batch = 0, []
                for entry in entries:
                    if (entry.seq, entry.prev_hash) != (head[0] + 1, head[1]):
                        raise LedgerError(f"entry {entry.seq} does not extend the chain")
                    head = (entry.seq, entry.hash)
                    batch.append(_row(entry))
                    if len(batch) == PAGE_SIZE:
                        count += len(batch)
                        conn.executemany(_INSERT, batch)
                        batch = []
                conn.executemany(_INSERT, batch)
                conn.execute(_MOVE_HEAD, head)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        return count + len(batch)

    def __getstate__(self) -> dict[str, Any]:
        """Only the configuration travels (e.g. to a ``spawn`` child), never a connection."""
        return {"path": self.path, "clock": self._clock, "synchronous": self._synchronous}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(  # type: ignore[misc]
            state["path"], clock=state["clock"], synchronous=state["synchronous"], create=False
        )

    def _connection(self) -> _Connection:
        """The calling thread's connection, with its busy timeout on."""
        conn = self._connections.get()
        if not conn.waits:
            conn.execute(_BUSY_TIMEOUT_PRAGMA)
            conn.waits = True
        return conn

    def _connect(self) -> _Connection:
        conn = sqlite3.connect(
            self._uri,
            uri=True,
            timeout=BUSY_TIMEOUT,
            isolation_level=None,  # transactions are begun and ended explicitly
            check_same_thread=False,  # only so that close() may close them; never shared
            factory=_Connection,
        )
        try:
            conn.execute(_SYNCHRONOUS_PRAGMA[self._synchronous])
            # Checkpoints run in a background thread (see ``checkpoints``); a request only
            # checkpoints if the WAL grows past the backstop.
            conn.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
        except BaseException:
            conn.close()
            raise
        return conn

    def _check_schema(self, conn: sqlite3.Connection) -> None:
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.OperationalError:
            row = None
        if row is None:
            raise LedgerError(f"{self.path} is not an ECT ledger (no schema)")
        if row[0] != str(SCHEMA_VERSION):
            raise LedgerError(f"{self.path}: unsupported ledger schema version {row[0]!r}")


def _initialise(conn: sqlite3.Connection) -> None:
    """Create the schema if missing; idempotent, and safe when processes race to do it."""
    conn.execute("PRAGMA journal_mode=WAL")  # persistent: recorded in the file
    conn.execute("BEGIN IMMEDIATE")
    for statement in _SCHEMA:
        conn.execute(statement)
    for statement, values in _INITIAL_ROWS:
        conn.execute(statement, values)
    conn.execute("COMMIT")


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring a ledger of an older schema version to this one, in one transaction (also
    for read-only tools: the additions are empty columns, which change no recorded hash).
    Anything that is not an older version is left to ``_check_schema`` to judge."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.OperationalError:
            row = None
        version = str(row[0]) if row is not None else ""
        if version.isdigit() and 1 <= int(version) < SCHEMA_VERSION:
            for step in _MIGRATIONS[int(version) - 1 :]:
                for statement in step:
                    conn.execute(statement)
            conn.execute(
                "UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),)
            )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


class _SQLiteSnapshot:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def entries(self, *, wid: str | None = None) -> Iterator[LedgerEntry]:
        return _stream(lambda: self._conn, wid)

    def head(self) -> tuple[int, str]:
        with _Translated("read"):
            return _read_head(self._conn)


def _stream(connection: Callable[[], sqlite3.Connection], wid: str | None) -> Iterator[LedgerEntry]:
    after = 0
    while True:
        with _Translated("read"):
            conn = connection()  # per page: the generator may be resumed on another thread
            if wid is None:
                rows = conn.execute(_PAGE, (after,)).fetchall()
            else:
                rows = conn.execute(_PAGE_WID, (wid, after)).fetchall()
        for row in rows:
            yield _entry(row)
        if len(rows) < PAGE_SIZE:
            return
        after = rows[-1][0]


def _read_head(conn: sqlite3.Connection) -> tuple[int, str]:
    row = conn.execute(_READ_HEAD).fetchone()
    if row is None:
        raise LedgerError("the ledger's chain head record is missing")
    return int(row[0]), str(row[1])


def _row(entry: LedgerEntry) -> tuple[object, ...]:
    return entry_row(entry, _dump_strings)


def _entry(row: Sequence[Any]) -> LedgerEntry:
    return entry_from_row(row, _load_strings)


_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))  # built once: see base._CANONICAL


def _dump_strings(values: tuple[str, ...]) -> str:
    return _COMPACT_JSON.encode(list(values)) if values else "[]"


def _load_strings(text: str | None) -> tuple[str, ...]:
    """A stored JSON array of strings. Anything else was not written by ``append``: it is
    returned as its own text, which can never hash like the original, so the chain walk
    names the entry as altered instead of the read failing."""
    if text == "[]":
        return ()
    try:
        value = json.loads(text) if text is not None else None
    except ValueError:
        value = None
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    return (str(text),)


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    """SQLITE_BUSY: the code is on the exception from Python 3.11, in the message before."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code == _SQLITE_BUSY if code is not None else str(exc) == "database is locked"


class _Translated:
    """sqlite3 errors become ``LedgerError``; messages never carry stored values. A class,
    not a ``@contextmanager`` generator (dearer to enter): it wraps every append and read.
    """

    __slots__ = ("_operation",)

    def __init__(self, operation: str) -> None:
        self._operation = operation

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if isinstance(exc, sqlite3.Error):
            reason = str(exc)
            if reason.startswith("Could not decode"):  # this one quotes the stored text
                reason = "a stored text value is not valid UTF-8"
            raise LedgerError(f"ledger {self._operation} failed: {reason}") from exc

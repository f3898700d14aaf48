"""A replay cache in a SQLite file, shared by the worker processes of one host
(``ECT_REPLAY=sqlite:///path.db``).

The in-memory cache is per process: behind ``uvicorn --workers 4`` a WPT replayed to
another worker would not be recognised. Here a first use is one ``INSERT`` into a table
whose primary key is the token's key, in a ``BEGIN IMMEDIATE`` transaction: whichever
process inserts first wins, every later attempt is a replay. Keys expire with their tokens
and are purged every ``PURGE_EVERY`` uses. For several hosts use Redis.

Fail closed: if the file cannot be written, ``first_use`` raises ``replay.unavailable``.
Each process charges the keys it records to their callers (``CallerQuota``).
"""

from __future__ import annotations

import math
import sqlite3
import threading
from pathlib import Path

from ..errors import ECTError
from ..ledger.connections import ThreadConnections
from ..limits import Clock
from .base import DEFAULT_MAX_PER_CALLER, CallerQuota, ReplayCache

PURGE_EVERY = 1000
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS replay (key TEXT PRIMARY KEY, expires REAL NOT NULL) WITHOUT ROWID"
)


class SQLiteReplayCache(ReplayCache):
    def __init__(
        self, path: str | Path, clock: Clock, *, max_per_caller: int = DEFAULT_MAX_PER_CALLER
    ) -> None:
        self.path = Path(path)
        self._clock = clock
        self._quota = CallerQuota(max_per_caller)
        self._connections = ThreadConnections(self._connect)
        self._uses = 0
        self._lock = threading.Lock()
        self._connections.get()  # a path that cannot be opened is a startup error

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path,
                timeout=30,
                isolation_level=None,
                check_same_thread=False,  # only so that close() may close them; never shared
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise ValueError(f"cannot open the replay cache file {self.path}: {exc}") from None
        return conn

    def first_use(self, key: str, expires_at: float, owner: str | None = None) -> bool:
        now = self._clock()
        with self._lock:
            self._uses += 1
            purge = self._uses % PURGE_EVERY == 1  # the first use, then every PURGE_EVERY
        second = math.ceil(expires_at)
        self._quota.charge(owner, second, now)
        inserted = 0
        try:
            conn = self._connections.get()
            conn.execute("BEGIN IMMEDIATE")
            try:
                if purge:
                    conn.execute("DELETE FROM replay WHERE expires <= ?", (now,))
                else:  # a key whose token has expired may be used again
                    conn.execute("DELETE FROM replay WHERE key = ? AND expires <= ?", (key, now))
                added = conn.execute(
                    "INSERT OR IGNORE INTO replay (key, expires) VALUES (?, ?)", (key, expires_at)
                ).rowcount
                conn.execute("COMMIT")
                inserted = added
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except (sqlite3.Error, ValueError) as exc:
            raise ECTError("replay.unavailable", "the replay cache is unavailable") from exc
        finally:
            if inserted != 1:
                self._quota.refund(owner, second)
        return inserted == 1

    def close(self) -> None:
        self._connections.close()

"""Open a ledger from its URL (``ECT_LEDGER``, CONTRACT §3).

- ``memory://``: in this process only; nothing persists.
- ``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db`` (SQLAlchemy's
  convention: everything after the third slash is the path), optionally with
  ``?synchronous=normal`` (the default) or ``?synchronous=full`` (see ``sqlite``).
- ``postgresql://user@host:5432/database?schema=ect`` (or ``postgres://``): a ledger
  shared by many processes and hosts (see ``postgres``; needs the ``[postgres]`` extra).
- ``none``: no ledger at all; entries are verified and forgotten (see ``none``).

Each scheme maps to a small factory in ``ENGINES``. Error messages name the scheme, never
the URL, which may hold a password.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import SplitResult

from ..errors import LedgerError
from ..limits import Clock, system_clock
from ..storage_urls import engine_for, options, sqlite_path
from .base import Ledger
from .memory import MemoryLedger
from .none import NoLedger, is_no_ledger
from .sqlite import SQLiteLedger, Synchronous

#: (parsed URL, clock, create) -> ledger. ``create=False``: the ledger must already exist.
EngineFactory = Callable[[SplitResult, Clock, bool], Ledger]

_SYNCHRONOUS: dict[str, Synchronous] = {"normal": "normal", "full": "full"}


def _memory(url: SplitResult, clock: Clock, create: bool) -> Ledger:
    if url.netloc or url.path or url.query:
        raise ValueError("a memory:// ledger URL takes no path or options")
    return MemoryLedger(clock=clock)


def _sqlite(url: SplitResult, clock: Clock, create: bool) -> Ledger:
    path = sqlite_path(url, "ledger")
    choice = options(url, ("synchronous",), "sqlite ledger").get("synchronous", "normal")
    synchronous = _SYNCHRONOUS.get(choice.lower())
    if synchronous is None:
        raise ValueError("the sqlite ledger option synchronous must be 'normal' or 'full'")
    return SQLiteLedger(path, clock=clock, synchronous=synchronous, create=create)


def _none(url: SplitResult, clock: Clock, create: bool) -> Ledger:
    if url.netloc or url.path or url.query:
        raise ValueError("the none ledger takes no host, path or options")
    if not create:
        raise LedgerError("the none ledger records nothing: there is no ledger to read")
    return NoLedger()


def _postgresql(url: SplitResult, clock: Clock, create: bool) -> Ledger:
    try:  # imported here: the base install has no psycopg
        from .postgres import open_postgres_ledger
    except ImportError as exc:
        raise ValueError(
            "a postgresql ledger needs the postgres extra: pip install 'ect-middleware[postgres]'"
        ) from exc
    return open_postgres_ledger(url, clock, create)


ENGINES: dict[str, EngineFactory] = {
    "memory": _memory,
    "sqlite": _sqlite,
    "postgresql": _postgresql,
    "postgres": _postgresql,
    "none": _none,
}


def open_ledger(url: str, *, clock: Clock = system_clock, create: bool = True) -> Ledger:
    """The ledger at ``url``. With ``create=False`` (read-only tools) a missing ledger is an
    error instead of being created empty."""
    factory, parsed = engine_for("none://" if is_no_ledger(url) else url, ENGINES, "ledger")
    return factory(parsed, clock, create)

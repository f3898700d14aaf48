"""Per-thread, per-process SQLite connections (CONTRACT §7: never share one across threads
or across ``fork``).

Each thread of each process opens its own connection on first use. A child made by
``fork`` inherits its parent's connection objects in memory: it must neither use them nor
close them, because closing runs SQLite's close path (unlocking, a last-connection WAL
checkpoint) on descriptors and locks that belong to the parent. So just before every fork
the open connections are pinned, and the child keeps them pinned, untouched, for its whole
life while it opens its own. (Threads that do not survive the fork would otherwise drop
their thread-local connections, and closing them, in the child.)
"""

from __future__ import annotations

import os
import sqlite3
import threading
import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from ..errors import LedgerError

C = TypeVar("C", bound=sqlite3.Connection)


class _Handle(Generic[C]):
    """A connection and the process that opened it (weak-referenceable, unlike sqlite3's)."""

    __slots__ = ("__weakref__", "conn", "pid")

    def __init__(self, conn: C, pid: int) -> None:
        self.conn = conn
        self.pid = pid


_registry_lock = threading.Lock()
_alive: weakref.WeakSet[_Handle[Any]] = weakref.WeakSet()
_pinned_for_fork: list[_Handle[Any]] = []
_inherited: list[_Handle[Any]] = []


def _before_fork() -> None:
    _registry_lock.acquire()
    _pinned_for_fork[:] = _alive


def _after_fork_in_parent() -> None:
    _pinned_for_fork.clear()
    _registry_lock.release()


def _after_fork_in_child() -> None:
    _inherited.extend(_pinned_for_fork)
    _pinned_for_fork.clear()
    _registry_lock.release()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_before_fork,
        after_in_parent=_after_fork_in_parent,
        after_in_child=_after_fork_in_child,
    )


class ThreadConnections(Generic[C]):
    """The calling thread's connection in this process, opened by ``connect`` on first use."""

    def __init__(self, connect: Callable[[], C]) -> None:
        self._connect = connect
        self._local = threading.local()
        self._handles: weakref.WeakSet[_Handle[C]] = weakref.WeakSet()
        self._closed = False

    def get(self) -> C:
        if self._closed:
            raise LedgerError("the ledger is closed")
        handle: _Handle[C] | None = getattr(self._local, "handle", None)
        if handle is None or handle.pid != os.getpid():
            conn = self._connect()
            handle = _Handle(conn, os.getpid())
            # When the thread ends its handle goes and the connection is closed explicitly
            # (not left to the garbage collector, which warns on Python 3.13+). Never at
            # exit: a forked child must not close its parent's pinned connections.
            weakref.finalize(handle, conn.close).atexit = False
            with _registry_lock:
                _alive.add(handle)
                self._handles.add(handle)
            self._local.handle = handle
        return handle.conn

    def close(self) -> None:
        """Close every connection this process opened here (a parent's are left alone)."""
        pid = os.getpid()
        with _registry_lock:
            self._closed = True
            mine = [handle for handle in self._handles if handle.pid == pid]
            self._handles = weakref.WeakSet()
        for handle in mine:
            handle.conn.close()

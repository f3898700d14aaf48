"""The ledger seen as the DAG rules' task store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from ..ledger.base import Ledger
from .dag import TaskRef, in_scope


@runtime_checkable
class _WalksParents(Protocol):
    """Ledgers that can walk recorded ancestors in one query (SQLite, PostgreSQL), with
    the workflow scope of ``dag.in_scope``."""

    def walk_parents(
        self, start: Sequence[str], wid: str | None, limit: int
    ) -> Mapping[str, tuple[str | None, float, tuple[str, ...]] | None] | None: ...


class LedgerTaskStore:
    """Tasks recorded in ``ledger``; uniqueness is judged per recording service."""

    def __init__(self, ledger: Ledger, recorder: str) -> None:
        self._ledger = ledger
        self._recorder = recorder
        self._walker = ledger if isinstance(ledger, _WalksParents) else None

    def lookup(self, jti: str, wid: str | None) -> TaskRef | None:
        for e in self._ledger.find(jti):
            if in_scope(e.wid, wid):
                return TaskRef(e.jti, e.wid, e.iat, e.par)
        return None

    def ancestors(
        self, start: Sequence[str], wid: str | None, limit: int
    ) -> dict[str, TaskRef | None] | None:
        """``lookup(jti, wid)`` of every task reachable from ``start`` (at most ``limit``),
        in one go; None when the ledger cannot walk itself (then look up one by one)."""
        if self._walker is None:
            return None
        found = self._walker.walk_parents(start, wid, limit)
        if found is None:
            return None
        return {
            jti: None if task is None else TaskRef(jti, task[0], task[1], task[2])
            for jti, task in found.items()
        }

    def already_recorded(self, jti: str) -> bool:
        return any(e.recorder == self._recorder for e in self._ledger.find(jti))

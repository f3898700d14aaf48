"""The ledger seen as the DAG rules' task store."""

from __future__ import annotations

from collections.abc import Sequence

from ..ledger.base import Ledger
from .dag import TaskRef, TaskStore


class LedgerTaskStore(TaskStore):
    """Tasks recorded in ``ledger``; uniqueness is judged per recording service."""

    def __init__(self, ledger: Ledger, recorder: str) -> None:
        self._ledger = ledger
        self._recorder = recorder

    def lookup(self, jti: str, wid: str | None) -> TaskRef | None:
        task = self._ledger.recorded_task(jti, wid)
        return None if task is None else TaskRef(jti, task[0], task[1], task[2])

    def ancestors(
        self, start: Sequence[str], wid: str | None, limit: int
    ) -> dict[str, TaskRef | None] | None:
        found = self._ledger.ancestors(start, wid, limit)
        if found is None:
            return None
        return {
            jti: None if task is None else TaskRef(jti, task[0], task[1], task[2])
            for jti, task in found.items()
        }

    def already_recorded(self, jti: str) -> bool:
        return self._ledger.recorded_by(jti, self._recorder)

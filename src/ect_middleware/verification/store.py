"""The ledger seen as the DAG rules' task store."""

from __future__ import annotations

from ..ledger.base import Ledger
from .dag import TaskRef


class LedgerTaskStore:
    """Tasks recorded in ``ledger``; uniqueness is judged per recording service."""

    def __init__(self, ledger: Ledger, recorder: str) -> None:
        self._ledger = ledger
        self._recorder = recorder

    def lookup(self, jti: str, wid: str | None) -> TaskRef | None:
        for e in self._ledger.find(jti):
            if wid is None or e.wid is None or e.wid == wid:
                return TaskRef(e.jti, e.wid, e.iat, e.par)
        return None

    def already_received(self, jti: str, wid: str | None) -> bool:
        return any(
            e.direction == "received"
            and e.recorder == self._recorder
            and (wid is None or e.wid == wid)
            for e in self._ledger.find(jti)
        )

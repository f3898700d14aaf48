"""DAG rules (PROFILE §6), checked against the ECT store: the ledger plus the ECTs that
arrived inline on the same request.

Only ancestors are ever visited, and never more than ``Limits.max_ancestors`` of them: a
workflow is never loaded whole to check one ECT. Each task is asked of the store at most
once per check; a store that can walk ancestors itself (``ancestors``) is asked for all
the parents of an ECT and their ancestors in one go, which the walk then reads from.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from ..errors import ECTError
from ..limits import Limits
from ..tokens.ect import ECTClaims

DagMode = Literal["partial", "strict"]


@dataclass(frozen=True)
class TaskRef:
    """What the DAG rules need to know of a recorded task."""

    jti: str
    wid: str | None
    iat: float
    par: tuple[str, ...]


class TaskStore(Protocol):
    def lookup(self, jti: str, wid: str | None) -> TaskRef | None:
        """The task ``jti`` in workflow ``wid`` (or with no workflow), if recorded."""

    def already_received(self, jti: str, wid: str | None) -> bool:
        """Whether this service has already accepted the ECT ``jti`` (rule 1)."""


@runtime_checkable
class BulkTaskStore(TaskStore, Protocol):
    def ancestors(
        self, start: Sequence[str], wid: str | None, limit: int
    ) -> Mapping[str, TaskRef | None] | None:
        """``lookup(jti, wid)`` for every task reachable from ``start`` through recorded
        parents (at most ``limit`` tasks); None if the store cannot do it in one go."""


class _Overlay:
    """The store as seen while checking one request: its inline ECTs come first, and the
    store's answers are remembered for the rest of the check."""

    def __init__(self, store: TaskStore, inline: Sequence[ECTClaims], limit: int) -> None:
        self._store = store
        self._bulk = _as_bulk(store)
        self._limit = limit
        self._inline = {(e.jti, e.wid): TaskRef(e.jti, e.wid, e.iat, e.par) for e in inline}
        self._known: dict[tuple[str, str | None], TaskRef | None] = {}

    def prefetch(self, start: Sequence[str], wid: str | None) -> None:
        """Ask a bulk store once for ``start`` and the ancestors a walk from there needs.

        A single task is left to ``lookup``: one indexed lookup costs less than the
        recursive query, whatever the ledger's size, and most parents are either unknown
        here or have no recorded parents of their own.
        """
        if self._bulk is None or len(start) < 2:
            return
        found = self._bulk.ancestors(start, wid, self._limit + 1)
        if found is not None:
            self._known.update(((jti, wid), task) for jti, task in found.items())

    def lookup(self, jti: str, wid: str | None) -> TaskRef | None:
        inline = self._inline.get((jti, wid))
        if inline is not None:
            return inline
        key = (jti, wid)
        if key not in self._known:
            task = self._known[key] = self._store.lookup(jti, wid)
            if task is not None and task.par and self._bulk is not None:  # the walk goes on
                found = self._bulk.ancestors(task.par, wid, self._limit + 1)
                if found is not None:
                    self._known.update(((j, wid), t) for j, t in found.items())
        return self._known[key]


#: Whether a store class is a ``BulkTaskStore``, decided once per class: the protocol's
#: ``isinstance`` checks every member by name, too slow to repeat on every request.
_bulk_classes: dict[type, bool] = {}


def _as_bulk(store: TaskStore) -> BulkTaskStore | None:
    kind = type(store)
    if kind not in _bulk_classes:
        _bulk_classes[kind] = isinstance(store, BulkTaskStore)
    return store if _bulk_classes[kind] else None  # type: ignore[return-value]


def check_dag(
    ects: Sequence[ECTClaims], store: TaskStore, limits: Limits, mode: DagMode
) -> Mapping[str, tuple[str, ...]]:
    """Apply rules 1-5 to the ECTs of one request; return each ECT's unresolved parents."""
    if len(ects) > limits.max_ects_per_request:
        raise ECTError("ect.too_many", f"more than {limits.max_ects_per_request} ECTs")
    seen: set[tuple[str, str | None]] = set()
    for ect in ects:
        key = (ect.jti, ect.wid)
        if key in seen or store.already_received(ect.jti, ect.wid):
            raise ECTError("ect.replayed", "this ECT was already presented")
        seen.add(key)
    overlay = _Overlay(store, ects, limits.max_ancestors)
    unresolved: dict[str, tuple[str, ...]] = {}
    for ect in ects:
        if len(ect.par) > limits.max_parents:
            raise ECTError("dag.too_many_parents", f"more than {limits.max_parents} parents")
        overlay.prefetch(ect.par, ect.wid)
        missing = []
        for parent_id in ect.par:
            parent = overlay.lookup(parent_id, ect.wid)
            if parent is None:
                missing.append(parent_id)
            elif parent.iat > ect.iat + limits.dag_skew:
                raise ECTError("dag.parent_after_child", "a parent was issued after its child")
        if missing and mode == "strict":
            raise ECTError("dag.parent_unknown", "a parent is not in the ECT store")
        unresolved[ect.jti] = tuple(missing)
    for wid in dict.fromkeys(e.wid for e in ects):
        _check_ancestry([e for e in ects if e.wid == wid], wid, overlay, limits.max_ancestors)
    return unresolved


def _check_ancestry(
    ects: Sequence[ECTClaims], wid: str | None, store: _Overlay, limit: int
) -> None:
    """Rule 4 for the ECTs of one request (of one ``wid``): none is its own ancestor.

    Their ancestors are walked once, together, with one lookup each and no more than
    ``limit`` of them: per request, not per ECT, so that 32 ECTs naming the tip of one
    deep chain cost one walk, not 32. Whether an ECT is its own ancestor is then answered
    in memory, from the parents just read, and only for an ECT the walk came across.
    """
    parents: dict[str, tuple[str, ...]] = {}
    queue = deque(p for ect in ects for p in ect.par)
    while queue:
        jti = queue.popleft()
        if jti in parents:
            continue
        task = store.lookup(jti, wid)
        parents[jti] = task.par if task is not None else ()
        if len(parents) > limit:
            raise ECTError("dag.ancestor_limit", f"more than {limit} ancestors")
        queue.extend(parents[jti])
    for ect in ects:
        if ect.jti in parents and _reaches(ect.par, ect.jti, parents):
            raise ECTError("dag.cycle", "the ECT is its own ancestor")


def _reaches(start: Sequence[str], target: str, parents: Mapping[str, Sequence[str]]) -> bool:
    """Whether ``target`` is an ancestor of the tasks ``start`` in ``parents``."""
    queue, seen = deque(start), set()
    while queue:
        jti = queue.popleft()
        if jti == target:
            return True
        if jti not in seen:
            seen.add(jti)
            queue.extend(parents.get(jti, ()))
    return False

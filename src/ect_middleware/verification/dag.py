"""DAG rules (PROFILE §6), checked against the ECT store: the ledger plus the ECTs that
arrived inline on the same request.

Only ancestors are ever visited, and never more than ``Limits.max_ancestors`` of them: a
workflow is never loaded whole to check one ECT. Each task is asked of the store at most
once per check; a store that can walk ancestors itself (``ancestors``) is asked once per
request, for the parents of all its ECTs and their ancestors together, which the walk
then reads from: 32 ECTs naming parents at the tip of one deep chain cost one walk.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

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


def in_scope(task_wid: str | None, child_wid: str | None) -> bool:
    """Whether a task recorded in workflow ``task_wid`` can be a parent of an ECT in
    ``child_wid`` (PROFILE §6): a task of the same workflow, or one of no workflow; an ECT
    without ``wid`` has parents of no workflow only."""
    return task_wid is None or task_wid == child_wid


class TaskStore(ABC):
    """Where the DAG rules look tasks up: the ledger (``store.LedgerTaskStore``), or an
    audit bundle (``audit.reverify``)."""

    @abstractmethod
    def lookup(self, jti: str, wid: str | None) -> TaskRef | None:
        """The task ``jti`` that can be a parent of an ECT in workflow ``wid``
        (``in_scope``), if recorded."""

    @abstractmethod
    def already_recorded(self, jti: str) -> bool:
        """Whether this service has already received or minted the task ``jti``, in any
        workflow (rule 1)."""

    def ancestors(
        self, start: Sequence[str], wid: str | None, limit: int
    ) -> Mapping[str, TaskRef | None] | None:
        """``lookup(jti, wid)`` for every task reachable from ``start`` through recorded
        parents (at most ``limit`` tasks), in one go; None if the store cannot (then each
        is looked up on its own): the default."""
        return None


class _Overlay:
    """The store as seen while checking one request: its inline ECTs come first, and the
    store's answers are remembered for the rest of the check, so that each task is asked
    of the store at most once."""

    def __init__(
        self, store: TaskStore, inline: Sequence[ECTClaims], wid: str | None, limit: int
    ) -> None:
        self._store = store
        self._wid = wid
        self._inline = {e.jti: TaskRef(e.jti, e.wid, e.iat, e.par) for e in inline}
        self._known: dict[str, TaskRef | None] = {}
        starts = list(dict.fromkeys(p for e in inline for p in e.par if p not in self._inline))
        # One walk for the whole request, from every parent of every ECT: a single task is
        # left to ``lookup`` (one indexed lookup costs less than the recursive query), and
        # what the walk did not reach (past the limit) is looked up one by one.
        if len(starts) > 1:
            found = store.ancestors(starts, wid, limit + 1)
            if found is not None:
                self._known.update(found)
        elif len(starts) == 1:
            task = self._known[starts[0]] = store.lookup(starts[0], wid)
            if task is not None and task.par:  # the walk goes on: one query for the rest
                found = store.ancestors(task.par, wid, limit + 1)
                if found is not None:
                    self._known.update(found)

    def lookup(self, jti: str) -> TaskRef | None:
        inline = self._inline.get(jti)
        if inline is not None:
            return inline
        if jti not in self._known:
            self._known[jti] = self._store.lookup(jti, self._wid)
        return self._known[jti]


def check_dag(
    ects: Sequence[ECTClaims], store: TaskStore, limits: Limits, mode: DagMode
) -> Mapping[str, tuple[str, ...]]:
    """Apply rules 1-5 to the ECTs of one request; return each ECT's unresolved parents.

    The ECTs of one request are of one workflow (or all of none): ``ect.wid_mismatch``
    otherwise, so that they are checked against each other and against the same tasks.
    """
    if len(ects) > limits.max_ects_per_request:
        raise ECTError("ect.too_many", f"more than {limits.max_ects_per_request} ECTs")
    wids = {e.wid for e in ects}
    if len(wids) > 1:
        raise ECTError("ect.wid_mismatch", "ECTs of several workflows (or none) on one request")
    wid = wids.pop() if wids else None
    seen: set[str] = set()
    for ect in ects:
        if len(ect.par) > limits.max_parents:
            raise ECTError("dag.too_many_parents", f"more than {limits.max_parents} parents")
        if ect.jti in seen or store.already_recorded(ect.jti):
            raise ECTError("ect.replayed", "this ECT was already presented")
        seen.add(ect.jti)
    overlay = _Overlay(store, ects, wid, limits.max_ancestors)
    unresolved: dict[str, tuple[str, ...]] = {}
    for ect in ects:
        missing = []
        for parent_id in ect.par:
            parent = overlay.lookup(parent_id)
            if parent is None:
                missing.append(parent_id)
            elif parent.iat > ect.iat + limits.dag_skew:
                raise ECTError("dag.parent_after_child", "a parent was issued after its child")
        if missing and mode == "strict":
            raise ECTError("dag.parent_unknown", "a parent is not in the ECT store")
        unresolved[ect.jti] = tuple(missing)
    _check_ancestry(ects, overlay, limits.max_ancestors)
    return unresolved


def _check_ancestry(ects: Sequence[ECTClaims], store: _Overlay, limit: int) -> None:
    """Rule 4 for the ECTs of one request: none is its own ancestor.

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
        task = store.lookup(jti)
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

"""The ancestor walk of rule 4 is bounded per request, not per ECT.

A caller that has recorded one deep chain (10,000 tasks, which 313 requests of 32 chained
ECTs can do in partial mode) could otherwise send 32 ECTs that each name its tip: 32 walks
of 10,000 lookups each, some 20 seconds of one worker's time for a single request.
"""

from __future__ import annotations

import uuid

import pytest

from ect_middleware.errors import ECTError
from ect_middleware.limits import Limits
from ect_middleware.tokens.ect import ECTClaims, mint_ect
from ect_middleware.verification.dag import TaskRef, TaskStore, check_dag, in_scope

from ..support.clock import NOW
from ..support.mesh import Mesh

LIMITS = Limits()


class Tasks(TaskStore):
    """A task store held in a dict (a ``TaskStore``), counting its lookups."""

    def __init__(self) -> None:
        self.tasks: dict[str, TaskRef] = {}
        self.lookups = 0

    def lookup(self, jti: str, wid: str | None) -> TaskRef | None:
        self.lookups += 1
        task = self.tasks.get(jti)
        return task if task is not None and in_scope(task.wid, wid) else None

    def already_recorded(self, jti: str) -> bool:
        return False

    def chain(self, wid: str, length: int) -> str:
        """Record ``length`` tasks, each the parent of the next; the jti of the last."""
        parent: str | None = None
        for _ in range(length):
            jti = str(uuid.uuid4())
            self.tasks[jti] = TaskRef(jti, wid, NOW - 100, (parent,) if parent else ())
            parent = jti
        assert parent is not None
        return parent


@pytest.fixture(scope="module")
def chain() -> tuple[Tasks, str, str]:
    tasks, wid = Tasks(), str(uuid.uuid4())
    return tasks, wid, tasks.chain(wid, LIMITS.max_ancestors)


def ect(mesh: Mesh, wid: str, par: list[str], jti: str | None = None) -> ECTClaims:
    a = mesh["a"]
    return mint_ect(
        a.key, iss=a.id, aud=mesh["b"].id, par=par, exec_act="x", wid=wid, limits=LIMITS,
        clock=lambda: float(NOW), jti=jti,
    )  # fmt: skip


def ects(mesh: Mesh, wid: str, parents: list[list[str]]) -> list[ECTClaims]:
    return [ect(mesh, wid, par) for par in parents]


def test_32_ects_on_one_deep_chain_cost_one_walk(
    hostile_mesh: Mesh, chain: tuple[Tasks, str, str]
) -> None:
    tasks, wid, tip = chain
    tasks.lookups = 0
    request = ects(hostile_mesh, wid, [[tip]] * LIMITS.max_ects_per_request)
    assert check_dag(request, tasks, LIMITS, "partial") == {e.jti: () for e in request}
    assert tasks.lookups <= LIMITS.max_ancestors + LIMITS.max_ects_per_request


def test_the_limit_still_counts_every_ancestor(
    hostile_mesh: Mesh, chain: tuple[Tasks, str, str]
) -> None:
    tasks, wid, tip = chain
    (one,) = ects(hostile_mesh, wid, [[tip]])
    assert check_dag([one], tasks, LIMITS, "partial") == {one.jti: ()}  # exactly 10,000
    (over,) = ects(hostile_mesh, wid, [[one.jti]])
    with pytest.raises(ECTError) as caught:
        check_dag([one, over], tasks, LIMITS, "partial")  # one is inline: 10,001 above over
    assert caught.value.code == "dag.ancestor_limit"


def test_a_cycle_through_the_store_is_found_among_many(hostile_mesh: Mesh) -> None:
    """Recorded: P names a not-yet-seen Q (partial mode). A request of several ECTs of
    which one is Q, naming P, closes a cycle: found, whichever ECT it is."""
    tasks, wid = Tasks(), str(uuid.uuid4())
    q = str(uuid.uuid4())
    p = str(uuid.uuid4())
    tasks.tasks[p] = TaskRef(p, wid, NOW - 10, (q,))
    innocent = ects(hostile_mesh, wid, [[p], [], [p]])
    closing = ect(hostile_mesh, wid, [p], jti=q)
    with pytest.raises(ECTError) as caught:
        check_dag([*innocent[:2], closing, innocent[2]], tasks, LIMITS, "partial")
    assert caught.value.code == "dag.cycle"
    assert check_dag(innocent, tasks, LIMITS, "partial")  # without Q: no cycle


def test_inline_parents_are_not_cycles(hostile_mesh: Mesh) -> None:
    """X names inline Y, Y names inline Z: a chain within one request, no cycle."""
    tasks, wid = Tasks(), str(uuid.uuid4())
    z, y, x = (str(uuid.uuid4()) for _ in range(3))
    request = [
        ect(hostile_mesh, wid, [y], x),
        ect(hostile_mesh, wid, [z], y),
        ect(hostile_mesh, wid, [], z),
    ]
    assert check_dag(request, tasks, LIMITS, "strict") == {x: (), y: (), z: ()}

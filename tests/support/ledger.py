"""Realistic ledger entries, and helpers shared by the ledger tests.

Entries are what the middleware records: real ECTs signed by a generated workload key, with
the workload's real WIT, chained to their parents and wrapped with ``NewEntry.from_claims``.
This module is also imported by ``spawn``-ed worker processes, so it has no pytest state.
"""

from __future__ import annotations

import functools
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from ect_middleware.ledger import Direction, LedgerEntry, NewEntry, open_ledger, verify_chain
from ect_middleware.limits import Limits
from ect_middleware.tokens.ect import mint_ect
from ect_middleware.tokens.keys import SigningKey, generate_signing_key
from ect_middleware.tokens.wit import mint_wit

from .clock import clock

LIMITS = Limits()
PLANNER = "spiffe://org-a.example/agent/planner"
WORKER = "spiffe://org-b.example/agent/worker"


@dataclass(frozen=True)
class Workload:
    workload_id: str
    key: SigningKey
    wit: str


@functools.cache
def workload(workload_id: str = PLANNER) -> Workload:
    """A workload key (Ed25519) and its WIT from a per-domain development issuer."""
    issuer = generate_signing_key("ES256")
    key = generate_signing_key("EdDSA")
    wit = mint_wit(issuer, workload_id, key.public, lifetime=3600, clock=clock)
    return Workload(workload_id, key, wit)


def entry(
    par: Sequence[str] = (),
    *,
    wid: str | None = None,
    direction: Direction = "minted",
    by: str = PLANNER,
    unresolved: Sequence[str] = (),
    exec_act: str = "plan",
) -> NewEntry:
    """One freshly minted ECT with parents ``par``, as the ledger receives it."""
    wl = workload(by)
    claims = mint_ect(
        wl.key,
        iss=wl.workload_id,
        aud=WORKER if by == PLANNER else PLANNER,
        par=par,
        exec_act=exec_act,
        wid=wid,
        limits=LIMITS,
        clock=clock,
    )
    return NewEntry.from_claims(
        claims, wit=wl.wit, direction=direction, recorder=wl.workload_id, unresolved=unresolved
    )


def chain(count: int, *, wid: str | None = None, by: str = PLANNER) -> list[NewEntry]:
    """``count`` tasks of one workflow, each the child of the one before."""
    wid = wid or str(uuid.uuid4())
    made: list[NewEntry] = []
    for index in range(count):
        par = (made[-1].jti,) if made else ()
        made.append(entry(par, wid=wid, by=by, exec_act=f"step-{index}"))
    return made


def workflow(count: int, *, seed: int, wid: str | None = None) -> list[NewEntry]:
    """A DAG in recording order: fan-out and fan-in over earlier tasks, received and minted
    records, and now and then a parent that was never recorded here (marked unresolved)."""
    rng = random.Random(seed)
    wid = wid or str(uuid.UUID(int=rng.getrandbits(128), version=4))
    made: list[NewEntry] = []
    for index in range(count):
        par = rng.sample([e.jti for e in made], k=min(len(made), rng.randint(0, 3)))
        unresolved: list[str] = []
        if rng.random() < 0.15:
            unresolved.append(str(uuid.UUID(int=rng.getrandbits(128), version=4)))
        made.append(
            entry(
                [*par, *unresolved],
                wid=wid,
                direction=rng.choice(("minted", "received")),
                by=rng.choice((PLANNER, WORKER)),
                unresolved=unresolved,
                exec_act=f"task-{index}",
            )
        )
    return made


#: A parent recorded elsewhere: a ledger that names it marks it unresolved.
EXTERNAL = "6f1f6c1e-0000-4000-8000-000000000001"
#: How many entries ``pool`` holds.
POOL_SIZE = 40


@functools.cache
def pool() -> tuple[NewEntry, ...]:
    """A DAG of tasks; appending it again and again keeps every parent recorded first."""
    return tuple(workflow(POOL_SIZE, seed=11))


def recorded(url: str, *, create: bool = False) -> list[LedgerEntry]:
    """Every entry of the ledger at ``url``, after checking that its chain verifies (a
    missing ledger is an error, unless ``create``: then it is made, empty)."""
    ledger = open_ledger(url, create=create)
    try:
        entries = list(ledger.entries())
        report = verify_chain(entries, ledger.head())
    finally:
        ledger.close()
    assert report.ok, report
    return entries

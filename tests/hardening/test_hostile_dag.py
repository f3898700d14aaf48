"""Hostile requests against the request-level and DAG rules (PROFILE §6): replays, too many
ECTs, mixed workflows, parents issued after their children and cycle attempts."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from ect_middleware.ledger import NewEntry
from ect_middleware.ledger.sqlite import SQLiteLedger
from ect_middleware.limits import Limits
from ect_middleware.tokens.ect import read_claims

from ..support.clock import NOW, MovableClock
from ..support.mesh import Mesh
from ..support.stacks import Stack
from ._cases import Case, ids, run_accepted, run_attack
from ._hostile import Attack, Forger, Header, forge, jti_of, malleated
from .conftest import STACKS, open_stack_b


def _many(count: int, **claims: object) -> Callable[[Forger, str], list[Header]]:
    def build(f: Forger, url: str) -> list[Header]:
        wid = str(uuid.uuid4())
        return f.headers(url, ects=[f.ect(claims={"wid": wid, **claims}) for _ in range(count)])

    return build


def _oversized_header(f: Forger, url: str) -> list[Header]:
    wid = str(uuid.uuid4())
    ects = [f.ect(claims={"wid": wid, "pad": "x" * 10_000}) for _ in range(5)]
    assert sum(map(len, ects)) > 64 * 1024
    return f.headers(url, ects=ects)


def _empty_element(f: Forger, url: str) -> list[Header]:
    wid = str(uuid.uuid4())
    return f.headers(url, ects=[f.ect(claims={"wid": wid}), "", f.ect(claims={"wid": wid})])


def _two_workflows(f: Forger, url: str) -> list[Header]:
    return f.headers(url, ects=[f.ect(), f.ect()])  # each with a fresh wid


def _twice(f: Forger, url: str) -> list[Header]:
    token = f.ect()
    return f.headers(url, ects=[token, token])


def _replayed(f: Forger, url: str) -> Attack:
    token = f.ect()
    return Attack(f.headers(url, ects=[token]), primers=(f.headers(url, ects=[token]),))


def _replayed_malleated(f: Forger, url: str) -> Attack:
    token = f.ect()
    return Attack(f.headers(url, ects=[malleated(token)]), primers=(f.headers(url, ects=[token]),))


def _forwarded_by_c(f: Forger, url: str) -> list[Header]:
    return f.headers(url, caller="c", ects=[f.ect("a")])


def _parent_after_child_inline(f: Forger, url: str) -> list[Header]:
    wid, parent = str(uuid.uuid4()), str(uuid.uuid4())
    child = f.ect(claims={"wid": wid, "iat": NOW - 31, "par": [parent]})
    return f.headers(url, ects=[child, f.ect(claims={"wid": wid, "jti": parent})])


def _parent_after_child_recorded(f: Forger, url: str) -> Attack:
    wid, parent = str(uuid.uuid4()), str(uuid.uuid4())
    primer = f.headers(url, ects=[f.ect(claims={"wid": wid, "jti": parent})])
    child = f.ect(claims={"wid": wid, "iat": NOW - 31, "par": [parent]})
    return Attack(f.headers(url, ects=[child]), primers=(primer,))


def _cycle_inline(f: Forger, url: str) -> list[Header]:
    wid, x, y = (str(uuid.uuid4()) for _ in range(3))
    one = f.ect(claims={"wid": wid, "jti": x, "par": [y]})
    two = f.ect(claims={"wid": wid, "jti": y, "par": [x]})
    return f.headers(url, ects=[one, two])


def _cycle_through_ledger(f: Forger, url: str) -> Attack:
    """P names a not-yet-seen Q as its parent (accepted in partial mode, recorded as
    unresolved); then Q arrives naming P: Q would be its own ancestor."""
    wid, p, q = (str(uuid.uuid4()) for _ in range(3))
    primer = f.headers(url, ects=[f.ect(claims={"wid": wid, "jti": p, "par": [q]})])
    closing = f.ect(claims={"wid": wid, "jti": q, "par": [p]})
    return Attack(f.headers(url, ects=[closing]), primers=(primer,))


def _long_cycle_through_ledger(f: Forger, url: str) -> Attack:
    """A chain P1 <- P2 <- ... <- P5 recorded over five requests, P1 naming Q as parent;
    then Q arrives with P5 as its parent."""
    wid = str(uuid.uuid4())
    q, *chain = (str(uuid.uuid4()) for _ in range(6))
    primers = []
    parent = q
    for jti in chain:
        primers.append(
            f.headers(url, ects=[f.ect(claims={"wid": wid, "jti": jti, "par": [parent]})])
        )
        parent = jti
    closing = f.ect(claims={"wid": wid, "jti": q, "par": [chain[-1]]})
    return Attack(f.headers(url, ects=[closing]), primers=tuple(primers))


CASES = [
    Case("33 ECTs", _many(33), "ect.too_many"),
    Case("Execution-Context over 64 KiB", _oversized_header, "request.headers_too_large"),
    Case("an empty element between two ECTs", _empty_element, "ect.malformed"),
    Case("ECTs of two workflows", _two_workflows, "ect.wid_mismatch"),
    Case("one ECT twice on a request", _twice, "ect.replayed"),
    Case("ECT replayed with a fresh WPT", _replayed, "ect.replayed"),
    Case("ECT replayed with a malleated ES256 signature", _replayed_malleated, "ect.replayed"),
    Case("a's ECT forwarded by c", _forwarded_by_c, "ect.bad_signature"),
    Case("parent issued after its child, both inline", _parent_after_child_inline,
         "dag.parent_after_child"),
    Case("parent issued after its child, parent recorded", _parent_after_child_recorded,
         "dag.parent_after_child"),
    Case("cycle between two inline ECTs", _cycle_inline, "dag.cycle"),
    Case("cycle closed through a recorded ECT", _cycle_through_ledger, "dag.cycle"),
    Case("cycle closed through five recorded ECTs", _long_cycle_through_ledger, "dag.cycle"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_hostile_dag(hostile_stack: Stack, forger: Forger, case: Case) -> None:
    run_attack(hostile_stack, forger, case)


@pytest.fixture(scope="module")
def chain_10000(forger: Forger, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """A ledger holding one workflow's chain of 10,000 ECTs received from a, each the
    parent of the next: (its file, the workflow id, the jti at the tip)."""
    path = tmp_path_factory.mktemp("chain") / "b.db"
    ledger = SQLiteLedger(path)
    wid, parent = str(uuid.uuid4()), None
    a = forger.mesh["a"]
    for _ in range(10):
        batch = []
        for _ in range(1000):
            claims = forger.ect_claims(wid=wid, iat=NOW - 100, par=[parent] if parent else [])
            token = forge({"alg": "ES256", "typ": "wimse-exec+jwt"}, claims, a.key)
            batch.append(NewEntry.from_claims(
                read_claims(token, claims, Limits()), wit=a.wit, direction="received",
                recorder=forger.server,
            ))  # fmt: skip
            parent = str(claims["jti"])
        ledger.append(batch)
    ledger.close()
    assert parent is not None
    return path, wid, parent


@pytest.mark.parametrize("kind", STACKS)
def test_ancestor_chain_of_10001_is_refused(
    kind: str,
    chain_10000: tuple[Path, str, str],
    hostile_mesh: Mesh,
    forger: Forger,
    tmp_path: Path,
) -> None:
    """Exactly 10,000 ancestors are walked and accepted; one more is refused (rule 4)."""
    source, wid, tip = chain_10000
    shutil.copy(source, tmp_path / "b.db")
    ledger = f"sqlite:///{tmp_path / 'b.db'}"
    with open_stack_b(kind, hostile_mesh, MovableClock(NOW), ledger) as stack:
        at_limit = forger.ect(claims={"wid": wid, "par": [tip]})
        run_accepted(stack, forger.headers(stack.url("/context"), ects=[at_limit]))
        over = forger.ect(claims={"wid": wid, "par": [jti_of(at_limit)]})
        case = Case("10,001 ancestors", lambda f, u: f.headers(u, ects=[over]),
                    "dag.ancestor_limit")  # fmt: skip
        run_attack(stack, forger, case)

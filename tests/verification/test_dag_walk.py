"""The DAG rules give the same answers whether the store walks ancestors in one query
(``SQLiteLedger.ancestors``) or is asked one task at a time."""

from __future__ import annotations

import random
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from ect_middleware.errors import ECTError
from ect_middleware.ledger import NewEntry
from ect_middleware.ledger.sqlite import SQLiteLedger
from ect_middleware.limits import Limits
from ect_middleware.tokens.ect import ECTClaims
from ect_middleware.verification.dag import TaskRef, TaskStore, check_dag
from ect_middleware.verification.store import LedgerTaskStore

from ..support.clock import NOW

ME = "spiffe://org-b.example/agent/me"
OTHER = "spiffe://org-a.example/agent/other"


class OneByOne(TaskStore):
    """The same store without its bulk walk: every task is looked up on its own."""

    def __init__(self, store: LedgerTaskStore) -> None:
        self._store = store
        self.lookups = 0

    def lookup(self, jti: str, wid: str | None) -> TaskRef | None:
        self.lookups += 1
        return self._store.lookup(jti, wid)

    def already_recorded(self, jti: str) -> bool:
        return self._store.already_recorded(jti)


def _claims(jti: str, wid: str | None, par: Sequence[str], iat: float = NOW) -> ECTClaims:
    return ECTClaims(
        token="x",
        iss=OTHER,
        aud=(ME,),
        iat=iat,
        exp=iat + 300,
        jti=jti,
        exec_act="t",
        par=tuple(par),
        wid=wid,
    )


def _entry(jti: str, wid: str | None, par: Sequence[str], iat: float = NOW) -> NewEntry:
    return NewEntry("x.y.z", None, "minted", OTHER, jti, wid, OTHER, iat, tuple(par))


def _outcome(ects: Sequence[ECTClaims], store: object, limits: Limits) -> object:
    try:
        return dict(check_dag(ects, store, limits, "partial"))  # type: ignore[arg-type]
    except ECTError as exc:
        return exc.code


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[SQLiteLedger]:
    ledger = SQLiteLedger(tmp_path / "ledger.db")
    yield ledger
    ledger.close()


def test_the_sqlite_store_walks_in_bulk(ledger: SQLiteLedger) -> None:
    unknown = str(uuid.uuid4())
    assert LedgerTaskStore(ledger, ME).ancestors([unknown], None, 10) == {unknown: None}


@pytest.mark.parametrize("seed", range(12))
def test_random_graphs_give_the_same_answers(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    ledger = SQLiteLedger(tmp_path / "ledger.db")
    wids: list[str | None] = [str(uuid.uuid4()), str(uuid.uuid4()), None]
    jtis = [str(uuid.uuid4()) for _ in range(60)]
    unknown = [str(uuid.uuid4()) for _ in range(5)]
    entries = []
    for jti in jtis:
        # Parents anywhere in the pool (stored data may hold cycles), some unknown; some
        # tasks are recorded twice, in another workflow and with other parents.
        for _ in range(rng.choice((1, 1, 1, 2))):
            par = rng.sample(jtis + unknown, rng.choice((0, 1, 1, 2, 3)))
            iat = NOW + rng.choice((-100, 0, 0, 40))
            entries.append(_entry(jti, rng.choice(wids), [p for p in par if p != jti], iat))
    rng.shuffle(entries)
    ledger.append(entries)
    with sqlite3.connect(ledger.path) as conn:  # an editor's damage, read back as it is
        conn.execute("UPDATE entries SET par = 'not json' WHERE seq = 3")
        conn.execute("UPDATE entries SET par = '[1, \"x\"]' WHERE seq = 4")
        conn.execute("UPDATE entries SET par = ? WHERE seq = 5", (f'["{jtis[0]}"',))
    bulk = LedgerTaskStore(ledger, ME)
    one_by_one = OneByOne(bulk)
    for limit in (3, 15, 10_000):
        limits = Limits(max_ancestors=limit)
        for _ in range(40):
            wid = rng.choice(wids)
            own = rng.choice([str(uuid.uuid4()), rng.choice(jtis)])  # sometimes a cycle
            par = [p for p in rng.sample(jtis + unknown, rng.choice((1, 2, 4))) if p != own]
            ects = [_claims(own, wid, par)]
            if rng.random() < 0.3:  # a second, inline ECT that the first one descends from
                inline = str(uuid.uuid4())
                ects = [_claims(own, wid, [*par, inline]), _claims(inline, wid, par[:1])]
            assert _outcome(ects, bulk, limits) == _outcome(ects, one_by_one, limits)
    ledger.close()


def _chain(ledger: SQLiteLedger, wid: str, depth: int) -> str:
    jtis = [str(uuid.uuid4()) for _ in range(depth)]
    ledger.append([_entry(j, wid, jtis[i - 1 : i]) for i, j in enumerate(jtis)])
    return jtis[-1]


@pytest.mark.parametrize("store_kind", ["bulk", "one by one"])
def test_the_ancestor_limit_is_exact(ledger: SQLiteLedger, store_kind: str) -> None:
    limits = Limits(max_ancestors=200)
    store = LedgerTaskStore(ledger, ME)
    checked = store if store_kind == "bulk" else OneByOne(store)
    wid = str(uuid.uuid4())
    at_limit = _chain(ledger, wid, 200)
    over = _chain(ledger, wid, 201)
    ok = check_dag([_claims(str(uuid.uuid4()), wid, [at_limit])], checked, limits, "strict")
    assert len(ok) == 1
    with pytest.raises(ECTError) as rejected:
        check_dag([_claims(str(uuid.uuid4()), wid, [over])], checked, limits, "strict")
    assert rejected.value.code == "dag.ancestor_limit"


def test_a_deep_chain_is_one_query_not_one_per_ancestor(ledger: SQLiteLedger) -> None:
    wid = str(uuid.uuid4())
    tip = _chain(ledger, wid, 500)
    store = LedgerTaskStore(ledger, ME)
    asked: list[str] = []
    original = store.lookup

    def counting(jti: str, w: str | None) -> TaskRef | None:
        asked.append(jti)
        return original(jti, w)

    store.lookup = counting  # type: ignore[method-assign]
    check_dag([_claims(str(uuid.uuid4()), wid, [tip])], store, Limits(), "strict")
    assert asked == [tip]  # the parent itself; all its ancestors came from one walk

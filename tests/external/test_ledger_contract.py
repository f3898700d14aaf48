"""Every ledger engine implements the whole ``Ledger`` contract, each method called as the
middleware, the DAG rules and the ``ect ledger`` commands call it, with no engine asked
what it is: a capability an engine lacks answers with the contract's default."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ect_middleware.errors import LedgerError
from ect_middleware.ledger import ChainReport, Ledger, open_ledger, verify_chain
from ect_middleware.ledger.base import GENESIS_HASH
from ect_middleware.ledger.memory import MemoryLedger
from ect_middleware.ledger.postgres import PostgresLedger
from ect_middleware.ledger.sqlite import SQLiteLedger

from ..support.clock import fixed_clock
from ..support.ledger import chain
from ..support.services import POSTGRES, drop_schema, new_schema_name

ENGINES = ["memory", "sqlite", "postgres", "none"]
#: Every method of the contract: what an engine must answer, whichever it is.
CONTRACT = sorted(
    name for name, _ in inspect.getmembers(Ledger, inspect.isfunction) if not name.startswith("_")
)

#: The engines that can copy a chain in verbatim (``ect ledger copy`` destinations).
IMPORTERS = {"sqlite", "postgres"}


@dataclass(frozen=True)
class Engine:
    kind: str
    #: a new, empty ledger of this engine
    open: Callable[[], Ledger]


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """Opens new, empty ledgers of one engine; closes (and drops) them afterwards."""
    opened: list[Ledger] = []
    schemas: list[str] = []

    def open_one() -> Ledger:
        made: Ledger
        if request.param == "memory":
            made = MemoryLedger(clock=fixed_clock)
        elif request.param == "sqlite":
            made = SQLiteLedger(tmp_path / f"{len(opened)}.db", clock=fixed_clock)
        elif request.param == "postgres":
            schemas.append(new_schema_name())
            made = PostgresLedger(POSTGRES, schema=schemas[-1], clock=fixed_clock)
        else:
            made = open_ledger("none", clock=fixed_clock)
        opened.append(made)
        return made

    yield Engine(request.param, open_one)
    for ledger in opened:
        ledger.close()
    for schema in schemas:
        drop_schema(schema)


def test_the_contract_lists_every_capability() -> None:
    assert CONTRACT == [
        "ancestors",
        "append",
        "append_nowait",
        "close",
        "entries",
        "find",
        "head",
        "import_chain",
        "recorded_by",
        "recorded_task",
        "snapshot",
    ]


def test_every_engine_implements_the_whole_contract(engine: Engine) -> None:
    ledger = engine.open()
    assert isinstance(ledger, Ledger)
    assert not inspect.isabstract(type(ledger))
    for name in CONTRACT:
        ours = inspect.signature(getattr(type(ledger), name)).parameters
        assert list(ours) == list(inspect.signature(getattr(Ledger, name)).parameters), name


def test_each_method_answers_as_the_contract_says(engine: Engine) -> None:
    ledger = engine.open()
    records = engine.kind != "none"
    first, second = chain(3), chain(2)

    recorded = ledger.append(first)
    found = [ledger.find(e.jti) for e in first]
    assert found == ([[e] for e in recorded] if records else [[], [], []])
    assert [e.jti for e in recorded] == ([e.jti for e in first] if records else [])
    nowait = ledger.append_nowait(second)  # the entries as recorded, or None: nothing written
    if nowait is None:
        nowait = ledger.append(second)
    assert [e.jti for e in nowait] == ([e.jti for e in second] if records else [])
    everything = list(ledger.entries())
    assert everything == (recorded + nowait)
    assert ledger.head() == ((5, everything[-1].hash) if records else (0, GENESIS_HASH))
    assert ledger.find(str(uuid.uuid4())) == []

    tip, unknown = first[-1].jti, str(uuid.uuid4())
    walked = ledger.ancestors([tip, unknown], first[0].wid, 100)
    if walked is not None:  # in one go; else the DAG rules use find, task by task
        assert walked[unknown] is None
        assert (walked[tip] is not None) == records
        if records:
            assert set(walked) == {e.jti for e in first} | {unknown}

    wid, recorder = first[0].wid, first[0].recorder
    assert ledger.recorded_task(tip, wid) == (
        (wid, first[-1].iat, first[-1].par) if records else None
    )
    assert ledger.recorded_task(tip, str(uuid.uuid4())) is None  # another workflow's
    assert ledger.recorded_task(unknown, wid) is None
    assert ledger.recorded_by(tip, recorder) == records
    assert not ledger.recorded_by(tip, "spiffe://example.org/someone-else")
    assert not ledger.recorded_by(unknown, recorder)

    with ledger.snapshot() as view:
        head = view.head()
        assert verify_chain(view.entries(), head) == ChainReport(True, len(everything))

    copy = engine.open()
    with ledger.snapshot() as view:
        if engine.kind in IMPORTERS:
            assert copy.import_chain(view.entries()) == len(everything)
            assert copy.head() == head
        else:
            with pytest.raises(LedgerError, match="cannot import entries verbatim"):
                copy.import_chain(view.entries())

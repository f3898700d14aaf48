from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ect_middleware.ledger import Ledger
from ect_middleware.ledger.memory import MemoryLedger
from ect_middleware.ledger.sqlite import SQLiteLedger

from ..support.clock import fixed_clock


@pytest.fixture(params=["memory", "sqlite"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    """Each engine in turn, standing at ``tests.support.clock.fixed_clock``."""
    made: Ledger
    if request.param == "memory":
        made = MemoryLedger(clock=fixed_clock)
    else:
        made = SQLiteLedger(tmp_path / "ledger.db", clock=fixed_clock)
    yield made
    made.close()

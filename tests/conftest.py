from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from ect_middleware import uninstrument

from .support.mesh import Mesh


@pytest.fixture(scope="session")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Mesh:
    """Development identities shared by the whole session (keys are costly to make)."""
    return Mesh(tmp_path_factory.mktemp("identities"))


@pytest.fixture(autouse=True)
def _no_global_instrumentation() -> Iterator[None]:
    yield
    uninstrument()


@pytest.fixture(autouse=True)
def _structlog_as_found() -> Iterator[None]:
    """structlog's configuration is process-wide, and ``capture_logs`` leaves structlog
    marked configured, which routes the library's events away from ``caplog``: each test
    gets structlog as the previous one found it, whatever the order."""
    configured, previous = structlog.is_configured(), structlog.get_config()
    yield
    if configured:
        structlog.configure(**previous)
    else:
        structlog.reset_defaults()


@pytest.fixture
def ledger_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"

"""Ledger URLs (``ECT_LEDGER``): memory://, and SQLAlchemy-style sqlite:/// paths."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ect_middleware.errors import LedgerError
from ect_middleware.ledger import open_ledger
from ect_middleware.ledger.memory import MemoryLedger
from ect_middleware.ledger.sqlite import SQLiteLedger

from ..support.clock import fixed_clock
from ..support.ledger import chain


def test_memory() -> None:
    ledger = open_ledger("memory://", clock=fixed_clock)
    assert isinstance(ledger, MemoryLedger)
    assert ledger.append(chain(1))[0].recorded_us == 1_800_000_000_250_000


def test_three_slashes_are_relative(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    ledger = open_ledger("sqlite:///data/ect%20ledger.db", clock=fixed_clock)
    assert isinstance(ledger, SQLiteLedger)
    assert ledger.path == tmp_path / "data" / "ect ledger.db"
    monkeypatch.chdir("/")  # the path was fixed when opened
    ledger.append(chain(1))
    ledger.close()
    assert (tmp_path / "data" / "ect ledger.db").is_file()


def test_four_slashes_are_absolute(tmp_path: Path) -> None:
    ledger = open_ledger(f"sqlite:///{tmp_path}/abs.db")  # tmp_path starts with "/"
    assert isinstance(ledger, SQLiteLedger)
    assert ledger.path == tmp_path / "abs.db"
    ledger.close()


@pytest.mark.parametrize("value", ["full", "FULL", "normal"])
def test_synchronous_option(tmp_path: Path, value: str) -> None:
    ledger = open_ledger(f"sqlite:///{tmp_path}/a.db?synchronous={value}")
    assert isinstance(ledger, SQLiteLedger)
    assert ledger._synchronous == value.lower()
    ledger.close()


def test_read_only_opening_needs_an_existing_file(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="no ledger file at"):
        open_ledger(f"sqlite:///{tmp_path}/missing.db", create=False)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://auditor:s3cret@db/ledger", "unsupported ledger scheme 'mysql'"),
        ("redis+tls://auditor:s3cret@host", "unsupported ledger URL; supported: memory://"),
        ("ledger.db", "unsupported ledger URL; supported: memory://, sqlite://"),
        ("memory://somewhere", "a memory:// ledger URL takes no path or options"),
        ("sqlite://", "the sqlite ledger URL has no file path"),
        ("sqlite://host/ledger.db", "a sqlite ledger URL has no host"),
        ("sqlite:///ledger.db?synchronous=off", "synchronous must be 'normal' or 'full'"),
        ("sqlite:///ledger.db?journal=delete", "unknown sqlite ledger option 'journal'"),
    ],
)
def test_bad_urls_are_named_without_their_secrets(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as raised:
        open_ledger(url)
    assert "s3cret" not in str(raised.value)

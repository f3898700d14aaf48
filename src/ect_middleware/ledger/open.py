"""Open a ledger from its URL (``ECT_LEDGER``): placeholder until the engines land."""

from __future__ import annotations

from ..limits import Clock, system_clock
from .base import Ledger


def open_ledger(url: str, *, clock: Clock = system_clock) -> Ledger:
    raise NotImplementedError(url)

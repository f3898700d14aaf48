"""Open a ledger from its URL (``ECT_LEDGER``): placeholder until the engines land."""

from __future__ import annotations

from .base import Ledger


def open_ledger(url: str) -> Ledger:
    raise NotImplementedError(url)

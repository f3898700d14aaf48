"""Consistent reads for walks over the whole chain (``ect ledger verify``, ``show``).

A walk reads every entry and then compares the last one with the recorded head. On a live
ledger, entries committed between those two reads would look exactly like forged entries
appended after the head. Engines that can give a consistent view (one read transaction,
or a copy taken under their lock) offer ``snapshot()``; ``consistent_view`` uses it when
it is there and falls back to the ledger itself (fine while nobody is appending).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from typing import Protocol, runtime_checkable

from .base import Ledger, LedgerEntry


class ChainView(Protocol):
    """The read side of a ledger: what a chain walk needs."""

    def entries(self, *, wid: str | None = None) -> Iterator[LedgerEntry]: ...

    def head(self) -> tuple[int, str]: ...


@runtime_checkable
class SupportsSnapshot(Protocol):
    def snapshot(self) -> AbstractContextManager[ChainView]:
        """A view whose ``entries`` and ``head`` belong to one instant of the ledger."""


def consistent_view(ledger: Ledger) -> AbstractContextManager[ChainView]:
    if isinstance(ledger, SupportsSnapshot):
        return ledger.snapshot()
    return nullcontext(ledger)

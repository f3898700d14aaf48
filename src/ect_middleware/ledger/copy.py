"""Copy a whole ledger, verbatim, into an empty one (``ect ledger copy``): for moving an
embedded SQLite ledger into a shared PostgreSQL one, or a shared one out for an auditor.

The copy keeps every entry exactly (seq, recorded time, previous hash, hash): re-appending
would re-seal them with new times and hashes, and the copy would prove nothing about the
original. So: verify the source; import its entries into the destination in one
transaction (the destination must be empty, checked inside that transaction); verify the
destination; and check that both end at the same chain head.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import LedgerError
from .base import ChainReport, Ledger, verify_chain


@dataclass(frozen=True)
class CopyReport:
    source: ChainReport
    copied: int = 0
    #: None when nothing was copied because the source is broken
    destination: ChainReport | None = None

    @property
    def ok(self) -> bool:
        return self.source.ok and self.destination is not None and self.destination.ok


def copy_ledger(source: Ledger, destination: Ledger) -> CopyReport:
    """Copy ``source`` into the empty ``destination``; a broken source copies nothing."""
    seq = destination.head()[0]
    if seq:
        raise LedgerError(f"the destination ledger is not empty ({seq} entries)")
    with source.snapshot() as view:  # one instant of the source for both walks
        head = view.head()
        checked = verify_chain(view.entries(), head)
        if not checked.ok:
            return CopyReport(checked)
        copied = destination.import_chain(view.entries())
    with destination.snapshot() as copy:
        copy_head = copy.head()
        result = verify_chain(copy.entries(), copy_head)
    if result.ok and copy_head != head:
        result = ChainReport(False, result.entries, copy_head[0], "differs from the source's head")
    return CopyReport(checked, copied, result)

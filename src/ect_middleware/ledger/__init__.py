"""The tamper-evident audit ledger: one contract (``Ledger``), several storage engines."""

from .base import ChainReport, Direction, Ledger, LedgerEntry, NewEntry, verify_chain
from .open import open_ledger

__all__ = [
    "ChainReport",
    "Direction",
    "Ledger",
    "LedgerEntry",
    "NewEntry",
    "open_ledger",
    "verify_chain",
]

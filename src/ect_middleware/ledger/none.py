"""The engine that records nothing (``ECT_LEDGER=none``): the ECT draft -01's conformance
level L2, verify, propagate and log, without an audit ledger.

Every append is accepted and forgotten; no task is ever found. So the DAG rules see only
the ECTs of the request being checked: parents present in it are checked (cycles, time
order, one workflow), parents outside it are unknown, as in the ``partial`` DAG mode.
``ECT_DAG_MODE=strict`` would refuse every ECT with a parent from an earlier request, so
the configuration refuses that combination (``config.Settings``). Replays stay refused:
the replay cache, not the ledger, keeps each token id until its token expires.

Read-only tools (``create=False``) cannot open it: there is nothing to read or verify.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from .base import GENESIS_HASH, Ledger, LedgerEntry, NewEntry, RecordedTask


def is_no_ledger(url: str) -> bool:
    """Whether the ledger URL ``url`` selects this engine: ``none`` (or ``none://``)."""
    return url.lower() in ("none", "none://")


class NoLedger(Ledger):
    """A ledger that stays empty: appends record nothing, lookups find nothing."""

    records = False

    def append(self, entries: Sequence[NewEntry]) -> list[LedgerEntry]:
        """Nothing is recorded, so no entry comes back."""
        return []

    def append_nowait(self, entries: Sequence[NewEntry]) -> list[LedgerEntry]:
        """``append``: forgetting never waits."""
        return []

    def find(self, jti: str) -> list[LedgerEntry]:
        return []

    def ancestors(
        self, start: Sequence[str], wid: str | None, limit: int
    ) -> dict[str, RecordedTask]:
        """Every task asked about is unknown, at once (no lookup one by one)."""
        return dict.fromkeys(start[:limit])

    def entries(self, *, wid: str | None = None) -> Iterator[LedgerEntry]:
        return iter(())

    def head(self) -> tuple[int, str]:
        return (0, GENESIS_HASH)

    def close(self) -> None:
        """Nothing to release."""

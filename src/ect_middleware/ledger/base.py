"""The audit ledger's contract (``Ledger``) and its hash chain (PROFILE §7).

Every entry's hash covers the previous entry's hash and every stored field of the entry, so
an edit, deletion, insertion or reordering anywhere is found by ``verify_chain``. Storage
engines only have to read the chain head and insert in one transaction.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

from ..errors import LedgerError
from ..tokens.ect import ECTClaims

Direction = Literal["received", "minted"]
GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class NewEntry:
    """One ECT to record, with the WIT it was verified with and where it came from."""

    ect: str = field(repr=False)
    wit: str | None = field(repr=False)
    direction: Direction
    recorder: str  # workload identifier of the service that recorded it
    jti: str
    wid: str | None
    iss: str
    iat: float
    par: tuple[str, ...]
    unresolved: tuple[str, ...] = ()
    #: The W3C trace id (32 lowercase hex digits) of the OpenTelemetry trace that was
    #: current when the entry was made, if any: metadata of the record, never a claim of
    #: the signed token. Covered by the entry's hash only when present, so entries recorded
    #: without it hash as they always did.
    trace_id: str | None = None

    @classmethod
    def from_claims(
        cls,
        claims: ECTClaims,
        *,
        wit: str | None,
        direction: Direction,
        recorder: str,
        unresolved: Sequence[str] = (),
        trace_id: str | None = None,
    ) -> NewEntry:
        return cls(
            ect=claims.token,
            wit=wit,
            direction=direction,
            recorder=recorder,
            jti=claims.jti,
            wid=claims.wid,
            iss=claims.iss,
            iat=claims.iat,
            par=claims.par,
            unresolved=tuple(unresolved),
            trace_id=trace_id,
        )


@dataclass(frozen=True)
class LedgerEntry(NewEntry):
    """A recorded entry: its place in the chain and its hash."""

    seq: int = 0
    recorded_us: int = 0  # microseconds since the epoch
    prev_hash: str = GENESIS_HASH
    hash: str = ""


#: The canonical JSON of ``entry_hash``. One encoder, built once: ``json.dumps`` with any
#: option builds a new one on every call (a large share of the hash); same output.
_CANONICAL = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True)


def entry_hash(entry: NewEntry, *, seq: int, recorded_us: int, prev_hash: str) -> str:
    """SHA-256 (hex) over the previous hash and every field of the entry, canonically.

    ``trace_id`` is appended only when the entry has one: an entry without it hashes
    exactly as entries did before the field existed, so older chains still verify.
    """
    fields: list[Any] = [
        seq,
        prev_hash,
        recorded_us,
        entry.ect,
        entry.wit,
        entry.direction,
        entry.recorder,
        entry.jti,
        entry.wid,
        entry.iss,
        float(entry.iat),  # an int and a float iat must hash alike (storage may convert)
        list(entry.par),
        list(entry.unresolved),
    ]
    if entry.trace_id is not None:
        fields.append(entry.trace_id)
    canonical = _CANONICAL.encode(fields)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def seal(entry: NewEntry, *, seq: int, recorded_us: int, prev_hash: str) -> LedgerEntry:
    """The recorded form of ``entry`` as the successor of ``prev_hash`` at position ``seq``."""
    return LedgerEntry(  # field by field, not a loop over the fields: every append runs it
        ect=entry.ect,
        wit=entry.wit,
        direction=entry.direction,
        recorder=entry.recorder,
        jti=entry.jti,
        wid=entry.wid,
        iss=entry.iss,
        iat=entry.iat,
        par=entry.par,
        unresolved=entry.unresolved,
        trace_id=entry.trace_id,
        seq=seq,
        recorded_us=recorded_us,
        prev_hash=prev_hash,
        hash=entry_hash(entry, seq=seq, recorded_us=recorded_us, prev_hash=prev_hash),
    )


def seal_after(
    head: tuple[int, str], entries: Sequence[NewEntry], recorded_us: int
) -> list[LedgerEntry]:
    """``entries`` sealed in order as the successors of the chain ``head`` (seq, hash)."""
    seq, prev_hash = head
    sealed = []
    for entry in entries:
        seq += 1
        recorded = seal(entry, seq=seq, recorded_us=recorded_us, prev_hash=prev_hash)
        prev_hash = recorded.hash
        sealed.append(recorded)
    return sealed


def entry_row(entry: LedgerEntry, strings: Callable[[tuple[str, ...]], Any]) -> tuple[Any, ...]:
    """The stored row of ``entry``, in the column order ``entry_from_row`` reads;
    ``strings`` encodes the two list columns in the engine's form. ``trace_id`` comes
    last: it was added after the others."""
    return (
        entry.seq,
        entry.ect,
        entry.wit,
        entry.direction,
        entry.recorder,
        entry.jti,
        entry.wid,
        entry.iss,
        float(entry.iat),
        strings(entry.par),
        strings(entry.unresolved),
        entry.recorded_us,
        entry.prev_hash,
        entry.hash,
        entry.trace_id,
    )


def entry_from_row(row: Sequence[Any], strings: Callable[[Any], tuple[str, ...]]) -> LedgerEntry:
    """An entry from a stored row (columns in ``LedgerEntry`` field order: seq, ect, wit,
    direction, recorder, jti, wid, iss, iat, par, unresolved, recorded_us, prev_hash,
    hash, trace_id); ``strings`` decodes the engine's form of the two list columns."""
    return LedgerEntry(
        seq=row[0],
        ect=row[1],
        wit=row[2],
        direction=row[3],
        recorder=row[4],
        jti=row[5],
        wid=row[6],
        iss=row[7],
        iat=row[8],
        par=strings(row[9]),
        unresolved=strings(row[10]),
        recorded_us=row[11],
        prev_hash=row[12],
        hash=row[13],
        trace_id=row[14],
    )


#: What ``Ledger.ancestors`` knows of a recorded task: the (wid, iat, par) of the first
#: entry recording it that can be a parent in the workflow asked about; None if none can.
RecordedTask = tuple[str | None, float, tuple[str, ...]] | None


class ChainView(Protocol):
    """The read side of a ledger: what a walk over the whole chain needs."""

    def entries(self, *, wid: str | None = None) -> Iterator[LedgerEntry]: ...

    def head(self) -> tuple[int, str]: ...


class Ledger(ABC):
    """Append-only, tamper-evident storage of ECTs: the one contract of every storage
    engine (``memory``, ``sqlite``, ``postgres``, ``none``). Implementations must be
    thread-safe.

    Every engine implements the abstract methods. The others are capabilities an engine
    may lack; their defaults say so in a way callers handle without asking which engine
    they hold (an append that may wait, no walk in one query, a view that is consistent
    only while nobody appends, no verbatim import).
    """

    #: Whether appended entries are kept. An engine that keeps nothing (``none``) says
    #: so, and requests then build no entries for it at all: nothing observable changes,
    #: since such an engine's appends return nothing and its lookups find nothing.
    records: ClassVar[bool] = True

    @abstractmethod
    def append(self, entries: Sequence[NewEntry]) -> list[LedgerEntry]:
        """Record ``entries`` in order, atomically and durably, extending the chain; the
        entries as recorded."""

    def append_nowait(self, entries: Sequence[NewEntry]) -> list[LedgerEntry] | None:
        """``append``, or None at once (nothing written) if it would have to wait: for a
        lock, the disk or the network. What an event loop may run itself; ``LedgerWriter``
        hands the rest to its thread. By default every append may wait."""
        return None

    @abstractmethod
    def find(self, jti: str) -> list[LedgerEntry]:
        """Every entry recording the ECT ``jti`` (usually zero, one or two)."""

    def recorded_task(self, jti: str, wid: str | None) -> RecordedTask:
        """What ``ancestors`` gives of the one task ``jti`` within workflow ``wid`` (the
        first entry recording it of that workflow or of none), without the walk. By
        default from ``find``; an engine that can select those three columns alone does.
        """
        for e in self.find(jti):
            if e.wid is None or e.wid == wid:
                return (e.wid, e.iat, e.par)
        return None

    def recorded_by(self, jti: str, recorder: str) -> bool:
        """Whether ``recorder`` has recorded the ECT ``jti`` (received or minted it). By
        default from ``find``; an engine that can answer without reading entries does."""
        return any(e.recorder == recorder for e in self.find(jti))

    def ancestors(
        self, start: Sequence[str], wid: str | None, limit: int
    ) -> Mapping[str, RecordedTask] | None:
        """For the tasks reachable from ``start`` through recorded parents (``start``
        included; breadth first, at most ``limit``), what ``find`` gives of each within
        workflow ``wid`` (``verification.dag.in_scope``), in one go: so that an ECT at
        the end of a deep chain costs one query, not one per ancestor. None when the
        engine cannot (the caller then uses ``find``, task by task): the default."""
        return None

    @abstractmethod
    def entries(self, *, wid: str | None = None) -> Iterator[LedgerEntry]:
        """All entries in chain order, optionally only those of workflow ``wid``."""

    @abstractmethod
    def head(self) -> tuple[int, str]:
        """The recorded chain head (last seq, its hash), kept apart from the entries and
        updated in the same transaction, so that deleting the newest entries is detected."""

    def snapshot(self) -> AbstractContextManager[ChainView]:
        """A view whose ``entries`` and ``head`` belong to one instant of the ledger, for
        walks over the whole chain (``ect ledger verify``): on a live ledger, entries
        committed between reading the entries and the head would look like forged
        entries after the head. By default the ledger itself, which is consistent only
        while nobody appends."""
        return nullcontext(self)

    def import_chain(self, entries: Iterable[LedgerEntry]) -> int:
        """Record already-sealed entries exactly as they are (seq, time, hashes) into this
        ledger, which must be empty, all or none (``ledger.copy``); how many. Each must link
        to the one before; the caller verifies the hashes. By default refused."""
        raise LedgerError("the destination ledger's engine cannot import entries verbatim")

    @abstractmethod
    def close(self) -> None:
        """Release files and connections; the ledger is not used afterwards."""


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    entries: int
    broken_seq: int | None = None
    reason: str | None = None


def verify_chain(entries: Iterable[LedgerEntry], head: tuple[int, str]) -> ChainReport:
    """Walk the chain from genesis; name the first entry that breaks it.

    Checks, per entry: consecutive sequence numbers from 1, the link to the previous hash,
    its own hash over its content, and that every parent not marked unresolved was
    recorded before it; at the end, that the walk stops exactly at the recorded ``head``.
    """
    prev_hash, expected_seq, count = GENESIS_HASH, 1, 0
    seen: set[str] = set()
    for entry in entries:
        count += 1
        if entry.seq != expected_seq:
            reason = "missing entry before it" if entry.seq > expected_seq else "out of order"
            return ChainReport(False, count, entry.seq, reason)
        if entry.prev_hash != prev_hash:
            return ChainReport(False, count, entry.seq, "does not link to the previous entry")
        recomputed = entry_hash(
            entry, seq=entry.seq, recorded_us=entry.recorded_us, prev_hash=entry.prev_hash
        )
        if recomputed != entry.hash:
            return ChainReport(False, count, entry.seq, "content does not match its hash")
        missing = [p for p in entry.par if p not in seen and p not in entry.unresolved]
        if missing:
            return ChainReport(
                False, count, entry.seq, "a resolved parent is not recorded before it"
            )
        seen.add(entry.jti)
        prev_hash, expected_seq = entry.hash, expected_seq + 1
    head_seq, head_hash = head
    last_seq = expected_seq - 1
    if last_seq > head_seq:
        return ChainReport(False, count, head_seq + 1, "not covered by the recorded chain head")
    if last_seq < head_seq:
        reason = "missing (it and every later entry were removed)"
        return ChainReport(False, count, expected_seq, reason)
    if prev_hash != head_hash:
        return ChainReport(False, count, last_seq, "does not match the recorded chain head")
    return ChainReport(True, count)

"""The export bundle: what a third party needs to re-verify a workflow without our ledger.

JSON lines, one ledger entry per line, so bundles of several agents merge with ``cat`` and
a verifier can name the line at fault. Each line carries the compact ECT, the WIT its
recorder verified it with, and what the recorder said about it (direction, recorder,
parents it could not resolve); ``seq`` and ``ledger_hash`` only point back at the ledger
entry for whoever wants to compare. Nothing outside the tokens is trusted by
``reverify``: these other fields can be edited by anyone holding the file, and only narrow
what is accepted (a parent may be missing only where every recorder said so).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from ..errors import ECTMiddlewareError
from ..ledger.base import LedgerEntry

FORMAT = "ect-bundle/1"


@dataclass(frozen=True)
class BundleLine:
    """One entry read back from a bundle (not yet verified in any way)."""

    line: int
    ect: str
    wit: str | None
    direction: str
    recorder: str
    unresolved: tuple[str, ...]


class MalformedLine(ECTMiddlewareError, ValueError):
    """A line that is not a bundle entry; ``line`` is its 1-based number."""

    def __init__(self, line: int, detail: str) -> None:
        super().__init__(detail)
        self.line = line
        self.detail = detail


def export_record(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "ect": entry.ect,
        "wit": entry.wit,
        "direction": entry.direction,
        "recorder": entry.recorder,
        "unresolved": list(entry.unresolved),
        "seq": entry.seq,
        "ledger_hash": entry.hash,
    }


def write_bundle(entries: Iterable[LedgerEntry], out: TextIO) -> int:
    """Write one line per entry; return how many were written."""
    count = 0
    for entry in entries:
        out.write(json.dumps(export_record(entry), separators=(",", ":")) + "\n")
        count += 1
    return count


def read_bundle(lines: Iterable[str]) -> Iterator[BundleLine | MalformedLine]:
    """Each non-blank line as a ``BundleLine``, or a ``MalformedLine`` saying what is wrong
    (yielded, not raised, so that one bad line does not hide the others)."""
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            yield _parse(number, text)
        except MalformedLine as problem:
            yield problem


def _parse(number: int, text: str) -> BundleLine:
    try:
        record = json.loads(text)
    except (ValueError, RecursionError):
        raise MalformedLine(number, "not a JSON object") from None
    if not isinstance(record, dict):
        raise MalformedLine(number, "not a JSON object")
    if record.get("format", FORMAT) != FORMAT:
        raise MalformedLine(number, f"format is not {FORMAT}")
    ect, wit = record.get("ect"), record.get("wit")
    direction, recorder = record.get("direction", ""), record.get("recorder", "")
    unresolved = record.get("unresolved", [])
    if not isinstance(ect, str) or not ect:
        raise MalformedLine(number, "ect must be a compact JWS string")
    if wit is not None and not isinstance(wit, str):
        raise MalformedLine(number, "wit must be a compact JWS string or null")
    if not isinstance(direction, str) or not isinstance(recorder, str):
        raise MalformedLine(number, "direction and recorder must be strings")
    if not isinstance(unresolved, list) or not all(isinstance(u, str) for u in unresolved):
        raise MalformedLine(number, "unresolved must be an array of strings")
    return BundleLine(number, ect, wit, direction, recorder, tuple(unresolved))

"""``ect ledger copy SRC DST``: move a ledger between engines, entries verbatim, verified
on both sides (see ``ledger.copy``)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..ledger import open_ledger
from ..ledger.copy import copy_ledger

if TYPE_CHECKING:
    _Actions = argparse._SubParsersAction[argparse.ArgumentParser]


def add_copy(actions: _Actions) -> None:
    p = actions.add_parser(
        "copy",
        help="copy every entry verbatim into an empty ledger, verifying both",
        description="Verify SRC, copy its entries (same seq, times and hashes) into DST in one"
        " transaction, then verify DST. DST is created if missing and must be empty.",
    )
    p.add_argument("source", metavar="SRC", help="ledger URL to copy from (must exist)")
    p.add_argument("destination", metavar="DST", help="ledger URL to copy into (must be empty)")
    p.set_defaults(run=_copy)


def _copy(args: argparse.Namespace) -> int:
    source = open_ledger(args.source, create=False)
    try:
        destination = open_ledger(args.destination)
        try:
            report = copy_ledger(source, destination)
        finally:
            destination.close()
    finally:
        source.close()
    checked = report.source
    if not checked.ok:
        broken = f"at entry {checked.broken_seq}: {checked.reason}"
        print(f"source ledger BROKEN {broken}; nothing copied")
        return 1
    print(f"source intact: {_count(checked.entries)}")
    print(f"copied {_count(report.copied)}")
    result = report.destination
    if result is None or not result.ok:
        where = f"at entry {result.broken_seq}: {result.reason}" if result else "unverified"
        print(f"destination ledger BROKEN {where}")
        return 1
    print(f"destination intact: {_count(result.entries)}, same chain head as the source")
    return 0


def _count(n: int) -> str:
    return f"{n} {'entry' if n == 1 else 'entries'}"

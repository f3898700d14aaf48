"""``ect ledger``: audit the ledger (CONTRACT §6).

Each action is one ``_add_<action>`` function in ``ACTIONS`` that adds its sub-parser and
sets ``run``; more actions (graph, export, copy) are more entries. Actions open the ledger
with ``create=False`` (a mistyped path is an error, not a new empty ledger) and read it
through a consistent view, so that walking a live ledger does not mistake entries appended
meanwhile for forged ones. Output never contains a compact ECT or WIT.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, TextIO

from ..config import DEFAULT_LEDGER
from ..ledger import Ledger, LedgerEntry, open_ledger, verify_chain
from ..ledger.snapshot import consistent_view
from ..tokens.jws import read_payload

if TYPE_CHECKING:  # not subscriptable at run time before Python 3.12
    _Actions = argparse._SubParsersAction[argparse.ArgumentParser]
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def register(sub: _Actions) -> None:
    parser = sub.add_parser("ledger", help="verify and inspect the audit ledger")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    for add in ACTIONS:
        add(actions)


def _add_verify(actions: _Actions) -> None:
    p = actions.add_parser("verify", help="walk the hash chain; exit 1 at the first broken entry")
    _add_ledger_option(p)
    p.set_defaults(run=_verify)


def _add_show(actions: _Actions) -> None:
    p = actions.add_parser("show", help="the recorded ECTs with their decoded claims")
    _add_ledger_option(p)
    p.add_argument("--wid", help="only the entries of this workflow")
    p.add_argument("--format", choices=("json",), default="json", help="output format")
    p.set_defaults(run=_show)


ACTIONS: tuple[Callable[[_Actions], None], ...] = (_add_verify, _add_show)


def _add_ledger_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ledger",
        metavar="URL",
        help=f"ledger URL (default: $ECT_LEDGER, else {DEFAULT_LEDGER})",
    )


def _open(args: argparse.Namespace) -> Ledger:
    url = args.ledger or os.environ.get("ECT_LEDGER") or DEFAULT_LEDGER
    return open_ledger(url, create=False)


def _verify(args: argparse.Namespace) -> int:
    ledger = _open(args)
    try:
        with consistent_view(ledger) as view:
            report = verify_chain(view.entries(), view.head())
    finally:
        ledger.close()
    if not report.ok:
        print(f"ledger BROKEN at entry {report.broken_seq}: {report.reason}")
        return 1
    print(f"ledger intact: {report.entries} {'entry' if report.entries == 1 else 'entries'}")
    return 0


def _show(args: argparse.Namespace) -> int:
    ledger = _open(args)
    try:
        with consistent_view(ledger) as view:
            _write_array((_describe(entry) for entry in view.entries(wid=args.wid)), sys.stdout)
            sys.stdout.flush()
    except BrokenPipeError:  # e.g. `| head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
        return 1
    finally:
        ledger.close()
    return 0


def _describe(entry: LedgerEntry) -> dict[str, Any]:
    """One entry for people: the ECT's claims decoded without trusting them, no tokens."""
    return {
        "seq": entry.seq,
        "jti": entry.jti,
        "wid": entry.wid,
        "iss": entry.iss,
        "direction": entry.direction,
        "recorder": entry.recorder,
        "par": list(entry.par),
        "unresolved": list(entry.unresolved),
        "recorded_at": _iso(entry.recorded_us),
        "hash": entry.hash,
        "claims": read_payload(entry.ect),
    }


def _iso(recorded_us: int) -> str | None:
    """ISO 8601 UTC; None when an edited value is not a representable instant."""
    try:
        instant = _EPOCH + timedelta(microseconds=recorded_us)
    except OverflowError:
        return None
    return instant.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _write_array(items: Iterable[dict[str, Any]], out: TextIO) -> None:
    """A JSON array written item by item, so a large ledger is never held in memory."""
    out.write("[")
    separator = "\n  "
    for item in items:
        out.write(separator + json.dumps(item, indent=2).replace("\n", "\n  "))
        separator = ",\n  "
    out.write("\n]\n" if separator != "\n  " else "]\n")

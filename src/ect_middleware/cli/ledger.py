"""``ect ledger``: audit the ledger (CONTRACT §6).

Each action is one ``_add_<action>`` function in ``ACTIONS`` that adds its sub-parser and
sets ``run``; more actions (copy, ...) are more entries. Actions open the ledger with
``create=False`` (a mistyped path is an error, not a new empty ledger) and read it through
a consistent view, so that walking a live ledger does not mistake entries appended
meanwhile for forged ones. Output never contains a compact ECT or WIT, except the bundle
that ``export`` writes, whose purpose is to carry them to an auditor.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, TextIO

from ..audit import Workflow, build_workflows, summary, to_dot, to_html, to_mermaid
from ..audit.bundle import write_bundle
from ..audit.reverify import reverify
from ..config import DEFAULT_LEDGER
from ..ledger import Ledger, LedgerEntry, open_ledger, verify_chain
from ..tokens.ect import model_view
from ..tokens.jws import read_payload
from ..tokens.trust import TrustBundle
from .ledger_copy import add_copy

if TYPE_CHECKING:  # not subscriptable at run time before Python 3.12
    _Actions = argparse._SubParsersAction[argparse.ArgumentParser]
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def register(sub: _Actions) -> None:
    parser = sub.add_parser("ledger", help="verify and inspect the audit ledger")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    for add in ACTIONS:
        add(actions)


def _add_verify(actions: _Actions) -> None:
    p = actions.add_parser(
        "verify",
        help="walk the hash chain; or, with --bundle, re-verify an exported bundle offline",
    )
    _add_ledger_option(p)
    p.add_argument(
        "--bundle",
        metavar="FILE",
        help="re-verify this export bundle instead of a ledger: every WIT, ECT and DAG rule",
    )
    p.add_argument(
        "--trust-bundle",
        metavar="FILE",
        help="with --bundle: the WIT issuers' keys, the only thing trusted",
    )
    p.add_argument(
        "--expect-head",
        metavar="HASH",
        help="a head hash printed by an earlier verify and kept elsewhere: the chain must "
        "still hold that entry (the chain is unkeyed; this anchors it)",
    )
    p.set_defaults(run=_verify)


def _add_show(actions: _Actions) -> None:
    p = actions.add_parser("show", help="the recorded ECTs with their decoded claims")
    _add_ledger_option(p)
    p.add_argument("--wid", help="only the entries of this workflow")
    p.add_argument("--format", choices=("json", "table"), default="json", help="output format")
    p.set_defaults(run=_show)


def _add_workflows(actions: _Actions) -> None:
    p = actions.add_parser(
        "workflows",
        help="the workflows recorded: id, first and last time, tasks, issuers, rejections",
    )
    _add_ledgers_option(p)
    p.add_argument("--format", choices=("table", "json"), default="table", help="output format")
    p.set_defaults(run=_workflows)


def _add_graph(actions: _Actions) -> None:
    p = actions.add_parser("graph", help="the workflow DAG as Mermaid, DOT or one HTML file")
    _add_ledgers_option(p)
    p.add_argument("--wid", required=True, help="the workflow to draw")
    p.add_argument("--format", choices=tuple(RENDERERS), default="mermaid", help="output format")
    p.add_argument("--out", metavar="FILE", help="write here instead of standard output")
    p.set_defaults(run=_graph)


def _add_export(actions: _Actions) -> None:
    p = actions.add_parser(
        "export", help="a bundle (JSON lines) of a workflow's ECTs and WITs, for offline audit"
    )
    _add_ledgers_option(p)
    p.add_argument("--wid", required=True, help="the workflow to export")
    p.add_argument("--out", metavar="FILE", help="write here (mode 0600) instead of stdout")
    p.set_defaults(run=_export)


ACTIONS: tuple[Callable[[_Actions], None], ...] = (
    _add_verify,
    _add_show,
    _add_workflows,
    _add_graph,
    _add_export,
    add_copy,
)
RENDERERS: dict[str, Callable[[Workflow], str]] = {
    "mermaid": to_mermaid,
    "dot": to_dot,
    "html": to_html,
    "text": lambda flow: summary(flow) + "\n",  # each task with its parents, as the demo prints
}


def _add_ledger_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ledger",
        metavar="URL",
        help=f"ledger URL (default: $ECT_LEDGER, else {DEFAULT_LEDGER})",
    )


def _add_ledgers_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ledger",
        metavar="URL",
        action="append",
        help="ledger URL; repeat to merge several agents' ledgers "
        f"(default: $ECT_LEDGER, else {DEFAULT_LEDGER})",
    )


def _open(args: argparse.Namespace) -> Ledger:
    url = args.ledger or os.environ.get("ECT_LEDGER") or DEFAULT_LEDGER
    return open_ledger(url, create=False)


def _workflow_entries(args: argparse.Namespace) -> list[LedgerEntry]:
    """The entries of ``--wid`` in every ``--ledger``, ledger by ledger, in chain order."""
    urls = args.ledger or [os.environ.get("ECT_LEDGER") or DEFAULT_LEDGER]
    entries: list[LedgerEntry] = []
    for url in urls:
        ledger = open_ledger(url, create=False)
        try:
            with ledger.snapshot() as view:
                entries += view.entries(wid=args.wid)
        finally:
            ledger.close()
    if not entries:
        raise ValueError(f"no entries of workflow {args.wid} in the ledger")
    return entries


def _graph(args: argparse.Namespace) -> int:
    flow = build_workflows(_workflow_entries(args))[args.wid]
    text = RENDERERS[args.format](flow)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as out:
            out.write(text)
        print(f"{args.format} view of {len(flow.tasks)} tasks written to {args.out}")
    else:
        sys.stdout.write(text)
    return 0


def _export(args: argparse.Namespace) -> int:
    entries = _workflow_entries(args)
    if not args.out:
        write_bundle(entries, sys.stdout)
        return 0
    descriptor = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(descriptor, "w", encoding="utf-8") as out:
        count = write_bundle(entries, out)
    print(f"{count} entries of workflow {args.wid} written to {args.out}")
    return 0


_HASH = re.compile(r"[0-9a-f]{64}")


def _verify(args: argparse.Namespace) -> int:
    if args.bundle or args.trust_bundle:
        return _verify_bundle(args)
    expected = args.expect_head.strip().lower() if args.expect_head else None
    if expected is not None and not _HASH.fullmatch(expected):
        raise ValueError("--expect-head takes a head hash: 64 hexadecimal digits")
    anchored: list[int] = []

    def watched(entries: Iterator[LedgerEntry]) -> Iterator[LedgerEntry]:
        for entry in entries:
            if entry.hash == expected:
                anchored.append(entry.seq)
            yield entry

    ledger = _open(args)
    try:
        with ledger.snapshot() as view:
            head = view.head()
            report = verify_chain(watched(view.entries()), head)
    finally:
        ledger.close()
    if not report.ok:
        print(f"ledger BROKEN at entry {report.broken_seq}: {report.reason}")
        return 1
    print(f"ledger intact: {report.entries} {'entry' if report.entries == 1 else 'entries'}")
    # The chain is unkeyed: whoever can write the ledger can rewrite it whole. Keep this
    # line somewhere the service cannot write, and pass the hash to --expect-head later.
    print(f"head: entry {head[0]} hash {head[1]}")
    if expected is None:
        return 0
    if not anchored:
        print(f"anchored head {expected} NOT FOUND: the ledger was rewritten or cut short")
        return 1
    later = head[0] - anchored[0]
    print(f"anchored head found at entry {anchored[0]} ({later} entries recorded since)")
    return 0


def _verify_bundle(args: argparse.Namespace) -> int:
    if not (args.bundle and args.trust_bundle) or args.ledger:
        raise ValueError("re-verifying a bundle takes --bundle and --trust-bundle, no --ledger")
    trust = TrustBundle.load(args.trust_bundle)
    with open(args.bundle, encoding="utf-8", errors="replace") as lines:
        report = reverify(lines, trust)
    for problem in report.problems:
        print(problem)
    if not report.ok:
        found = len(report.problems)
        if found:
            plural = "" if found == 1 else "s"
            print(f"bundle FAILED: {found} problem{plural} in {report.entries} entries")
        else:
            print("bundle FAILED: it holds no entries")
        return 1
    unresolved = len(report.unresolved)
    print(
        f"bundle verified: {report.entries} entries, {report.tasks} distinct ECTs, "
        f"{len(report.workflows)} workflow(s); "
        f"{unresolved} parent(s) absent and marked unresolved by their recorders"
    )
    return 0


def _show(args: argparse.Namespace) -> int:
    ledger = _open(args)
    try:
        with ledger.snapshot() as view:
            described = (_describe(entry) for entry in view.entries(wid=args.wid))
            if args.format == "table":
                _write_table(SHOW_COLUMNS, [_show_row(d) for d in described], sys.stdout)
            else:
                _write_array(described, sys.stdout)
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
        **_model(entry.ect),
        "unresolved": list(entry.unresolved),
        "recorded_at": _iso(entry.recorded_us),
        "trace_id": entry.trace_id,
        "hash": entry.hash,
        "claims": read_payload(entry.ect),
    }


def _model(token: str) -> dict[str, Any]:
    """The extension and policy as the middleware reads them, in either draft's spelling."""
    _, extension, policy = model_view(read_payload(token) or {})
    return {
        "extension": extension,
        "policy": None
        if policy is None
        else {"policy": policy.policy, "decision": policy.decision, "enforcer": policy.enforcer},
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


SHOW_COLUMNS = ("seq", "recorded", "direction", "wid", "jti", "iss", "exec_act", "decision", "par")
WORKFLOW_COLUMNS = ("wid", "first", "last", "tasks", "issuers", "rejections")


def _show_row(described: dict[str, Any]) -> tuple[str, ...]:
    claims = described["claims"] or {}
    policy = described["policy"]
    return (
        str(described["seq"]),
        _time(described["recorded_at"]),
        described["direction"],
        described["wid"] or "-",
        described["jti"],
        described["iss"],
        str(claims.get("exec_act", "-")),
        f"{policy['policy']}: {policy['decision']}" if policy else "-",
        str(len(described["par"])),
    )


def _workflows(args: argparse.Namespace) -> int:
    """One row per workflow, aggregated entry by entry (a workflow's entries are not held)."""
    urls = args.ledger or [os.environ.get("ECT_LEDGER") or DEFAULT_LEDGER]
    flows: dict[str, dict[str, Any]] = {}
    for url in urls:
        ledger = open_ledger(url, create=False)
        try:
            with ledger.snapshot() as view:
                for entry in view.entries():
                    _count_entry(flows, entry)
        finally:
            ledger.close()
    rows = sorted(flows.values(), key=lambda f: (f["first_us"], f["wid"]))
    described = [
        {
            "wid": f["wid"],
            "first": _iso(f["first_us"]),
            "last": _iso(f["last_us"]),
            "tasks": len(f["tasks"]),
            "issuers": sorted(f["issuers"]),
            "rejections": len(f["rejections"]),
        }
        for f in rows
    ]
    if args.format == "json":
        _write_array(iter(described), sys.stdout)
        return 0
    table = [
        (
            d["wid"],
            _time(d["first"]),
            _time(d["last"]),
            str(d["tasks"]),
            ", ".join(d["issuers"]),
            str(d["rejections"]),
        )
        for d in described
    ]
    _write_table(WORKFLOW_COLUMNS, table, sys.stdout)
    return 0


def _count_entry(flows: dict[str, dict[str, Any]], entry: LedgerEntry) -> None:
    wid = entry.wid or "-"
    flow = flows.get(wid)
    if flow is None:
        flow = flows[wid] = {
            "wid": wid,
            "first_us": entry.recorded_us,
            "last_us": entry.recorded_us,
            "tasks": set(),
            "issuers": set(),
            "rejections": set(),
        }
    flow["first_us"] = min(flow["first_us"], entry.recorded_us)
    flow["last_us"] = max(flow["last_us"], entry.recorded_us)
    flow["tasks"].add(entry.jti)
    flow["issuers"].add(entry.iss)
    policy = model_view(read_payload(entry.ect) or {})[2]
    if policy is not None and policy.decision == "rejected":
        flow["rejections"].add(entry.jti)


def _time(iso: str | None) -> str:
    """A table's time: UTC to the millisecond."""
    return "-" if iso is None else iso[:23].replace("T", " ") + "Z"


def _write_table(columns: tuple[str, ...], rows: Sequence[tuple[str, ...]], out: TextIO) -> None:
    if not rows:
        out.write("(none)\n")
        return
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(columns)]
    for row in (columns, *rows):
        out.write("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() + "\n")

"""The workflow DAG as one self-contained HTML file: an auditor opens it offline, sees
who did what after what, and clicks a task to read its decoded claims.

Everything is inline: the layout is computed here (``layout.layered_layout``) and drawn as
SVG, so the picture is there even with scripts off; a small script adds pan, zoom, search
and the claims panel. Claims are written by other parties, so they reach the page only as
escaped SVG text and as JSON inside ``<script type="application/json">`` with ``<``, ``>``
and ``&`` escaped, strict JSON whatever the ledger held (``_json_safe``); the
Content-Security-Policy admits only this file's own style and
script (by hash) and no network at all, a second wall should an escape ever be missed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from datetime import datetime, timezone
from html import escape
from typing import Any

from .html_assets import SCRIPT, STYLE
from .layout import layered_layout
from .workflow import Task, Workflow, short_issuer

NODE_W, NODE_H = 300, 104
GAP_X, GAP_Y = 56, 22
MARGIN = 24
#: Characters that fit on a node line at its font size (the page cannot measure for us;
#: a shared clip path cuts anything wider that slips through).
FIT_ACT, FIT_ROLE, FIT_LINE = 32, 37, 40

#: How each role reads on a node, before its target.
_ROLES = {
    "call": "CALL \u2192 ",
    "received": "RECEIVED by ",
    "checkpoint": "CHECKPOINT ",
    "completion": "COMPLETION \u2192 ",
}

_MARKERS = {"approved": "\u2713", "rejected": "\u2717"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_JSON_UNSAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def to_html(flow: Workflow, *, title: str | None = None) -> str:
    """The page for ``flow``: tasks and unresolved parents laid out left to right."""
    tasks = flow.ordered()
    unresolved = flow.unresolved
    keys = [t.jti for t in tasks] + unresolved
    index = {jti: k for k, jti in enumerate(keys)}
    edge_keys = [(index[p], index[c]) for p, c in flow.edges]
    layout = layered_layout(list(range(len(keys))), edge_keys)

    def corner(k: int) -> tuple[float, float]:
        return _pixels(*layout.positions[k])

    edges = []
    for parent, child in dict.fromkeys(edge_keys):
        lanes = [_pixels(*point) for point in layout.lanes.get((parent, child), [])]
        path = _edge_path([corner(parent), *lanes, corner(child)])
        dashed = " unresolved" if parent >= len(tasks) else ""
        edges.append(f'<path class="edge{dashed}" d="{path}" marker-end="url(#arrow)"/>')

    svg_nodes = [_task_node(k, t, corner(k)) for k, t in enumerate(tasks)]
    svg_nodes += [
        _unresolved_node(len(tasks) + u, jti, corner(len(tasks) + u))
        for u, jti in enumerate(unresolved)
    ]
    width = layout.layers * (NODE_W + GAP_X) - GAP_X + 2 * MARGIN
    height = layout.rows * (NODE_H + GAP_Y) - GAP_Y + 2 * MARGIN
    bounds = {"x": -MARGIN, "y": -MARGIN, "w": max(width, 1), "h": round(max(height, 1), 1)}

    data = {
        "wid": flow.wid,
        "node": [NODE_W, NODE_H],
        "bounds": bounds,
        "tasks": [_task_data(t, corner(k)) for k, t in enumerate(tasks)],
        "unresolved": [
            {"jti": jti, "pos": corner(len(tasks) + u)} for u, jti in enumerate(unresolved)
        ],
        "edges": [list(e) for e in dict.fromkeys(edge_keys)],
    }
    heading = title or f"Workflow {flow.wid or '(no wid)'}"
    svg = (
        f'<svg id="graph" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'aria-label="{_text(heading)}: {len(tasks)} tasks" '
        f'viewBox="{bounds["x"]} {bounds["y"]} {bounds["w"]} {bounds["h"]}" '
        f'preserveAspectRatio="xMidYMid meet">'
        "<defs>"
        '<marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="9" '
        'markerHeight="9" markerUnits="userSpaceOnUse" orient="auto">'
        '<path class="arrow" d="M0,0L10,5L0,10z"/></marker>'
        f'<clipPath id="clip"><rect x="4" y="0" width="{NODE_W - 8}" height="{NODE_H}"/>'
        "</clipPath></defs>"
        f'<g id="edges">{"".join(edges)}</g>'
        f'<g id="nodes">{"".join(svg_nodes)}</g></svg>'
    )
    return _page(heading, _stats(flow, tasks), svg, data)


def _pixels(layer: int, row: float) -> tuple[float, float]:
    """The top-left corner of the node slot at grid point (layer, row)."""
    return layer * (NODE_W + GAP_X), round(row * (NODE_H + GAP_Y), 1)


def _edge_path(points: list[tuple[float, float]]) -> str:
    """From the parent's right side, along any lanes, to the child's left side."""
    half = NODE_H / 2
    x, y = points[0][0] + NODE_W, points[0][1] + half
    path = [f"M{x:g},{y:g}"]
    for index, (px, py) in enumerate(points[1:], 1):
        tx, ty = px, py + half
        bend = max(abs(tx - x) / 2, 24)
        path.append(f"C{x + bend:g},{y:g} {tx - bend:g},{ty:g} {tx:g},{ty:g}")
        x, y = tx, ty
        if index < len(points) - 1:  # a lane point: run straight across the node's slot
            x += NODE_W
            path.append(f"H{x:g}")
    return " ".join(path)


def _task_node(k: int, task: Task, at: tuple[float, float]) -> str:
    decision = task.decision
    cls = _node_class(task)
    act = _fit(task.exec_act, FIT_ACT)
    who = _fit("by " + short_issuer(task.iss), FIT_LINE)
    lines = [
        f'<text class="act" x="12" y="20">{_text(act)}</text>',
        f'<text class="role" x="12" y="38">{_text(_fit(_role_line(task), FIT_ROLE))}</text>',
        f'<text class="who" x="12" y="55">{_text(who)}</text>',
        f'<text class="when" x="12" y="72">{_text(_time(task))}</text>',
    ]
    if task.http_status is not None:
        lines.append(
            f'<text class="status" x="{NODE_W - 10}" y="72">HTTP {task.http_status}</text>'
        )
    if task.failed:
        # The answer was an error: that is what the node says first, whatever the policy.
        verdict = f"\u2717 HTTP {task.http_status}"
        note = f"{task.policy}: {decision}" if decision else ""
        lines.append(
            f'<text class="dec fail" x="12" y="92">{_text(verdict)}'
            f'<tspan class="pol"> \u00b7 {_text(_fit(note, FIT_LINE - len(verdict) - 4))}'
            "</tspan></text>"
        )
    elif decision:
        verdict = _fit(f"{_MARKERS.get(decision, chr(0x2022))} {decision.upper()}", 20)
        policy = _fit(task.policy or "", FIT_LINE - len(verdict) - 4)
        lines.append(
            f'<text class="dec" x="12" y="92">{_text(verdict)}'
            f'<tspan class="pol"> \u00b7 {_text(policy)}</tspan></text>'
        )
    tooltip = f"{task.exec_act}\n{_role_line(task)}\n{task.iss}\n{task.jti}"
    return (
        f'<g class="node{" " + cls if cls else ""}" data-k="{k}" data-jti="{_text(task.jti)}" '
        f'data-role="{task.role}" '
        f'transform="translate({at[0]:g},{at[1]:g})" tabindex="0" role="button">'
        f"<title>{_text(tooltip)}</title>"
        f'<rect class="box" width="{NODE_W}" height="{NODE_H}" rx="7"/>'
        f'<g clip-path="url(#clip)">{"".join(lines)}</g></g>'
    )


def _role_line(task: Task) -> str:
    """``CALL -> org-b.example/agent/x``: the task's role and whom it is for."""
    target = ", ".join(short_issuer(t) for t in task.target.split(", ") if t)
    if task.role == "checkpoint":
        target = task.target
    if task.role == "completion" and not target:
        return "COMPLETION (of an entry request)"
    return _ROLES[task.role] + (target or "?")


def _unresolved_node(k: int, jti: str, at: tuple[float, float]) -> str:
    return (
        f'<g class="node unresolved" data-k="{k}" data-jti="{_text(jti)}" '
        f'transform="translate({at[0]:g},{at[1]:g})" tabindex="0" role="button">'
        f"<title>unresolved parent {_text(jti)}</title>"
        f'<rect class="box" width="{NODE_W}" height="{NODE_H}" rx="7"/>'
        '<g clip-path="url(#clip)">'
        '<text class="act" x="12" y="28">unresolved parent</text>'
        f'<text class="who" x="12" y="50">{_text(_fit(jti, FIT_LINE))}</text>'
        '<text class="when" x="12" y="72">in no ledger that was read</text></g></g>'
    )


def _task_data(task: Task, at: tuple[float, float]) -> dict[str, Any]:
    decision = task.decision
    return {
        "jti": task.jti,
        "act": task.exec_act,
        "iss": task.iss,
        "role": _role_line(task),
        "time": _time(task),
        "issued": _instant(task.iat),
        "policy": task.policy,
        "decision": decision,
        "marker": _MARKERS.get(decision or "", "\u2022"),
        "cls": _decision_class(decision),
        "status": task.http_status,
        "failed": task.failed,
        "recorded_by": sorted(task.recorded_by),
        "traces": sorted(task.trace_ids),
        "claims": task.claims,
        "pos": at,
    }


def _stats(flow: Workflow, tasks: list[Task]) -> str:
    decisions = [t.decision for t in tasks if t.decision]
    parts = [
        f"{len(tasks)} tasks",
        f"{len(flow.edges)} edges",
        f"{len({t.iss for t in tasks})} issuers",
        f"{decisions.count('approved')} approved",
        f"{decisions.count('rejected')} rejected",
    ]
    failed = sum(t.failed for t in tasks)
    if failed:
        parts.append(f"{failed} HTTP errors" if failed > 1 else "1 HTTP error")
    if flow.unresolved:
        parts.append(f"{len(flow.unresolved)} unresolved parents")
    if tasks:
        first, last = _time(min(tasks, key=_when)), _time(max(tasks, key=_when))
        parts.append(first if first == last else f"{first} \u2192 {last}")
    return " \u00b7 ".join(parts)


def _page(heading: str, stats: str, svg: str, data: dict[str, Any]) -> str:
    payload = json.dumps(
        _json_safe(data, 0), ensure_ascii=True, separators=(",", ":"), allow_nan=False
    )
    csp = (
        "default-src 'none'; "
        f"style-src '{_sha256(STYLE)}'; script-src '{_sha256(SCRIPT)}'; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )
    legend = (
        '<span class="legend">'
        '<span><i class="swatch approved"></i>\u2713 approved</span>'
        '<span><i class="swatch rejected"></i>\u2717 rejected</span>'
        '<span><i class="swatch other"></i>\u2022 other decision</span>'
        '<span><i class="swatch failed"></i>\u2717 HTTP error</span>'
        '<span><i class="swatch"></i>no policy</span>'
        '<span><i class="swatch unresolved"></i>unresolved parent</span></span>'
    )
    controls = (
        '<span class="controls">'
        '<input id="find" type="search" placeholder="find jti, action or issuer + Enter" '
        'aria-label="find a task"><span id="found"></span>'
        '<button id="zoom-out" type="button" title="zoom out">\u2212</button>'
        '<button id="zoom-in" type="button" title="zoom in">+</button>'
        '<button id="actual" type="button">100%</button>'
        '<button id="fit" type="button">fit</button></span>'
    )
    panel = (
        '<aside aria-live="polite">'
        '<p id="p-hint" class="hint">Click a task to see its decoded claims.</p>'
        '<div id="p-body" hidden><h2 id="p-title"></h2><dl id="p-fields"></dl>'
        '<h3>Parents</h3><ul id="p-parents"></ul>'
        '<h3>Children</h3><ul id="p-children"></ul>'
        '<h3>Decoded claims (as recorded)</h3><pre id="p-claims"></pre></div></aside>'
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="generator" content="ect-middleware">'
        f"<title>{_text(heading)}</title><style>{STYLE}</style></head>\n<body>"
        f"<header><h1>{_text(heading)}</h1>"
        f'<span class="stats">{_text(stats)}</span>{legend}{controls}</header>\n'
        f"<main>{svg}</main>\n{panel}\n"
        '<script type="application/json" id="ect-data">'
        f"{payload.translate(_JSON_UNSAFE)}</script>\n"
        f"<script>{SCRIPT}</script></body></html>\n"
    )


def _node_class(task: Task) -> str:
    """The node's colour: an HTTP error first, else the policy decision."""
    return "failed" if task.failed else _decision_class(task.decision)


def _decision_class(decision: str | None) -> str:
    if decision is None:
        return ""
    return decision if decision in _MARKERS else "other"


#: Nesting kept in the page's data; deeper values (only an edited ledger holds them) are
#: shown as a marker, so that writing the page never runs out of recursion.
_MAX_DATA_DEPTH = 32


def _json_safe(value: object, depth: int) -> object:
    """``value`` as strict JSON can carry it, whatever a ledger held: a NaN or an infinity
    (which ``JSON.parse`` refuses, and which would leave the page without its data) becomes
    its name as a string, anything else that is not JSON its ``str``, and nesting beyond
    ``_MAX_DATA_DEPTH`` a marker."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if depth >= _MAX_DATA_DEPTH and isinstance(value, (dict, list, tuple)):
        return "(nested too deep)"
    if isinstance(value, dict):
        return {str(k): _json_safe(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v, depth + 1) for v in value]
    return str(value)


def _when(task: Task) -> float:
    """When the task happened, in seconds: first recorded (to the microsecond) if a ledger
    says so, else its ``iat`` (whole seconds)."""
    return task.recorded_us / 1_000_000 if task.recorded_us is not None else task.iat


def _time(task: Task) -> str:
    """The task's time to the millisecond, UTC."""
    return _instant(_when(task), milliseconds=True)


def _instant(seconds: float, *, milliseconds: bool = False) -> str:
    try:
        moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
    except (OverflowError, OSError, ValueError, TypeError):
        return "?"
    if not milliseconds:
        return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d} UTC"


def _fit(text: str, limit: int) -> str:
    text = " ".join(_CONTROL.sub(" ", text).split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _text(text: str) -> str:
    """Escaped for HTML/SVG text and double-quoted attributes; control characters out."""
    return escape(_CONTROL.sub(" ", text), quote=True)


def _sha256(source: str) -> str:
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")

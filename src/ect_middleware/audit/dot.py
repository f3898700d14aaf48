"""The workflow DAG as Graphviz DOT (``dot -Tsvg``), for tools and pipelines that speak it.

Every identifier and label is a quoted DOT string built by ``_quote``: claims are written by
other parties, and an unescaped quote or backslash would let a label end the string and add
nodes, edges or attributes of its own.
"""

from __future__ import annotations

from .workflow import Task, Workflow, short_issuer

_DECISION_STYLE = {
    "approved": 'fillcolor="#d4f7d4", color="#2e7d32"',
    "rejected": 'fillcolor="#fbd5d5", color="#c62828", penwidth=2',
}
_MARKER = {"approved": "\u2713 ", "rejected": "\u2717 "}


def to_dot(flow: Workflow) -> str:
    """One node per task (labelled with action, issuer, policy decision), one per parent
    that no ledger recorded (dashed), and an edge from each parent to its child."""
    lines = [
        f"digraph {_quote('workflow ' + flow.wid)} {{",
        "  rankdir=LR;",
        '  node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="sans-serif"];',
    ]
    for task in flow.ordered():
        style = _DECISION_STYLE.get(task.decision or "", "")
        attributes = f"label={_quote(_label(task))}" + (f", {style}" if style else "")
        lines.append(f"  {_quote(task.jti)} [{attributes}];")
    for jti in flow.unresolved:
        label = _quote(f"unresolved parent\n{jti}")
        lines.append(f'  {_quote(jti)} [label={label}, style="rounded,dashed", color="#777777"];')
    for parent, child in flow.edges:
        dashed = " [style=dashed]" if parent not in flow.tasks else ""
        lines.append(f"  {_quote(parent)} -> {_quote(child)}{dashed};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _label(task: Task) -> str:
    text = f"{task.exec_act}\n{short_issuer(task.iss)}"
    if task.decision:
        text += f"\n{_MARKER.get(task.decision, '')}{task.policy}: {task.decision}"
    return text


def _quote(text: str) -> str:
    """A DOT double-quoted string: backslash and quote escaped, line breaks as ``\\n``.

    Escaping the backslash also disarms DOT's label escapes (``\\N``, ``\\G``, ``\\l``).
    """
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")
    return f'"{escaped}"'

"""The workflow DAG as Mermaid flowchart text (renders on GitHub, GitLab and mermaid.live)."""

from __future__ import annotations

from .workflow import Workflow, short_issuer


def to_mermaid(flow: Workflow) -> str:
    ids = {t.jti: f"t{i}" for i, t in enumerate(flow.ordered(), 1)}
    lines = ["flowchart TD"]
    for task in flow.ordered():
        parts = [task.exec_act, short_issuer(task.iss)]
        if task.decision:
            parts.append(f"{task.policy}: {task.decision}")
        text = "<br/>".join(_escape(part) for part in parts)  # the only markup is ours
        lines.append(f'  {ids[task.jti]}["{text}"]')
        if task.decision in ("approved", "rejected"):
            lines.append(f"  class {ids[task.jti]} {task.decision}")
    for n, jti in enumerate(flow.unresolved, 1):
        ids[jti] = f"u{n}"
        lines.append(f'  u{n}(["unresolved parent {jti[:8]}"])')
        lines.append(f"  class u{n} unresolved")
    lines.extend(f"  {ids[parent]} --> {ids[child]}" for parent, child in flow.edges)
    lines += [
        "  classDef approved fill:#d4f7d4,stroke:#2e7d32",
        "  classDef rejected fill:#fbd5d5,stroke:#c62828",
        "  classDef unresolved stroke-dasharray:4 4",
    ]
    return "\n".join(lines) + "\n"


#: Mermaid entity codes for every character that could end the label (quotes), open
#: markup (``<``, ``&``, backticks), start a ``%%`` comment or ``%%{...}%%`` directive
#: (which Mermaid reads anywhere in the text), or be read as an entity code (``#``).
_ENTITIES = str.maketrans(
    {
        "#": "#35;",
        "&": "#amp;",
        '"': "#quot;",
        "'": "#39;",
        "`": "#96;",
        "<": "#lt;",
        ">": "#gt;",
        "%": "#37;",
        "\n": " ",
        "\r": " ",
    }
)


def _escape(text: str) -> str:
    """``text`` as literal label text (claims are attacker-influenced)."""
    return text.translate(_ENTITIES)

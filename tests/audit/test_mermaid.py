"""Mermaid output is unchanged by the new renderers: pinned on a fixed workflow with a
fan-out, a fan-in, both decisions and an unresolved parent."""

from __future__ import annotations

from typing import Any

from ect_middleware.audit import Task, Workflow, to_mermaid

A, B = "spiffe://org-a.example/agent/a", "spiffe://org-b.example/agent/b"
J = [f"00000000-0000-4000-8000-00000000000{i}" for i in range(6)]


def _task(n: int, iss: str, act: str, par: tuple[str, ...], **claims: Any) -> Task:
    return Task(J[n], iss, act, 1_800_000_000.0 + n, par, {"exec_act": act, **claims}, first_seen=n)


def test_mermaid_output_is_pinned() -> None:
    flow = Workflow("w")
    for task in (
        _task(1, A, "plan", (), pol="data", pol_decision="approved"),
        _task(2, A, "ask b", (J[1],)),
        _task(3, A, "ask c", (J[1],)),
        _task(4, B, 'say "hi"', (J[2], J[0]), pol="limit", pol_decision="rejected"),
        _task(5, A, "join", (J[3], J[4])),
    ):
        flow.tasks[task.jti] = task
    assert to_mermaid(flow) == (
        "flowchart TD\n"
        '  t1["plan<br/>org-a.example/agent/a<br/>data: approved"]\n'
        "  class t1 approved\n"
        '  t2["ask b<br/>org-a.example/agent/a"]\n'
        '  t3["ask c<br/>org-a.example/agent/a"]\n'
        '  t4["say #quot;hi#quot;<br/>org-b.example/agent/b<br/>limit: rejected"]\n'
        "  class t4 rejected\n"
        '  t5["join<br/>org-a.example/agent/a"]\n'
        '  u1(["unresolved parent 00000000"])\n'
        "  class u1 unresolved\n"
        "  t1 --> t2\n"
        "  t1 --> t3\n"
        "  t2 --> t4\n"
        "  u1 --> t4\n"
        "  t3 --> t5\n"
        "  t4 --> t5\n"
        "  classDef approved fill:#d4f7d4,stroke:#2e7d32\n"
        "  classDef rejected fill:#fbd5d5,stroke:#c62828\n"
        "  classDef unresolved stroke-dasharray:4 4\n"
    )


def test_labels_cannot_carry_markup() -> None:
    hostile = Task("t", "spiffe://x.example/a", '<img src=x onerror=alert(1)>"]', 0.0, (), {})
    flow = Workflow("w", {"t": hostile})
    text = to_mermaid(flow)
    assert "<img" not in text
    assert "#lt;img src=x onerror=alert(1)#gt;#quot;]" in text


def test_labels_cannot_carry_directives_comments_or_quotes() -> None:
    act = "%%{init: {'theme': 'dark'}}%%\n%% comment\" ] --> evil[\"x` #quot;"
    hostile = Task(
        "t", "spiffe://x.example/a%%b", act, 0.0, (), {"pol": "p'%%", "pol_decision": "d"}
    )
    text = to_mermaid(Workflow("w", {"t": hostile}))
    label = text.splitlines()[1]
    assert "%" not in text
    assert label.count('"') == 2
    assert label.startswith('  t1["')
    assert label.endswith('"]')
    for raw in ("'", "`", "\n%%", '#quot;"'):
        assert raw not in label
    assert "#35;quot;" in label  # a literal entity code stays literal
    assert "evil" in label
    assert "-->" not in label.replace("#gt;", "")

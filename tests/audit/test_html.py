"""The HTML view as a file: self-contained, escaped, policy-locked, and of a reasonable
size for 1,000 tasks. (What a browser makes of it: ``test_html_browser``.)"""

from __future__ import annotations

import base64
import hashlib
import json
import re

import pytest

from ect_middleware.audit import Workflow, build_workflows, to_html
from ect_middleware.ledger.base import NewEntry
from ect_middleware.ledger.memory import MemoryLedger
from ect_middleware.tokens.ect import Policy

from ..support.mesh import Mesh
from ._support import Agents, synthetic

DATA = re.compile(r'<script type="application/json" id="ect-data">(.*?)</script>', re.S)


def _data(page: str) -> dict[str, object]:
    (raw,) = DATA.findall(page)
    assert "<" not in raw
    assert ">" not in raw
    assert "&" not in raw
    value: dict[str, object] = json.loads(raw)
    return value


def test_the_page_loads_nothing_from_anywhere(agents: Agents) -> None:
    page = to_html(build_workflows(agents.entries())[agents.wid])
    urls = re.findall(r"(?:https?|wss?|ftp):/*[^\s\"'<>)]+", page)
    assert set(urls) == {"http://www.w3.org/2000/svg"}  # the SVG namespace name, not a fetch
    assert not re.search(r"\b(?:src|href)\s*=", page)
    assert "@import" not in page
    assert "@font-face" not in page
    assert set(re.findall(r"url\(([^)]*)\)", page)) <= {"#arrow", "#clip"}


def test_the_content_security_policy_admits_only_the_pages_own_blocks(agents: Agents) -> None:
    page = to_html(build_workflows(agents.entries())[agents.wid])
    (csp,) = re.findall(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', page)
    assert "default-src 'none'" in csp
    assert "unsafe-inline" not in csp
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    styles = re.findall(r"<style>(.*?)</style>", page, re.S)
    assert len(scripts) == 1
    assert len(styles) == 1
    for kind, body in (("script-src", scripts[0]), ("style-src", styles[0])):
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"{kind} 'sha256-{digest}'" in csp
    assert not re.search(r"\son[a-z]+\s*=", page)  # no inline handlers (CSP would block them)
    assert ' style="' not in page


@pytest.mark.parametrize("ledgers", [("a",), ("a", "b")], ids=["one-ledger", "merged"])
def test_one_svg_node_per_task_with_decision_markers(
    agents: Agents, ledgers: tuple[str, ...]
) -> None:
    flow = build_workflows(agents.entries(*ledgers))[agents.wid]
    page = to_html(flow)
    nodes = re.findall(r'<g class="node( [a-z]+)?" data-k="(\d+)" data-jti="([^"]+)"', page)
    tasks = [jti for cls, _, jti in nodes if cls != " unresolved"]
    assert sorted(tasks) == sorted(flow.tasks)
    assert [jti for cls, _, jti in nodes if cls == " unresolved"] == flow.unresolved
    assert page.count('class="edge unresolved"') == sum(p in flow.unresolved for p, _ in flow.edges)
    assert page.count('class="edge') == len(flow.edges)
    classes = {jti: cls.strip() for cls, _, jti in nodes}
    expected = {"approved": "approved", "rejected": "rejected", None: ""}
    assert {
        jti: "failed" if t.failed else expected.get(t.decision, "other")
        for jti, t in flow.tasks.items()
    } == {jti: classes[jti] for jti in flow.tasks}
    rejected = sum(t.decision == "rejected" for t in flow.tasks.values())
    assert page.count("\u2717 REJECTED") == rejected
    # An HTTP error shows as one, never under an "approved" badge.
    assert page.count("\u2713 APPROVED") == sum(
        t.decision == "approved" and not t.failed for t in flow.tasks.values()
    )
    assert page.count("\u2717 HTTP 4") == sum(t.failed for t in flow.tasks.values())
    # a's ledger misses b's rejecting checkpoint (an unresolved parent); the merge has it.
    assert (rejected, bool(flow.unresolved)) == ((0, True) if ledgers == ("a",) else (1, False))
    data = _data(page)
    assert [t["jti"] for t in data["tasks"]] == [t.jti for t in flow.ordered()]  # type: ignore[index]
    assert [t["claims"] for t in data["tasks"]] == [t.claims for t in flow.ordered()]  # type: ignore[index]


def test_claims_are_escaped_in_markup_and_in_the_data_block(mesh: Mesh) -> None:
    hostile = "</script><script>alert(1)</script><!-- & \" ' \u2028 <svg onload=alert(2)>"
    root = mesh.ect(
        "a", mesh["b"].id, exec_act=hostile, ext={"x": hostile}, policy=Policy(hostile, "<b>no")
    )
    entries = MemoryLedger().append(
        [NewEntry.from_claims(root, wit=None, direction="minted", recorder=hostile)]
    )
    page = to_html(build_workflows(entries)[root.wid or ""])
    assert page.count("</script>") == 2  # the data block's and the script's own
    assert "<script>alert" not in page
    assert "<svg onload" not in page
    assert "<!--" not in page
    tasks = _data(page)["tasks"]
    assert tasks[0]["claims"]["exec_act"] == hostile  # type: ignore[index]
    assert tasks[0]["recorded_by"] == [hostile]  # type: ignore[index]


def test_a_thousand_tasks_make_a_reasonable_file(mesh: Mesh) -> None:
    (flow,) = build_workflows(synthetic(mesh, 1000, seed=5)).values()
    page = to_html(flow)
    size = len(page.encode())
    assert page.count('<g class="node') == 1000 + len(flow.unresolved)
    # About 1.4 KB per task, half of it the task's claims (which the panel needs).
    assert size < 2_000_000, f"{size} bytes"


def test_an_empty_workflow_still_makes_a_page() -> None:
    from ect_middleware.audit import Workflow

    page = to_html(Workflow("w"))
    assert "0 tasks" in page
    assert _data(page)["tasks"] == []


def test_each_node_names_its_role_and_target(agents: Agents) -> None:
    """In b's ledger alone, a's calls are ECTs b received; merged, they are a's calls."""
    alone = build_workflows(agents.entries("b"))[agents.wid]
    merged = build_workflows(agents.entries())[agents.wid]
    received = [t for t in alone.tasks.values() if t.role == "received"]
    assert received
    assert all(t.target == agents_b_id(alone) for t in received)
    assert {merged.tasks[t.jti].role for t in received} == {"call"}
    page = to_html(alone)
    roles = re.findall(r'data-role="([a-z]+)"', page)
    assert sorted(roles) == sorted(t.role for t in alone.tasks.values())
    assert page.count('<text class="role" x="12" y="38">RECEIVED by ') == len(received)
    times = re.findall(r'<text class="when" x="12" y="72">([^<]+)</text>', page)
    times = [t for t in times if t != "in no ledger that was read"]  # unresolved parents
    assert len(times) == len(alone.tasks)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC", t) for t in times)


def agents_b_id(flow: Workflow) -> str:
    (recorder,) = {r for t in flow.tasks.values() for r in t.recorded_by}
    return recorder


def _strict(raw: str) -> object:
    """JSON as a browser's ``JSON.parse`` reads it: no NaN, no Infinity."""

    def refuse(name: str) -> object:
        raise ValueError(f"{name} is not JSON")

    return json.loads(raw, parse_constant=refuse)


def test_the_page_survives_whatever_a_ledger_holds() -> None:
    from ect_middleware.audit import Task, Workflow

    deep: object = "bottom"
    for _ in range(200):
        deep = [deep]
    claims = {
        "exec_act": "x",
        "ext": {"nan": float("nan"), "inf": float("inf"), "ninf": float("-inf"), "deep": deep},
        "odd": {1: b"bytes", "set": {"a"}},
    }
    tasks = [
        Task("t1", "spiffe://x.example/a", "x", float("nan"), (), claims),
        Task("t2", "spiffe://x.example/a", "y", float("inf"), ("t1",), {"iat": float("-inf")}),
    ]
    flow = Workflow("w", {t.jti: t for t in tasks})
    page = to_html(flow)
    (raw,) = DATA.findall(page)
    data = _strict(raw)
    assert isinstance(data, dict)
    ext = data["tasks"][0]["claims"]["ext"]
    assert (ext["nan"], ext["inf"], ext["ninf"]) == ("nan", "inf", "-inf")
    assert "(nested too deep)" in json.dumps(ext["deep"])
    assert [t["time"] for t in data["tasks"]] == ["?", "?"]

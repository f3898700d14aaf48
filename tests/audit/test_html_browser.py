"""The HTML view in a real headless Chromium: every task drawn, a click shows its claims,
nothing fetched from anywhere, hostile claims stay text, and 1,000 tasks stay usable.

Screenshots go to ``test-artifacts/`` (gitignored) for people to look at.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ect_middleware.audit import build_workflows, to_html
from ect_middleware.audit.html import NODE_W
from ect_middleware.ledger.base import NewEntry
from ect_middleware.ledger.memory import MemoryLedger

from ..support.mesh import Mesh
from ..support.paths import ARTIFACTS
from ._support import Agents, synthetic
from .chromium import Chromium, chromium_or_skip


def node_centre(jti: str) -> str:
    """Script: the centre and width (page pixels) of the node of task ``jti``."""
    selector = json.dumps(f'#nodes > .node[data-jti="{jti}"] rect')
    return (
        f"(() => {{ const r = document.querySelector({selector}).getBoundingClientRect();"
        " return [r.left + r.width / 2, r.top + r.height / 2, r.width]; })()"
    )


@pytest.fixture
def browser(tmp_path: Path) -> Chromium:
    return Chromium(chromium_or_skip(), tmp_path / "profile")


def _page_state(chromium: Chromium) -> dict[str, object]:
    value = chromium.evaluate(
        """JSON.stringify({
          ready: document.body.getAttribute('data-ready'),
          tasks: document.querySelectorAll('#nodes > .node:not(.unresolved)').length,
          unresolved: document.querySelectorAll('#nodes > .node.unresolved').length,
          edges: document.querySelectorAll('#edges > .edge').length,
          dashed: document.querySelectorAll('#edges > .edge.unresolved').length,
          rejected: document.querySelectorAll('#nodes > .node.rejected').length,
          approved: document.querySelectorAll('#nodes > .node.approved').length,
        })"""
    )
    state: dict[str, object] = json.loads(value)
    return state


def test_a_real_workflow_renders_and_a_click_shows_the_claims(
    agents: Agents, browser: Chromium, tmp_path: Path
) -> None:
    flow = build_workflows(agents.entries())[agents.wid]
    page = tmp_path / "workflow.html"
    page.write_text(to_html(flow), encoding="utf-8")
    rejected = next(t for t in flow.tasks.values() if t.decision == "rejected")

    with browser as chromium:
        chromium.open(page.as_uri())
        state = _page_state(chromium)
        assert state["ready"] == "1"  # the script ran to its end
        assert state["tasks"] == len(flow.tasks)
        assert state["edges"] == len(flow.edges)
        assert state["rejected"] == 1
        assert state["approved"] == sum(
            t.decision == "approved" and not t.failed for t in flow.tasks.values()
        )
        assert chromium.evaluate("document.getElementById('p-body').hidden") is True

        x, y, width = chromium.evaluate(node_centre(rejected.jti))
        assert width > 0.8 * NODE_W, "the node is too small to read at the initial zoom"
        if not 0 < x < 1600 - 400:  # the graph is wider than the view: scroll to the node
            chromium.wheel(600, 450, x - 600, 0)
            x, y, width = chromium.evaluate(node_centre(rejected.jti))
        chromium.click(x, y)
        claims = json.loads(chromium.evaluate("document.getElementById('p-claims').textContent"))
        assert claims == dict(rejected.claims)
        fields = chromium.evaluate("document.getElementById('p-fields').innerText")
        assert rejected.jti in fields
        assert "\u2717 rejected" in fields
        assert chromium.evaluate("document.querySelectorAll('.node.sel').length") == 1
        highlighted = chromium.evaluate("document.querySelectorAll('.edge.hl').length")
        assert highlighted == len(rejected.par) + sum(
            rejected.jti in t.par for t in flow.tasks.values()
        )
        chromium.screenshot(ARTIFACTS / "workflow-real.png")
        chromium.evaluate("document.getElementById('actual').click()")
        x, y, width = chromium.evaluate(node_centre(rejected.jti))
        assert round(width) == NODE_W  # 100%: node boxes at their real size, selected one in view
        assert 0 < x < 1600 - 400
        assert 0 < y < 900
        chromium.screenshot(ARTIFACTS / "workflow-real-100.png")

        # Following a parent from the panel selects it.
        chromium.evaluate("document.querySelector('#p-parents button').click()")
        parent = json.loads(chromium.evaluate("document.getElementById('p-claims').textContent"))
        assert parent["jti"] == rejected.par[0]

        assert all(url.startswith("file://") for url in chromium.requests), chromium.requests
        assert chromium.console_errors == []


def test_claims_stay_text_in_the_browser(mesh: Mesh, browser: Chromium, tmp_path: Path) -> None:
    """Markup in claims (exec_act, ext) is shown as text; none of it runs."""
    payload = "</script><script>window.pwned=1</script><img src=x onerror=window.pwned=2>"
    root = mesh.ect("a", mesh["b"].id, exec_act=payload, ext={"note": payload})
    child = mesh.ect("b", mesh["a"].id, par=[root.jti], wid=root.wid, exec_act='"><svg onload=1>')
    recorded = MemoryLedger().append(
        [
            NewEntry.from_claims(e, wit=None, direction="minted", recorder=e.iss)
            for e in (root, child)
        ]
    )
    page = tmp_path / "hostile.html"
    page.write_text(to_html(build_workflows(recorded)[root.wid or ""]), encoding="utf-8")

    with browser as chromium:
        chromium.open(page.as_uri())
        assert chromium.evaluate("typeof window.pwned") == "undefined"
        assert chromium.evaluate("document.querySelectorAll('img, iframe, object').length") == 0
        assert _page_state(chromium)["tasks"] == 2
        shown = chromium.evaluate("document.querySelector('#nodes .node text.act').textContent")
        assert shown.startswith("</script><script>")  # as text, cut to fit the node
        x, y, _ = chromium.evaluate(node_centre(root.jti))
        chromium.click(x, y)
        claims = json.loads(chromium.evaluate("document.getElementById('p-claims').textContent"))
        assert claims["exec_act"] == payload
        assert claims["ext"] == {"note": payload}
        assert chromium.evaluate("typeof window.pwned") == "undefined"
        assert all(url.startswith("file://") for url in chromium.requests), chromium.requests


def test_a_thousand_tasks_render_and_stay_usable(
    mesh: Mesh, browser: Chromium, tmp_path: Path
) -> None:
    flow = build_workflows(synthetic(mesh, 1000))
    (flow,) = flow.values()
    page = tmp_path / "large.html"
    page.write_text(to_html(flow), encoding="utf-8")

    with browser as chromium:
        chromium.open(page.as_uri())
        state = _page_state(chromium)
        assert state["ready"] == "1"
        assert state["tasks"] == 1000
        assert state["unresolved"] == len(flow.unresolved) > 0
        assert state["dashed"] == len(flow.unresolved)
        # Usable: the first task is readable at the initial zoom and clicking it works.
        first = flow.ordered()[0]
        x, y, width = chromium.evaluate(node_centre(first.jti))
        assert width > 90
        chromium.click(x, y)
        fields = chromium.evaluate("document.getElementById('p-fields').innerText")
        assert first.jti in fields
        # Find a task deep in the workflow by its jti: it is selected and brought into view.
        last = flow.ordered()[-1]
        query = json.dumps(last.jti)
        chromium.evaluate(
            f"(() => {{ const f = document.getElementById('find'); f.value = {query};"
            " f.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter'})); })()"
        )
        x, y, _ = chromium.evaluate(node_centre(last.jti))
        assert 0 < x < 1600 - 400  # in the graph area, left of the panel
        assert 0 < y < 900
        assert last.jti in chromium.evaluate("document.getElementById('p-fields').innerText")
        chromium.screenshot(ARTIFACTS / "workflow-1000.png")
        assert chromium.console_errors == []


ROLE_WORDS = {
    "call": "CALL \u2192 ",
    "received": "RECEIVED by ",
    "checkpoint": "CHECKPOINT ",
    "completion": "COMPLETION ",
}
NODES = """JSON.stringify([...document.querySelectorAll('#nodes > .node:not(.unresolved)')].map(
  g => ({jti: g.getAttribute('data-jti'), role: g.getAttribute('data-role'),
         cls: g.getAttribute('class'), text: g.textContent,
         roleLine: g.querySelector('text.role').textContent,
         when: g.querySelector('text.when').textContent,
         dec: (g.querySelector('text.dec') || {textContent: ''}).textContent,
         stroke: getComputedStyle(g.querySelector('rect.box')).stroke})))"""


def test_each_node_shows_its_role_target_time_and_an_http_error(
    agents: Agents, browser: Chromium, tmp_path: Path
) -> None:
    flow = build_workflows(agents.entries())[agents.wid]
    page = tmp_path / "workflow.html"
    page.write_text(to_html(flow), encoding="utf-8")
    with browser as chromium:
        chromium.open(page.as_uri())
        shown = json.loads(chromium.evaluate(NODES))
        assert len(shown) == len(flow.tasks)
        for node in shown:
            task = flow.tasks[node["jti"]]
            assert node["role"] == task.role
            assert node["roleLine"].startswith(ROLE_WORDS[task.role])
            if task.role == "checkpoint":
                assert task.policy in node["roleLine"]
            elif task.target:
                # the target, as short as the node writes it (cut with an ellipsis if long)
                short = task.target.split("://", 1)[-1]
                assert short.startswith(node["roleLine"].split(" \u2192 ", 1)[1].rstrip("\u2026"))
            assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC", node["when"])
        roles = {node["role"] for node in shown}
        assert roles == {"call", "checkpoint", "completion"}
        # The request b's policy refused was answered 403: the node says so, in red, and
        # no green "approved" badge sits on it (the middleware did approve the request).
        (failed,) = [n for n in shown if (flow.tasks[n["jti"]].http_status or 0) >= 400]
        task = flow.tasks[failed["jti"]]
        assert (task.http_status, task.decision) == (403, "approved")
        assert "failed" in failed["cls"].split()
        assert "approved" not in failed["cls"].split()
        assert failed["dec"].startswith("\u2717 HTTP 403")
        assert "APPROVED" not in failed["text"]
        assert failed["stroke"] == "rgb(198, 40, 40)"  # --no, the rejection red
        ok = [n for n in shown if flow.tasks[n["jti"]].http_status == 200]
        assert ok
        assert all("\u2713 APPROVED" in n["dec"] for n in ok)

        # Its panel shows the status, the role and the time to the millisecond.
        query = json.dumps(failed["jti"])
        chromium.evaluate(
            f"(() => {{ const f = document.getElementById('find'); f.value = {query};"
            " f.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter'})); })()"
        )
        fields = chromium.evaluate("document.getElementById('p-fields').innerText")
        assert "403" in fields
        assert failed["roleLine"] in fields
        assert failed["when"] in fields
        chromium.screenshot(ARTIFACTS / "workflow-http-error.png")
        assert chromium.console_errors == []


def _scale(chromium: Chromium, jti: str) -> float:
    width = chromium.evaluate(node_centre(jti))[2]
    return float(width) / NODE_W


def test_text_stays_readable_at_any_size_and_the_view_scrolls(
    mesh: Mesh, browser: Chromium, tmp_path: Path
) -> None:
    (flow,) = build_workflows(synthetic(mesh, 1000)).values()
    page = tmp_path / "large.html"
    page.write_text(to_html(flow), encoding="utf-8")
    first = flow.ordered()[0].jti
    readable = """(() => { const t = document.querySelector('#nodes > .node text.who');
        const r = t.getBoundingClientRect(); return r.height; })()"""

    with browser as chromium:
        chromium.open(page.as_uri())
        assert _scale(chromium, first) >= 0.83  # never fitted down to unreadable
        assert chromium.evaluate(readable) >= 10  # 12.5 px text, at least 10 px on screen
        for _ in range(15):  # the zoom-out button stops at the readable scale
            chromium.evaluate("document.getElementById('zoom-out').click()")
        assert _scale(chromium, first) >= 0.83
        for _ in range(5):  # so does Ctrl + wheel
            chromium.wheel(600, 450, 0, 3000, ctrl=True)
        at_least = _scale(chromium, first)
        assert at_least >= 0.83
        assert chromium.evaluate(readable) >= 10

        # The wheel scrolls: sideways with deltaX, down with deltaY; the scale stays.
        chromium.evaluate("document.getElementById('fit').click()")
        x0, y0, _ = chromium.evaluate(node_centre(first))
        chromium.wheel(600, 450, 300, 0)
        x1, y1, _ = chromium.evaluate(node_centre(first))
        assert abs((x0 - x1) - 300) < 2
        assert abs(y1 - y0) < 2
        chromium.wheel(600, 450, 0, 200)
        x2, y2, _ = chromium.evaluate(node_centre(first))
        assert abs(x2 - x1) < 2
        assert abs((y1 - y2) - 200) < 2
        assert abs(_scale(chromium, first) - at_least) < 0.01
        chromium.wheel(600, 450, 0, -400, ctrl=True)  # Ctrl + wheel up zooms in
        assert _scale(chromium, first) > at_least + 0.1
        chromium.screenshot(ARTIFACTS / "workflow-1000-readable.png")
        assert chromium.console_errors == []

"""The HTML view in a real headless Chromium: every task drawn, a click shows its claims,
nothing fetched from anywhere, hostile claims stay text, and 1,000 tasks stay usable.

Screenshots go to ``test-artifacts/`` (gitignored) for people to look at.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ect_middleware.audit import build_workflows, to_html
from ect_middleware.ledger.base import NewEntry
from ect_middleware.ledger.memory import MemoryLedger

from ..support.mesh import Mesh
from ._support import ARTIFACTS, Agents, synthetic
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
        assert state["approved"] == sum(t.decision == "approved" for t in flow.tasks.values())
        assert chromium.evaluate("document.getElementById('p-body').hidden") is True

        x, y, width = chromium.evaluate(node_centre(rejected.jti))
        assert width > 60, "the node is too small to read at the initial zoom"
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
        assert round(width) == 250  # 100%: node boxes at their real size, selected one in view
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

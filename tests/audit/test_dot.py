"""DOT output parses (with pydot's DOT grammar) into the workflow's exact structure, and
hostile labels cannot add nodes, edges or attributes."""

from __future__ import annotations

import re

import pydot
import pytest

from ect_middleware.audit import Workflow, build_workflows, to_dot
from ect_middleware.audit.workflow import short_issuer
from ect_middleware.ledger.base import NewEntry
from ect_middleware.ledger.memory import MemoryLedger

from ..support.mesh import Mesh
from ._support import Agents

# pydot 4 calls pyparsing APIs that pyparsing 3.3 deprecates; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pydot")


def _parse(text: str) -> pydot.Dot:
    graphs = pydot.graph_from_dot_data(text)
    assert graphs is not None
    assert len(graphs) == 1
    graph: pydot.Dot = graphs[0]
    return graph


def _unquote(value: str) -> str:
    assert value.startswith('"')
    assert value.endswith('"')
    return re.sub(r"\\(.)", lambda m: "\n" if m[1] == "n" else m[1], value[1:-1])


def _nodes(graph: pydot.Dot) -> dict[str, pydot.Node]:
    return {_unquote(n.get_name()): n for n in graph.get_nodes() if n.get_name() != "node"}


def test_dot_has_one_node_per_task_and_per_unresolved_parent(agents: Agents) -> None:
    flow = build_workflows(agents.entries("a"))[agents.wid]  # a's view: b's checkpoint unknown
    assert flow.unresolved
    graph = _parse(to_dot(flow))
    assert graph.get_type() == "digraph"
    nodes = _nodes(graph)
    assert set(nodes) == set(flow.tasks) | set(flow.unresolved)
    edges = {(_unquote(e.get_source()), _unquote(e.get_destination())) for e in graph.get_edges()}
    assert edges == set(flow.edges)
    for jti in flow.unresolved:
        assert "dashed" in nodes[jti].get("style")
    for task in flow.tasks.values():
        label = _unquote(nodes[task.jti].get("label"))
        assert label.startswith(f"{task.exec_act}\n")
        if task.decision == "rejected":
            assert nodes[task.jti].get("fillcolor") == '"#fbd5d5"'
            assert "\u2717" in label


def test_merged_ledgers_resolve_what_one_ledger_could_not(agents: Agents) -> None:
    merged = build_workflows(agents.entries())[agents.wid]
    assert merged.unresolved == []
    nodes = _nodes(_parse(to_dot(merged)))
    assert len(nodes) == len(merged.tasks)


def test_hostile_labels_stay_inside_their_node(mesh: Mesh) -> None:
    act = 'x"]; "evil" -> "pwn"; n [label="\\N\nline'
    claims = mesh.ect("a", mesh["b"].id, exec_act=act)
    (flow,) = build_workflows(
        MemoryLedger().append(
            [NewEntry.from_claims(claims, wit=None, direction="minted", recorder=claims.iss)]
        )
    ).values()
    graph = _parse(to_dot(flow))
    assert list(_nodes(graph)) == [claims.jti]
    assert graph.get_edges() == []
    label = _unquote(_nodes(graph)[claims.jti].get("label"))
    assert label == f"{act}\n{short_issuer(claims.iss)}"


def test_an_empty_workflow_is_an_empty_graph() -> None:
    graph = _parse(to_dot(Workflow("w")))
    assert _nodes(graph) == {}

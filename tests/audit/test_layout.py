"""The layered layout: parents left of children, rows apart, lanes for long edges, few
crossings, and fast enough for thousands of tasks."""

from __future__ import annotations

import random
from itertools import pairwise

from ect_middleware.audit.layout import layered_layout


def _random_dag(count: int, seed: int) -> tuple[list[str], list[tuple[str, str]]]:
    rng = random.Random(seed)
    nodes = [f"n{i}" for i in range(count)]
    edges = [
        (nodes[p], nodes[i])
        for i in range(1, count)
        for p in rng.sample(range(max(0, i - 25), i), k=min(i, rng.randint(1, 3)))
    ]
    return nodes, edges


def test_every_edge_runs_left_to_right_and_rows_do_not_overlap() -> None:
    nodes, edges = _random_dag(300, seed=3)
    layout = layered_layout(nodes, edges)
    for parent, child in edges:
        assert layout.positions[parent][0] < layout.positions[child][0]
    by_layer: dict[int, list[float]] = {}
    for layer, row in layout.positions.values():
        by_layer.setdefault(layer, []).append(row)
    for edge, lanes in layout.lanes.items():
        for layer, row in lanes:
            by_layer.setdefault(layer, []).append(row)
        first, last = layout.positions[edge[0]][0], layout.positions[edge[1]][0]
        assert [layer for layer, _ in lanes] == list(range(first + 1, last))
    for rows in by_layer.values():
        rows.sort()
        assert all(b - a >= 0.999 for a, b in pairwise(rows))
    assert layout.layers == 1 + max(layer for layer, _ in layout.positions.values())


def test_a_long_edge_gets_a_lane_and_a_source_sits_next_to_its_child() -> None:
    # a -> b -> c -> d, and a -> d skipping two layers; x is a source whose only child is d.
    layout = layered_layout(
        ["a", "b", "c", "d", "x"], [("a", "b"), ("b", "c"), ("c", "d"), ("a", "d"), ("x", "d")]
    )
    assert [layout.positions[n][0] for n in "abcd"] == [0, 1, 2, 3]
    assert layout.positions["x"][0] == 2  # not at layer 0, far from the task naming it
    assert [layer for layer, _ in layout.lanes[("a", "d")]] == [1, 2]
    assert ("a", "b") not in layout.lanes


def test_barycentric_ordering_removes_an_avoidable_crossing() -> None:
    # Initial order puts c (child of b) above d (child of a): ordering must swap them.
    layout = layered_layout(["a", "b", "d", "c"], [("a", "c"), ("b", "d")])
    rows = {n: layout.positions[n][1] for n in "abcd"}
    assert (rows["a"] < rows["b"]) == (rows["c"] < rows["d"])


def test_a_chain_is_a_straight_line() -> None:
    nodes = [str(i) for i in range(20)]
    layout = layered_layout(nodes, list(pairwise(nodes)))
    assert {row for _, row in layout.positions.values()} == {0.0}
    assert layout.rows == 1


def test_cycles_and_unknown_nodes_do_not_hang() -> None:
    layout = layered_layout(["a", "b", "c"], [("a", "b"), ("b", "c"), ("c", "a"), ("a", "zz")])
    assert set(layout.positions) == {"a", "b", "c"}


def test_a_thousand_nodes_lay_out() -> None:
    nodes, edges = _random_dag(1000, seed=11)
    layout = layered_layout(nodes, edges)
    assert len(layout.positions) == 1000
    # Layered: every edge points from an earlier layer to a later one.
    assert all(layout.positions[a][0] < layout.positions[b][0] for a, b in edges)


def test_the_dummy_budget_bounds_lanes() -> None:
    nodes = [str(i) for i in range(60)]
    edges = [*pairwise(nodes), *((nodes[0], n) for n in nodes[2:])]
    layout = layered_layout(nodes, edges, dummy_budget=100)
    assert sum(len(lanes) for lanes in layout.lanes.values()) <= 100
    assert layered_layout(nodes, edges, dummy_budget=0).lanes == {}

"""A layered (Sugiyama-style) layout of a DAG, small enough to read and fast enough for
thousands of nodes, so that the HTML view needs no layout library and no network.

Steps: longest-path layering (sources are then moved next to their first child, so an
unresolved parent sits beside the task that names it); dummy nodes on edges that span
several layers, within a budget, so long edges run in lanes between the nodes instead of
through them; barycentric ordering sweeps, keeping the order with the fewest crossings;
and coordinates that keep each node near the mean of its neighbours (isotonic regression
per layer, which keeps nodes one row apart and in order).

The result is in grid units (layer, row); the renderer scales it to pixels.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Generic, TypeVar

N = TypeVar("N", bound=Hashable)

#: Ordering sweeps (down + up = 2); more rarely improves a workflow and costs time.
SWEEPS = 8


@dataclass(frozen=True)
class Layout(Generic[N]):
    """Where each node goes, and the lane points each long edge runs through."""

    #: node -> (layer, row); layer is the column (left to right), row may be fractional.
    positions: dict[N, tuple[int, float]]
    #: (parent, child) -> the (layer, row) points of its dummy nodes, parent side first.
    #: Absent or empty for an edge between adjacent layers or one drawn without lanes.
    lanes: dict[tuple[N, N], list[tuple[int, float]]]
    layers: int
    rows: float  # the largest row + 1


class _Dummy:
    """A point on a long edge, one per layer it crosses (identity is what matters)."""

    __slots__ = ()


def layered_layout(
    nodes: Sequence[N], edges: Iterable[tuple[N, N]], *, dummy_budget: int | None = None
) -> Layout[N]:
    """Lay out ``nodes`` (in their preferred initial order) joined by ``edges``.

    ``edges`` must form a DAG over ``nodes`` (an edge that would close a cycle is laid out
    as if reversed). ``dummy_budget`` bounds the number of lane points (default: four per
    node, at least 2000); the longest edges beyond it are drawn without lanes.
    """
    index = {n: i for i, n in enumerate(nodes)}
    edge_list = list(dict.fromkeys((p, c) for p, c in edges if p in index and c in index))
    layer = _layers(nodes, edge_list)
    budget = max(2000, 4 * len(nodes)) if dummy_budget is None else dummy_budget

    # The graph that is ordered: real nodes, dummies, and edges between adjacent layers
    # (plus the long edges that got no lanes, which still pull on their ends).
    preds: dict[object, list[object]] = {n: [] for n in nodes}
    succs: dict[object, list[object]] = {n: [] for n in nodes}
    level: dict[object, int] = {n: layer[n] for n in nodes}
    chains: dict[tuple[N, N], list[_Dummy]] = {}
    spans = sorted(edge_list, key=lambda e: abs(layer[e[1]] - layer[e[0]]))
    for parent, child in spans:
        low, high = sorted((layer[parent], layer[child]))
        first, last = (parent, child) if layer[parent] <= layer[child] else (child, parent)
        needed = high - low - 1
        chain: list[_Dummy] = []
        if 0 < needed <= budget:
            budget -= needed
            chain = [_Dummy() for _ in range(needed)]
            for offset, dummy in enumerate(chain, 1):
                level[dummy] = low + offset
                preds[dummy], succs[dummy] = [], []
        path: list[object] = [first, *chain, last]
        for a, b in pairwise(path):
            succs[a].append(b)
            preds[b].append(a)
        chains[(parent, child)] = chain if first == parent else chain[::-1]

    layers: list[list[object]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for vertex in _initial_order(nodes, succs, index):
        layers[level[vertex]].append(vertex)
    layers = _order(layers, preds, succs)
    rows = _coordinates(layers, preds, succs)

    positions = {n: (level[n], rows[n]) for n in nodes}
    lanes = {edge: [(level[d], rows[d]) for d in chain] for edge, chain in chains.items() if chain}
    return Layout(
        positions=positions,
        lanes=lanes,
        layers=len(layers),
        rows=max(rows.values(), default=-1.0) + 1,
    )


def _layers(nodes: Sequence[N], edges: list[tuple[N, N]]) -> dict[N, int]:
    """Longest path from the sources; then each source moves next to its first child."""
    preds: dict[N, list[N]] = {n: [] for n in nodes}
    succs: dict[N, list[N]] = {n: [] for n in nodes}
    for parent, child in edges:
        preds[child].append(parent)
        succs[parent].append(child)
    layer: dict[N, int] = {}
    for node in _topological(nodes, preds, succs):
        placed = [layer[p] for p in preds[node] if p in layer]
        layer[node] = max(placed) + 1 if placed else 0
    for node in nodes:
        if not preds[node] and succs[node]:
            layer[node] = max(0, min(layer[c] for c in succs[node]) - 1)
    return layer


def _topological(nodes: Sequence[N], preds: dict[N, list[N]], succs: dict[N, list[N]]) -> list[N]:
    """Kahn's algorithm in the nodes' own order; a cycle is broken at its earliest node."""
    waiting = {n: len(preds[n]) for n in nodes}
    ready = [n for n in nodes if waiting[n] == 0]
    done: list[N] = []
    seen: set[N] = set()
    cursor = 0
    while len(done) < len(nodes):
        if cursor == len(ready):  # only cycles are left: start at the first unplaced node
            ready.append(next(n for n in nodes if n not in seen))
        node = ready[cursor]
        cursor += 1
        if node in seen:
            continue
        seen.add(node)
        done.append(node)
        for child in succs[node]:
            waiting[child] -= 1
            if waiting[child] == 0 and child not in seen:
                ready.append(child)
    return done


def _initial_order(
    nodes: Sequence[N], succs: dict[object, list[object]], index: dict[N, int]
) -> list[object]:
    """Depth first from each node in the nodes' order, so related nodes start together."""
    rank: dict[object, int] = {n: i for n, i in index.items()}  # dummies: -1, first
    order: list[object] = []
    seen: set[object] = set()
    for root in nodes:
        stack: list[object] = [root]
        while stack:
            vertex = stack.pop()
            if vertex in seen:
                continue
            seen.add(vertex)
            order.append(vertex)
            children = [c for c in succs[vertex] if c not in seen]
            children.sort(key=lambda c: rank.get(c, -1))
            stack.extend(reversed(children))
    return order


def _order(
    layers: list[list[object]],
    preds: dict[object, list[object]],
    succs: dict[object, list[object]],
) -> list[list[object]]:
    """Barycentric sweeps, down then up; keep the order with the fewest crossings."""
    best = [list(layer) for layer in layers]
    best_crossings = _crossings(best, succs)
    current = [list(layer) for layer in layers]
    for sweep in range(SWEEPS):
        if best_crossings == 0:
            break
        down = sweep % 2 == 0
        indices = range(1, len(current)) if down else range(len(current) - 2, -1, -1)
        for i in indices:
            neighbour = current[i - 1] if down else current[i + 1]
            position = {v: p for p, v in enumerate(neighbour)}
            links = preds if down else succs
            current[i] = _by_barycentre(current[i], links, position)
        crossings = _crossings(current, succs)
        if crossings < best_crossings:
            best, best_crossings = [list(layer) for layer in current], crossings
    return best


def _by_barycentre(
    layer: list[object], links: dict[object, list[object]], position: dict[object, int]
) -> list[object]:
    """Sort by the mean position of linked nodes in the neighbour layer; nodes without
    such links keep their place (their current index is their key)."""
    keys = []
    for current, vertex in enumerate(layer):
        linked = [position[v] for v in links[vertex] if v in position]
        keys.append(sum(linked) / len(linked) if linked else float(current))
    return [
        v
        for _, _, v in sorted(zip(keys, range(len(layer)), layer, strict=True), key=lambda t: t[:2])
    ]


def _crossings(layers: list[list[object]], succs: dict[object, list[object]]) -> int:
    """Edge crossings between adjacent layers (inversions, counted by merge sort)."""
    total = 0
    for upper, lower in pairwise(layers):
        position = {v: p for p, v in enumerate(lower)}
        ends = [(p, position[c]) for p, v in enumerate(upper) for c in succs[v] if c in position]
        ends.sort()
        total += _inversions([b for _, b in ends])
    return total


def _inversions(values: list[int]) -> int:
    if len(values) < 2:
        return 0
    middle = len(values) // 2
    left, right = values[:middle], values[middle:]
    count = _inversions(left) + _inversions(right)
    merged: list[int] = []
    i = j = 0
    while i < len(left) and j < len(right):
        if right[j] < left[i]:
            merged.append(right[j])
            count += len(left) - i
            j += 1
        else:
            merged.append(left[i])
            i += 1
    merged += left[i:] + right[j:]
    values[:] = merged
    return count


def _coordinates(
    layers: list[list[object]],
    preds: dict[object, list[object]],
    succs: dict[object, list[object]],
) -> dict[object, float]:
    """Rows: each node as close as it can be to the mean row of its parents (left to
    right), then sources to that of their children; rows at least one apart, in order."""
    row: dict[object, float] = {}
    for layer in layers:
        row.update(zip(layer, _fit([_mean(row, preds[v]) for v in layer]), strict=True))
    for layer in reversed(layers):
        wanted = [row[v] if preds[v] else _mean(row, succs[v]) for v in layer]
        if any(not preds[v] for v in layer):
            row.update(zip(layer, _fit(wanted), strict=True))
    lowest = min(row.values(), default=0.0)
    return {v: r - lowest for v, r in row.items()}


def _mean(row: dict[object, float], linked: list[object]) -> float | None:
    known = [row[v] for v in linked if v in row]
    return sum(known) / len(known) if known else None


def _fit(wanted: list[float | None]) -> list[float]:
    """Rows for one layer: ``y[i] >= y[i-1] + 1`` and as close to ``wanted`` as possible
    (least squares; pool-adjacent-violators on ``wanted[i] - i``). Nodes with no wish
    follow the node before them."""
    targets: list[float] = []
    previous = -1.0
    for i, w in enumerate(wanted):
        value = w if w is not None else previous + 1
        targets.append(value - i)
        previous = value
    blocks: list[list[float]] = []  # [sum, count]
    for t in targets:
        blocks.append([t, 1.0])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            total, count = blocks.pop()
            blocks[-1][0] += total
            blocks[-1][1] += count
    fitted: list[float] = []
    for total, count in blocks:
        fitted += [total / count] * int(count)
    return [round(z + i, 3) for i, z in enumerate(fitted)]

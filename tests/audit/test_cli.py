"""``ect ledger graph``, ``ect ledger export`` and ``ect ledger verify --bundle`` as the real
console entry point, on ledgers written by real services; and the demo's HTML view."""

from __future__ import annotations

import json
import re
import stat
from collections import Counter
from pathlib import Path

import pydot
import pytest

from ect_middleware.audit import build_workflows, summary, to_mermaid

from ..support.cli import ect_cli
from ..support.mesh import Mesh
from ._support import Agents, claims_of, retoken, write_lines

# pydot 4 calls pyparsing APIs that pyparsing 3.3 deprecates; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pydot")


def _export(agents: Agents, folder: Path, *names: str) -> Path:
    out = folder / f"{'-'.join(names)}.jsonl"
    args = [a for name in names for a in ("--ledger", agents.ledgers[name])]
    done = ect_cli("ledger", "export", *args, "--wid", agents.wid, "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert (
        done.stdout
        == f"{len(agents.entries(*names))} entries of workflow {agents.wid} written to {out}\n"
    )
    return out


def _verify(bundle: Path, trust: Path) -> tuple[int, list[str]]:
    done = ect_cli("ledger", "verify", "--bundle", str(bundle), "--trust-bundle", str(trust))
    assert done.stderr == ""
    return done.returncode, done.stdout.splitlines()


def test_export_then_verify_each_agent_and_the_merge(agents: Agents, tmp_path: Path) -> None:
    a, b = _export(agents, tmp_path, "a"), _export(agents, tmp_path, "b")
    assert stat.S_IMODE(a.stat().st_mode) == 0o600  # it holds tokens
    merged = write_lines(
        tmp_path / "merged.jsonl", a.read_text().splitlines() + b.read_text().splitlines()
    )
    assert merged.read_text() == _export(agents, tmp_path, "a", "b").read_text()
    for bundle in (a, b, merged):
        code, out = _verify(bundle, agents.trust_bundle)
        assert code == 0, out
        assert out[-1].startswith("bundle verified: ")
    tasks = len(build_workflows(agents.entries())[agents.wid].tasks)
    lines = len(merged.read_text().splitlines())
    assert _verify(merged, agents.trust_bundle)[1] == [
        f"bundle verified: {lines} entries, {tasks} distinct ECTs, 1 workflow(s); "
        "0 parent(s) absent and marked unresolved by their recorders"
    ]


def test_an_altered_bundle_fails_naming_line_jti_and_code(agents: Agents, tmp_path: Path) -> None:
    lines = _export(agents, tmp_path, "a", "b").read_text().splitlines()
    record = json.loads(lines[2])
    jti = claims_of(record["ect"])["jti"]
    record["ect"] = retoken(record["ect"], exec_act="POST /wire-transfer")
    lines[2] = json.dumps(record)
    code, out = _verify(write_lines(tmp_path / "altered.jsonl", lines), agents.trust_bundle)
    assert code == 1
    assert f"line 3: jti {jti}: ect.bad_signature: signature does not verify" in out
    assert re.fullmatch(r"bundle FAILED: \d+ problems? in \d+ entries", out[-1])


def test_dropping_a_task_fails_its_children(agents: Agents, tmp_path: Path) -> None:
    lines = _export(agents, tmp_path, "a", "b").read_text().splitlines()
    claims = [claims_of(json.loads(line)["ect"]) for line in lines]
    children = Counter(p for c in {c["jti"]: c for c in claims}.values() for p in c["par"])
    dropped = children.most_common(1)[0][0]  # the task with the most children
    kept = [(line, c) for line, c in zip(lines, claims, strict=True) if c["jti"] != dropped]
    bundle = write_lines(tmp_path / "dropped.jsonl", [line for line, _ in kept])
    code, out = _verify(bundle, agents.trust_bundle)
    assert code == 1
    named = {
        (int(m[1]), m[2])
        for m in (re.match(r"line (\d+): jti (\S+): dag.parent_unknown", o) for o in out)
        if m
    }
    assert named
    for number, jti in named:
        assert kept[number - 1][1]["jti"] == jti
        assert dropped in kept[number - 1][1]["par"]
    failing = {jti for _, jti in named}
    assert failing == {c["jti"] for _, c in kept if dropped in c["par"]}


def test_an_untrusted_issuer_fails_on_the_command_line(agents: Agents, tmp_path: Path) -> None:
    stranger = Mesh(tmp_path / "stranger")
    code, out = _verify(_export(agents, tmp_path, "a"), stranger.trust_bundle)
    assert code == 1
    assert all(
        re.match(r"line \d+: jti \S+: wit\.(unknown_kid|bad_signature): ", o) for o in out[:-1]
    )


def test_verify_bundle_usage_errors(agents: Agents, tmp_path: Path) -> None:
    bundle = _export(agents, tmp_path, "a")
    no_trust = ect_cli("ledger", "verify", "--bundle", str(bundle))
    assert no_trust.returncode == 2
    assert "--trust-bundle" in no_trust.stderr
    both = ect_cli("ledger", "verify", "--bundle", str(bundle), "--trust-bundle",
                   str(agents.trust_bundle), "--ledger", agents.ledgers["a"])  # fmt: skip
    assert both.returncode == 2
    empty = write_lines(tmp_path / "empty.jsonl", [""])
    assert _verify(empty, agents.trust_bundle) == (1, ["bundle FAILED: it holds no entries"])
    missing = ect_cli("ledger", "verify", "--bundle", str(tmp_path / "none.jsonl"),
                      "--trust-bundle", str(agents.trust_bundle))  # fmt: skip
    assert missing.returncode == 2
    # The chain walk is unchanged.
    chain = ect_cli("ledger", "verify", "--ledger", agents.ledgers["a"])
    assert chain.returncode == 0
    assert chain.stdout.startswith("ledger intact: ")


def test_graph_in_every_format(agents: Agents, tmp_path: Path) -> None:
    flow = build_workflows(agents.entries("a"))[agents.wid]
    base = ("ledger", "graph", "--ledger", agents.ledgers["a"], "--wid", agents.wid)
    mermaid = ect_cli(*base)
    assert mermaid.returncode == 0
    assert mermaid.stdout == to_mermaid(flow)
    dot = ect_cli(*base, "--format", "dot")
    (graph,) = pydot.graph_from_dot_data(dot.stdout) or []
    assert len(graph.get_edges()) == len(flow.edges)
    page = tmp_path / "view.html"
    html = ect_cli(*base, "--format", "html", "--out", str(page))
    assert html.returncode == 0
    assert html.stdout == f"html view of {len(flow.tasks)} tasks written to {page}\n"
    assert page.read_text().count('<g class="node') == len(flow.tasks) + len(flow.unresolved)
    assert flow.unresolved
    text = ect_cli(*base, "--format", "text")
    assert text.stdout == summary(flow) + "\n"
    assert text.stdout.startswith(f"workflow {agents.wid}: {len(flow.tasks)} tasks")


def test_graph_merges_several_ledgers(agents: Agents) -> None:
    merged = build_workflows(agents.entries())[agents.wid]
    done = ect_cli("ledger", "graph", "--ledger", agents.ledgers["a"], "--ledger",
                   agents.ledgers["b"], "--wid", agents.wid)  # fmt: skip
    assert done.returncode == 0
    assert done.stdout == to_mermaid(merged)
    assert "unresolved" not in done.stdout.replace("classDef unresolved", "")


def test_graph_and_export_of_an_unknown_workflow_fail(agents: Agents) -> None:
    for action in ("graph", "export"):
        done = ect_cli("ledger", action, "--ledger", agents.ledgers["a"], "--wid", "nope")
        assert done.returncode == 2
        assert "no entries of workflow nope" in done.stderr


def test_the_demo_writes_and_prints_its_html_view(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    done = ect_cli("demo", "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    page = out / "workflow.html"
    assert f"DAG view (HTML, opens offline; click a task for its claims): {page}" in done.stdout
    assert (out / "workflow.mmd").exists()
    text = page.read_text()
    assert text.count('<g class="node') == 9  # the demo's workflow: 9 tasks, all resolved
    assert text.count('class="node rejected"') == 1

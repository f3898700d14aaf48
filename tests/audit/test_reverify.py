"""Offline re-verification of export bundles: what must pass, and each way a bundle can be
wrong, named by line, jti and stable code. Tokens are real: minted by the mesh's workload
keys, with WITs from its development issuers, or recorded by real services (``agents``).
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest

from ect_middleware.audit.bundle import export_record
from ect_middleware.audit.reverify import BundleReport, reverify
from ect_middleware.ledger import LedgerEntry, NewEntry
from ect_middleware.ledger.memory import MemoryLedger
from ect_middleware.limits import Limits
from ect_middleware.tokens.ect import ECTClaims, mint_ect
from ect_middleware.tokens.keys import load_signing_key
from ect_middleware.tokens.trust import TrustBundle
from ect_middleware.tokens.wit import mint_wit

from ..support.mesh import ORG_A, ORG_B, Mesh
from ._support import Agents, claims_of, retoken, synthetic

DAY = 86_400.0


def lines_of(entries: list[LedgerEntry]) -> list[str]:
    return [json.dumps(export_record(e)) for e in entries]


def check(lines: list[str], mesh: Mesh | Path) -> BundleReport:
    path = mesh.trust_bundle if isinstance(mesh, Mesh) else mesh
    return reverify(lines, TrustBundle.load(path))


def codes(report: BundleReport) -> list[tuple[int, str | None, str]]:
    return [(p.line, p.jti, p.code) for p in report.problems]


def record(claims: ECTClaims, wit: str | None, **fields: object) -> str:
    entry = MemoryLedger().append(
        [NewEntry.from_claims(claims, wit=wit, direction="minted", recorder=claims.iss)]
    )[0]
    return json.dumps({**export_record(entry), **fields})


def test_a_real_merged_bundle_verifies_and_duplicates_are_one_task(agents: Agents) -> None:
    entries = agents.entries()
    report = check(lines_of(entries), agents.trust_bundle)
    assert report.problems == ()
    assert report.ok
    assert report.entries == len(entries)
    assert report.tasks == len({e.jti for e in entries}) < len(entries)  # minted + received
    assert report.workflows == (agents.wid,)
    assert report.unresolved == ()  # every parent one ledger missed, the other recorded


def test_one_agents_bundle_verifies_with_its_declared_unresolved_parents(agents: Agents) -> None:
    report = check(lines_of(agents.entries("a")), agents.trust_bundle)
    assert report.ok, report.problems
    declared = {u for e in agents.entries("a") for u in e.unresolved}
    assert declared
    assert set(report.unresolved) == declared


def test_a_changed_claim_breaks_that_entrys_signature(mesh: Mesh) -> None:
    entries = synthetic(mesh, 12)
    lines = lines_of(entries)
    target = json.loads(lines[4])
    target["ect"] = retoken(target["ect"], exec_act="refund 1,000,000")
    lines[4] = json.dumps(target)
    report = check(lines, mesh)
    assert (5, entries[4].jti, "ect.bad_signature") in codes(report)
    assert not report.ok
    # Its children lost a verified parent and say which line failed.
    children = [i for i, e in enumerate(entries) if entries[4].jti in e.par]
    for i in children:
        problem = next(p for p in report.problems if p.line == i + 1)
        assert problem.code == "dag.parent_unknown"
        assert "line 5" in problem.detail
    assert {p.line for p in report.problems} == {5, *(i + 1 for i in children)}


def test_a_dropped_entry_leaves_its_child_without_a_parent(mesh: Mesh) -> None:
    entries = synthetic(mesh, 12)
    dropped = entries[3]
    kept = [e for e in entries if e is not dropped]
    report = check(lines_of(kept), mesh)
    children = [e for e in kept if dropped.jti in e.par]
    assert children
    assert codes(report) == [(kept.index(e) + 1, e.jti, "dag.parent_unknown") for e in children]
    assert dropped.jti in report.problems[0].detail


def test_a_missing_parent_is_accepted_only_if_every_record_says_unresolved(mesh: Mesh) -> None:
    parent = mesh.ect("a", mesh["b"].id)
    child = mesh.ect("b", mesh["a"].id, par=[parent.jti], wid=parent.wid)
    received = record(child, mesh["b"].wit, direction="received", unresolved=[parent.jti])
    minted = record(child, mesh["b"].wit, unresolved=[])
    assert check([received], mesh).ok
    assert check([received], mesh).unresolved == (parent.jti,)
    assert codes(check([received, minted], mesh)) == [(1, child.jti, "dag.parent_unknown")]


def test_an_untrusted_issuer_fails_every_wit(agents: Agents, tmp_path: Path) -> None:
    stranger = Mesh(tmp_path / "stranger")  # same trust domains, other issuer keys
    lines = lines_of(agents.entries())
    report = check(lines, stranger.trust_bundle)
    assert len(report.problems) >= len(lines)
    per_line = {p.line: p.code for p in report.problems if p.code.startswith("wit.")}
    assert set(per_line) == set(range(1, len(lines) + 1))
    assert set(per_line.values()) <= {"wit.unknown_kid", "wit.bad_signature"}


def test_a_domain_missing_from_the_trust_bundle_fails_its_wits(mesh: Mesh, tmp_path: Path) -> None:
    only_a = tmp_path / "only-a.json"
    full = json.loads(mesh.trust_bundle.read_text())
    only_a.write_text(json.dumps({ORG_A: full[ORG_A]}))
    a = mesh.ect("a", mesh["b"].id)
    b = mesh.ect("b", mesh["a"].id, par=[a.jti], wid=a.wid)
    report = check([record(a, mesh["a"].wit), record(b, mesh["b"].wit)], only_a)
    assert codes(report) == [(2, b.jti, "wit.untrusted_domain")]
    assert ORG_B not in json.loads(only_a.read_text())


def test_wits_are_checked_at_the_time_the_ect_was_issued(mesh: Mesh) -> None:
    """A WIT that expired long ago still vouches for ECTs issued while it was valid."""
    issued = 1_700_000_000.0
    issuer = load_signing_key(mesh.identities.issuers[ORG_A])
    key = mesh["a"].key
    wit = mint_wit(issuer, mesh["a"].id, key.public, lifetime=3600, clock=lambda: issued)

    def ect_at(moment: float) -> ECTClaims:
        return mint_ect(
            key, iss=mesh["a"].id, aud=mesh["b"].id, par=[], exec_act="old", wid=None,
            limits=Limits(), clock=lambda: moment,
        )  # fmt: skip

    inside = ect_at(issued + 1800)
    assert check([record(inside, wit)], mesh).ok  # today, years after the WIT expired
    late = ect_at(issued + 3600 + 61)
    assert codes(check([record(late, wit)], mesh)) == [(1, late.jti, "wit.expired")]
    early = ect_at(issued - 3600)  # backdated before its WIT existed
    assert codes(check([record(early, wit)], mesh)) == [(1, early.jti, "wit.issued_after_ect")]


def test_the_ect_must_be_signed_by_the_wits_key_and_name_its_subject(mesh: Mesh) -> None:
    a = mesh.ect("a", mesh["b"].id)
    # a's ECT with c's WIT (same trust domain, same algorithm): the signature is not c's.
    assert codes(check([record(a, mesh["c"].wit)], mesh)) == [(1, a.jti, "ect.bad_signature")]
    # c signs an ECT claiming to be a: its WIT (c's) does not name a.
    posing = mint_ect(
        mesh["c"].key, iss=mesh["a"].id, aud=mesh["b"].id, par=[], exec_act="pose",
        wid=None, limits=Limits(), clock=mesh.clock,
    )  # fmt: skip
    report = check([record(posing, mesh["c"].wit)], mesh)
    assert codes(report) == [(1, posing.jti, "ect.issuer_mismatch")]


def test_two_different_ects_with_one_jti_break_uniqueness(mesh: Mesh) -> None:
    first = mesh.ect("a", mesh["b"].id)
    second = mint_ect(
        mesh["a"].key, iss=mesh["a"].id, aud=mesh["c"].id, par=[], exec_act="again",
        wid=first.wid, limits=Limits(), clock=mesh.clock, jti=first.jti,
    )  # fmt: skip
    report = check([record(first, mesh["a"].wit), record(second, mesh["a"].wit)], mesh)
    assert codes(report) == [(2, first.jti, "ect.replayed")]
    assert "line 1" in report.problems[0].detail


def test_a_parent_issued_after_its_child_breaks_time_order(mesh: Mesh) -> None:
    now = mesh.clock()
    parent_jti = str(uuid.uuid4())

    def ect(jti: str, par: list[str], moment: float) -> ECTClaims:
        return mint_ect(
            mesh["a"].key, iss=mesh["a"].id, aud=mesh["b"].id, par=par, exec_act="t",
            wid=None, limits=Limits(), clock=lambda: moment, jti=jti,
        )  # fmt: skip

    # Later than the mesh's WITs (a WIT issued after an ECT is a problem of its own).
    child = ect(str(uuid.uuid4()), [parent_jti], now)
    parent = ect(parent_jti, [], now + 120)
    report = check([record(parent, mesh["a"].wit), record(child, mesh["a"].wit)], mesh)
    assert codes(report) == [(2, child.jti, "dag.parent_after_child")]
    within_skew = ect(str(uuid.uuid4()), [parent_jti], now + 95)
    assert check([record(parent, mesh["a"].wit), record(within_skew, mesh["a"].wit)], mesh).ok


def test_a_cycle_is_found(mesh: Mesh) -> None:
    x, y = str(uuid.uuid4()), str(uuid.uuid4())
    ex = mesh.ect("a", mesh["b"].id, par=[y], wid=None)
    ex = mint_ect(
        mesh["a"].key, iss=mesh["a"].id, aud=mesh["b"].id, par=[y], exec_act="x",
        wid=ex.wid, limits=Limits(), clock=mesh.clock, jti=x,
    )  # fmt: skip
    why = mint_ect(
        mesh["a"].key, iss=mesh["a"].id, aud=mesh["b"].id, par=[x], exec_act="y",
        wid=ex.wid, limits=Limits(), clock=mesh.clock, jti=y,
    )  # fmt: skip
    report = check([record(ex, mesh["a"].wit), record(why, mesh["a"].wit)], mesh)
    assert {p.code for p in report.problems} == {"dag.cycle"}


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ("not json", "bundle.malformed"),
        ("[1, 2]", "bundle.malformed"),
        ('{"format": "ect-bundle/9", "ect": "a.b.c"}', "bundle.malformed"),
        ('{"ect": 5}', "bundle.malformed"),
        ('{"ect": "not-a-token", "wit": null}', "ect.malformed"),
    ],
)
def test_malformed_lines_are_named(mesh: Mesh, line: str, code: str) -> None:
    good = record(mesh.ect("a", mesh["b"].id), mesh["a"].wit)
    report = check([good, line], mesh)
    assert [(p.line, p.code) for p in report.problems] == [(2, code)]


def test_an_entry_without_its_wit_cannot_be_verified(mesh: Mesh) -> None:
    claims = mesh.ect("a", mesh["b"].id)
    assert codes(check([record(claims, None)], mesh)) == [(1, claims.jti, "bundle.wit_missing")]


def test_an_empty_bundle_is_not_a_verified_one(mesh: Mesh) -> None:
    report = check(["", "  "], mesh)
    assert report.entries == 0
    assert not report.ok


def test_problems_never_echo_token_text(mesh: Mesh) -> None:
    claims = mesh.ect("a", mesh["b"].id)
    forged = retoken(claims.token, jti="\x1b]0;owned\x07")
    line = json.dumps({"ect": forged, "wit": mesh["a"].wit})
    (problem,) = check([line], mesh).problems
    assert "\x1b" not in str(problem)
    assert "jti ?" in str(problem)
    assert claims_of(forged)["jti"].startswith("\x1b")


def test_a_chain_of_draft_01_ects_reverifies_as_one_model(mesh: Mesh) -> None:
    """-01 ECTs (pred, ect_ext) re-verify offline; the views read the same parents."""
    from ect_middleware.audit import build_workflows
    from ect_middleware.tokens.ect import Policy

    wid, now = str(uuid.uuid4()), float(int(time.time()))
    a = mesh["a"]
    parent = mint_ect(
        a.key, iss=a.id, aud=a.id, par=[], exec_act="plan", wid=wid, limits=Limits(),
        clock=lambda: now, draft="01", policy=Policy("p", "approved", a.id), ext={"k": 1},
    )  # fmt: skip
    child = mint_ect(
        a.key, iss=a.id, aud=mesh["b"].id, par=[parent.jti], exec_act="call", wid=wid,
        limits=Limits(), clock=lambda: now + 1, draft="01",
    )  # fmt: skip
    assert "pred" in child.claims
    ledger = MemoryLedger()
    entries = ledger.append(
        [NewEntry.from_claims(c, wit=a.wit, direction="minted", recorder=a.id)
         for c in (parent, child)]
    )  # fmt: skip
    assert entries[1].par == (parent.jti,)
    report = check(lines_of(entries), mesh)
    assert report.ok, report.problems
    flow = build_workflows(entries)[wid]
    assert flow.edges == [(parent.jti, child.jti)]
    task = flow.tasks[parent.jti]
    assert (task.policy, task.decision, task.extension) == ("p", "approved", {"k": 1})

"""Every rejection path answers 400/403 problem+json with its stable code, through both
middlewares, and leaves a signed rejection record (never the rejected tokens) in the ledger.
Observe mode lets the same requests through and logs them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from ect_middleware import Settings
from ect_middleware.limits import Limits
from ect_middleware.tokens.ect import mint_ect
from ect_middleware.tokens.encoding import b64url_encode
from ect_middleware.tokens.jws import read_payload
from ect_middleware.tokens.keys import generate_signing_key
from ect_middleware.tokens.wit import mint_wit
from ect_middleware.tokens.wpt import Bindings, mint_wpt

from ..support.mesh import Mesh
from ..support.stacks import Stack, open_stack

#: (mesh, URL of /context) -> request headers
Build = Callable[[Mesh, str], dict[str, str]]


def _with_ect(mesh: Mesh, url: str, ect: str) -> dict[str, str]:
    return mesh.headers("a", url, [ect])


def _untrusted_domain(mesh: Mesh, url: str) -> dict[str, str]:
    issuer, key = generate_signing_key("ES256"), generate_signing_key("ES256")
    wit = mint_wit(
        issuer, "spiffe://org-x.example/agent/x", key.public, lifetime=600, clock=mesh.clock
    )
    wpt = mint_wpt(key, wit, url, Bindings(), lifetime=60, clock=mesh.clock)
    return {"Workload-Identity-Token": wit, "Workload-Proof-Token": wpt}


def _issuer_mismatch(mesh: Mesh, url: str) -> dict[str, str]:
    ect = mint_ect(
        mesh["a"].key, iss=mesh["c"].id, aud=mesh["b"].id, par=[], exec_act="x",
        wid=str(uuid.uuid4()), limits=Limits(), clock=mesh.clock,
    )  # fmt: skip
    return _with_ect(mesh, url, ect.token)


def _oth_mismatch(mesh: Mesh, url: str) -> dict[str, str]:
    headers = mesh.headers("a", url, [mesh.ect("a", mesh["b"].id).token])
    headers["Execution-Context"] = mesh.ect("a", mesh["b"].id).token  # swapped after signing
    return headers


def _unsigned(mesh: Mesh) -> str:
    claims = read_payload(mesh.ect("a", mesh["b"].id).token) or {}
    return b64url_encode(json.dumps(claims).encode())


def _both_spellings(mesh: Mesh) -> str:
    claims = read_payload(mesh.ect("a", mesh["b"].id).token) or {}
    header = {"alg": mesh["a"].key.alg, "typ": "exec+jwt", "kid": mesh["a"].key.kid}
    signing_input = ".".join(
        b64url_encode(json.dumps(part).encode()) for part in (header, {**claims, "pred": []})
    )
    signature = mesh["a"].key.jose_key.sign(signing_input.encode())
    return f"{signing_input}.{b64url_encode(signature)}"


CASES: list[tuple[str, Build, int, str]] = [
    ("no headers", lambda m, u: {}, 400, "wit.missing"),
    ("WIT only", lambda m, u: {"Workload-Identity-Token": m["a"].wit}, 400, "wpt.missing"),
    ("garbage WIT", lambda m, u: {**m.headers("a", u), "Workload-Identity-Token": "x.y"}, 400,
     "wit.malformed"),
    ("untrusted domain", _untrusted_domain, 400, "wit.untrusted_domain"),
    ("WPT for another host", lambda m, u: m.headers("a", "http://elsewhere/context"), 400,
     "wpt.audience_mismatch"),
    ("ECT iss is not the caller", _issuer_mismatch, 400, "ect.issuer_mismatch"),
    ("ECT for another audience", lambda m, u: _with_ect(m, u, m.ect("a", m["c"].id).token),
     400, "ect.audience_mismatch"),
    ("ECT signed by another workload", lambda m, u: _with_ect(m, u, m.ect("c", m["b"].id).token),
     400, "ect.bad_signature"),
    ("Execution-Context swapped", _oth_mismatch, 400, "wpt.oth_mismatch"),
    ("two WPTs", lambda m, u: {**m.headers("a", u), "Workload-Proof-Token": "a.b.c, d.e.f"},
     400, "wpt.duplicate"),
    ("unsigned (L1) ECT", lambda m, u: _with_ect(m, u, _unsigned(m)), 400, "ect.unsigned"),
    ("ECT with par and pred", lambda m, u: _with_ect(m, u, _both_spellings(m)), 400,
     "ect.draft_conflict"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "build", "status", "code"), CASES, ids=[c[0] for c in CASES])
def test_rejected_with_stable_code(
    kind: str, mesh: Mesh, tmp_path: Path, name: str, build: Build, status: int, code: str
) -> None:
    with open_stack(kind, _settings(mesh, tmp_path)) as stack, capture_logs() as logs:
        response = stack.client.get("/context", headers=build(mesh, stack.url("/context")))
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == code
    assert problem["status"] == status
    assert problem["type"] == f"urn:ect-middleware:error:{code}"
    assert {"title", "detail"} <= problem.keys()
    assert "eyJ" not in response.text  # no token echoed
    rejected = [e for e in logs if e["event"] == "ect.request_rejected"]
    assert [(e["code"], e["enforced"]) for e in rejected] == [(code, True)]
    (entry,) = stack.entries()  # only our signed record of the decision
    assert entry.direction == "minted"
    claims = json.loads(_payload(entry.ect))
    assert claims["pol"] == "ect-middleware/inbound"
    assert claims["pol_decision"] == "rejected"
    assert claims["ext"] == {"http_status": status, "code": code}
    assert claims["par"] == []


def test_replayed_wpt_and_ect(kind: str, mesh: Mesh, tmp_path: Path) -> None:
    ect = mesh.ect("a", mesh["b"].id).token
    with open_stack(kind, _settings(mesh, tmp_path)) as stack:
        url = stack.url("/context")
        headers = mesh.headers("a", url, [ect])
        first = stack.client.get("/context", headers=headers)
        again = stack.client.get("/context", headers=headers)
        fresh_wpt = stack.client.get("/context", headers=mesh.headers("a", url, [ect]))
    assert first.status_code == 200
    assert first.json()["parents"] == [_jti(ect)]
    assert again.json()["code"] == "wpt.replayed"
    assert fresh_wpt.json()["code"] == "ect.replayed"


def test_strict_mode_rejects_unknown_parents(kind: str, mesh: Mesh, tmp_path: Path) -> None:
    ect = mesh.ect("a", mesh["b"].id, par=[str(uuid.uuid4())]).token
    with open_stack(kind, _settings(mesh, tmp_path, dag_mode="strict")) as stack:
        response = stack.client.get("/context", headers=_signed(mesh, stack, ect))
    assert response.json()["code"] == "dag.parent_unknown"


def test_partial_mode_records_unknown_parents(kind: str, mesh: Mesh, tmp_path: Path) -> None:
    missing = str(uuid.uuid4())
    ect = mesh.ect("a", mesh["b"].id, par=[missing]).token
    with open_stack(kind, _settings(mesh, tmp_path)) as stack:
        response = stack.client.get("/context", headers=_signed(mesh, stack, ect))
        entries = stack.entries()
    assert response.status_code == 200
    received = [e for e in entries if e.direction == "received"]
    assert [(e.jti, e.unresolved) for e in received] == [(_jti(ect), (missing,))]


@pytest.mark.parametrize(
    ("name", "build", "status", "code"), CASES[:6], ids=[c[0] for c in CASES[:6]]
)
def test_observe_mode_lets_through_and_logs(
    kind: str, mesh: Mesh, tmp_path: Path, name: str, build: Build, status: int, code: str
) -> None:
    with (
        open_stack(kind, _settings(mesh, tmp_path, mode="observe")) as stack,
        capture_logs() as logs,
    ):
        response = stack.client.get("/context", headers=build(mesh, stack.url("/context")))
        entries = stack.entries()
    assert response.status_code == 200
    assert response.json()["caller"] is None  # nothing unverified is trusted
    rejected = [e for e in logs if e["event"] == "ect.request_rejected"]
    assert [(e["code"], e["enforced"]) for e in rejected] == [(code, False)]
    (completion,) = entries
    claims = json.loads(_payload(completion.ect))
    assert claims["pol_decision"] == "rejected"
    assert claims["ext"] == {"http_status": 200, "code": code}


def test_entry_path_starts_a_workflow_without_tokens(kind: str, mesh: Mesh, tmp_path: Path) -> None:
    with open_stack(kind, _settings(mesh, tmp_path, entry_paths=("/context",))) as stack:
        one = stack.client.get("/context").json()
        two = stack.client.get("/context").json()
    assert one["caller"] is None
    assert one["parents"] == []
    assert uuid.UUID(one["wid"]) != uuid.UUID(two["wid"])


def test_verified_caller_without_ect_starts_a_workflow(
    kind: str, mesh: Mesh, tmp_path: Path
) -> None:
    with open_stack(kind, _settings(mesh, tmp_path)) as stack:
        headers = mesh.headers("a", stack.url("/context"))
        body = stack.client.get("/context", headers=headers).json()
    assert body["caller"] == mesh["a"].id
    assert body["parents"] == []
    uuid.UUID(body["wid"])


def _settings(mesh: Mesh, tmp_path: Path, **overrides: object) -> Callable[[str], Settings]:
    ledger = f"sqlite:///{tmp_path / 'b.db'}"
    return lambda base: mesh.settings("b", base, ledger=ledger, **overrides)


def _signed(mesh: Mesh, stack: Stack, ect: str) -> dict[str, str]:
    return mesh.headers("a", stack.url("/context"), [ect])


def _payload(token: str) -> bytes:
    from ect_middleware.tokens.encoding import b64url_decode

    return b64url_decode(token.split(".")[1])


def _jti(token: str) -> str:
    return str(json.loads(_payload(token))["jti"])

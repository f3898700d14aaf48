"""Hostile Execution-Context values (with a valid WIT and a WPT bound to exactly what is
sent), through the three stacks."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from ..support.clock import NOW
from ..support.stacks import Stack
from ._cases import Case, ids, run_attack
from ._hostile import DROP, Forger, Header, hs256, public_pem, unsigned

Build = Callable[[Forger, str], list[Header]]


def ect(make: Callable[[Forger], str]) -> Build:
    """A request by a carrying the one ECT ``make(forger)``."""
    return lambda f, url: f.headers(url, ects=[make(f)])


def claims(**changes: Any) -> Build:
    return ect(lambda f: f.ect(claims=changes))


def header(signer: Callable[[Forger], Any] | None = None, **changes: Any) -> Build:
    return ect(lambda f: f.ect(header=changes, signer=signer(f) if signer else None))


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"n": value}
    return value


def _alg_none(f: Forger) -> str:
    return unsigned({"alg": "none", "typ": "wimse-exec+jwt"}, f.ect_claims(), "AAAA")


def _hs256(f: Forger) -> str:
    return hs256(
        {"alg": "HS256", "typ": "wimse-exec+jwt"}, f.ect_claims(), public_pem(f.mesh["a"].key)
    )


def _raw_claims(text: str) -> Callable[[Forger], str]:
    """An ECT over exactly this payload text (``{jti}`` and ``{wid}`` filled in)."""
    return lambda f: f.ect(
        claims=text.replace("{jti}", str(uuid.uuid4())).replace("{wid}", str(uuid.uuid4())).encode()
    )


BASE = (
    '"iss":"spiffe://org-a.example/agent/a","aud":"spiffe://org-b.example/agent/b",'
    f'"iat":{NOW},"exp":{NOW + 300},"jti":"{{jti}}","wid":"{{wid}}","par":[]'
)


def _non_ascii(f: Forger, url: str) -> list[Header]:
    token = f.ect()
    value = token[:60] + "\u00e9" + token[61:]
    return f.headers(url, ects=[value])


CASES = [
    Case("alg none with a signature", ect(_alg_none), "ect.alg_not_allowed"),
    Case("HS256 keyed with the caller's public key", ect(_hs256), "ect.alg_not_allowed"),
    Case("typ of a WPT", header(typ="wpt+jwt"), "ect.typ_invalid"),
    Case("typ of a WIT", header(typ="wit+jwt"), "ect.typ_invalid"),
    Case("the caller's WIT as an ECT", ect(lambda f: f.mesh["a"].wit), "ect.typ_invalid"),
    Case("a WPT as an ECT", ect(lambda f: f.wpt("http://b.example/context")),
         "ect.typ_invalid"),
    Case("EdDSA for an ES256 caller", header(alg="EdDSA"), "ect.alg_mismatch"),
    Case("jku pointing elsewhere", header(jku="https://evil.example/jwks.json"),
         "ect.header_forbidden"),
    Case("x5u pointing elsewhere", header(x5u="https://evil.example/cert.pem"),
         "ect.header_forbidden"),
    Case("signed by the caller's trust domain issuer", header(lambda f: f.issuer_of("a")),
         "ect.bad_signature"),
    Case("signed by a stranger with the caller's kid", header(lambda f: f.stranger),
         "ect.bad_signature"),
    Case("iss is this service", claims(iss="spiffe://org-b.example/agent/b"),
         "ect.issuer_mismatch"),
    Case("iss with a trailing slash", claims(iss="spiffe://org-a.example/agent/a/"),
         "ect.issuer_mismatch"),
    Case("iss is a number", claims(iss=7), "ect.claims_invalid"),
    Case("aud lists only other services",
         claims(aud=["spiffe://org-a.example/agent/c", "spiffe://org-b.example/agent/mallory"]),
         "ect.audience_mismatch"),
    Case("aud is this service's URL, not its workload id",
         lambda f, u: f.headers(u, ects=[f.ect(claims={"aud": u.rsplit("/", 1)[0]})]),
         "ect.audience_mismatch"),
    Case("aud is an empty array", claims(aud=[]), "ect.claims_invalid"),
    Case("expired beyond the leeway", claims(exp=NOW - 60), "ect.expired"),
    Case("issued beyond the leeway in the future", claims(iat=NOW + 61),
         "ect.issued_in_future"),
    Case("iat is NaN", claims(iat=float("nan")), "ect.claims_invalid"),
    Case("iat is a string", claims(iat=str(NOW)), "ect.claims_invalid"),
    Case("exp is negative", claims(exp=-1), "ect.claims_invalid"),
    Case("jti is not a UUID", claims(jti="task-1"), "ect.invalid_id"),
    Case("wid is not a UUID", claims(wid="workflow-1"), "ect.invalid_id"),
    Case("a parent is not a UUID", claims(par=["parent-1"]), "ect.invalid_id"),
    Case("jti is a number", claims(jti=1), "ect.claims_invalid"),
    Case("exec_act is a number", claims(exec_act=1), "ect.claims_invalid"),
    Case("exec_act is empty", claims(exec_act=""), "ect.claims_invalid"),
    Case("no exec_act", claims(exec_act=DROP), "ect.claims_invalid"),
    Case("par is a string", claims(par=str(uuid.uuid4())), "ect.claims_invalid"),
    Case("no par", claims(par=DROP), "ect.claims_invalid"),
    Case("a parent listed twice", claims(par=[str(uuid.UUID(int=1))] * 2),
         "ect.claims_invalid"),
    Case("its own parent", ect(lambda f: f.ect(claims={"jti": (j := str(uuid.uuid4())),
                                                      "par": [j]})),
         "ect.claims_invalid"),
    Case("257 parents", claims(par=[str(uuid.uuid4()) for _ in range(257)]),
         "dag.too_many_parents"),
    Case("ext over 4096 bytes", claims(ext={"blob": "x" * 4096}), "ect.ext_too_large"),
    Case("ext nested 6 deep", claims(ext=_nested(6)), "ect.ext_too_deep"),
    Case("ext nested 900 deep", claims(ext=_nested(900)), "ect.ext_too_deep"),
    Case("ext is an array", claims(ext=[1, 2]), "ect.claims_invalid"),
    Case("pol_enforcer without pol", claims(pol_enforcer="spiffe://org-a.example/agent/a"),
         "ect.claims_invalid"),
    Case("pol without pol_decision", claims(pol="refund-limit"), "ect.claims_invalid"),
    Case("pol_enforcer is not a workload id",
         claims(pol="p", pol_decision="approved", pol_enforcer="https://a.example:1/x"),
         "ect.claims_invalid"),
    Case("inp_hash is not a SHA-256 digest", claims(inp_hash="sha-256:abc"),
         "ect.claims_invalid"),
    Case("a lone surrogate in exec_act",
         ect(_raw_claims("{" + BASE + ',"exec_act":"\\ud800"}')), "ect.malformed"),
    Case("exec_act twice", ect(_raw_claims("{" + BASE + ',"exec_act":"a","exec_act":"b"}')),
         "ect.malformed"),
    Case("payload is a JSON string", ect(lambda f: f.ect(claims=json.dumps("x").encode())),
         "ect.malformed"),
    Case("over 16 KiB", claims(pad="x" * 17_000), "ect.too_large"),
    Case("non-ASCII octets", _non_ascii, "ect.malformed"),
    Case("signature segment cut off", ect(lambda f: f.ect().rsplit(".", 1)[0] + "."),
         "ect.malformed"),
    Case("base64 padding", ect(lambda f: f.ect() + "="), "ect.malformed"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_hostile_ect(hostile_stack: Stack, forger: Forger, case: Case) -> None:
    run_attack(hostile_stack, forger, case)

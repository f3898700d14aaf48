"""Hostile Workload-Proof-Token headers (with a valid WIT), through the three stacks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ect_middleware.tokens.encoding import sha256_b64url

from ..support.clock import NOW
from ..support.stacks import Stack
from ._cases import Case, ids, run_attack
from ._hostile import DROP, Attack, Forger, Header, hs256, malleated, public_pem, unsigned

Build = Callable[[Forger, str], "list[Header] | Attack"]


def claims(**changes: Any) -> Build:
    """A request whose WPT claims are edited by ``changes``."""

    def build(f: Forger, url: str) -> list[Header]:
        return f.headers(url, wpt_claims=changes)

    return build


def header(signer: Callable[[Forger], Any] | None = None, **changes: Any) -> Build:
    """A request whose WPT JOSE header is edited by ``changes`` (signed by ``signer``)."""

    def build(f: Forger, url: str) -> list[Header]:
        key = signer(f) if signer else None
        return f.headers(url, wpt=f.wpt(url, header=changes, signer=key))

    return build


def wpt(make: Callable[[Forger, str], str | bytes]) -> Build:
    """A request by a whose WPT header value is ``make(forger, url)``."""

    def build(f: Forger, url: str) -> list[Header]:
        value = make(f, url)
        headers = f.headers(url)
        return [headers[0], ("Workload-Proof-Token", value)]

    return build


def aud(make: Callable[[str], str]) -> Build:
    def build(f: Forger, url: str) -> list[Header]:
        return f.headers(url, wpt_claims={"aud": make(url)})

    return build


def _host_only(f: Forger, url: str) -> list[Header]:
    host = [("Host", "evil.example"), ("X-Forwarded-Host", "evil.example")]
    return f.headers(url, wpt_claims={"aud": "http://evil.example/context"}, extra=host)


def _bearer(ath: str | None, authorization: str | None) -> Build:
    def build(f: Forger, url: str) -> list[Header]:
        extra = [("Authorization", authorization)] if authorization else []
        changes = {"ath": sha256_b64url(ath)} if ath else {}
        return f.headers(url, wpt_claims=changes, extra=extra)

    return build


def _txn(tth: str | None, txn: str | None) -> Build:
    def build(f: Forger, url: str) -> list[Header]:
        extra = [("Txn-Token", txn)] if txn else []
        changes = {"tth": sha256_b64url(tth)} if tth else {}
        return f.headers(url, wpt_claims=changes, extra=extra)

    return build


def _other_bound_ect(f: Forger, url: str) -> list[Header]:
    oth = {"execution-context": sha256_b64url(f.ect())}
    return f.headers(url, ects=[f.ect()], wpt_claims={"oth": oth})


def _oth_other_order(f: Forger, url: str) -> list[Header]:
    wid = f.ect_claims()["wid"]
    one, two = f.ect(claims={"wid": wid}), f.ect(claims={"wid": wid})
    oth = {"execution-context": sha256_b64url(f"{two}, {one}")}
    return f.headers(url, ects=[one, two], wpt_claims={"oth": oth})


def _replayed(f: Forger, url: str) -> Attack:
    headers = f.headers(url)
    return Attack(headers, primers=(headers,))


def _replayed_malleated(f: Forger, url: str) -> Attack:
    headers = f.headers(url)
    (wit, wpt_value) = (headers[0], headers[1][1])
    assert isinstance(wpt_value, str)
    return Attack([wit, ("Workload-Proof-Token", malleated(wpt_value))], primers=(headers,))


def _two_lines(second_name: str) -> Build:
    def build(f: Forger, url: str) -> list[Header]:
        return [*f.headers(url), (second_name, f.wpt(url))]

    return build


def _deep_payload(f: Forger, url: str) -> str:
    return f.wpt(url, claims=b'{"a":' * 1500 + b"1" + b"}" * 1500)


def _alg_none(f: Forger, url: str) -> str:
    return unsigned({"alg": "none", "typ": "wpt+jwt"}, f.wpt_claims(url), "AAAA")


def _hs256(f: Forger, url: str) -> str:
    return hs256({"alg": "HS256", "typ": "wpt+jwt"}, f.wpt_claims(url), public_pem(f.mesh["a"].key))


CASES = [
    Case("alg none with a signature", wpt(_alg_none), "wpt.alg_not_allowed"),
    Case("HS256 keyed with the confirmation key", wpt(_hs256), "wpt.alg_not_allowed"),
    Case("typ of a WIT", header(typ="wit+jwt"), "wpt.typ_invalid"),
    Case("typ of an ECT", header(typ="wimse-exec+jwt"), "wpt.typ_invalid"),
    Case("the caller's WIT in the WPT header", wpt(lambda f, u: f.mesh["a"].wit),
         "wpt.typ_invalid"),
    Case("an ECT in the WPT header", wpt(lambda f, u: f.ect()), "wpt.typ_invalid"),
    Case("ES384 on an ES256 confirmation key", header(alg="ES384"), "wpt.alg_mismatch"),
    Case("EdDSA on an ES256 confirmation key", header(alg="EdDSA"), "wpt.alg_mismatch"),
    Case("embedded jwk, signed by that key",
         header(lambda f: f.stranger, jwk={"kty": "EC", "crv": "P-256"}),
         "wpt.header_forbidden"),
    Case("jku pointing elsewhere", header(jku="https://evil.example/jwks.json"),
         "wpt.header_forbidden"),
    Case("signed by another workload's key", header(lambda f: f.mesh["c"].key),
         "wpt.bad_signature"),
    Case("signed by the WIT issuer", header(lambda f: f.issuer_of("a")), "wpt.bad_signature"),
    Case("aud with a query string", aud(lambda u: u + "?x=1"), "wpt.audience_mismatch"),
    Case("aud with a fragment", aud(lambda u: u + "#top"), "wpt.audience_mismatch"),
    Case("aud matching only Host and X-Forwarded-Host", _host_only, "wpt.audience_mismatch"),
    Case("aud for another path", aud(lambda u: u.rsplit("/", 1)[0] + "/admin"),
         "wpt.audience_mismatch"),
    Case("aud with a trailing slash", aud(lambda u: u + "/"), "wpt.audience_mismatch"),
    Case("aud in upper case", aud(str.upper), "wpt.audience_mismatch"),
    Case("aud with a percent-encoded path", aud(lambda u: u.replace("/context", "/%63ontext")),
         "wpt.audience_mismatch"),
    Case("aud is an array without the target",
         lambda f, u: f.headers(u, wpt_claims={"aud": [u + "/other", "https://b.example"]}),
         "wpt.audience_mismatch"),
    Case("aud is an array with a number", lambda f, u: f.headers(u, wpt_claims={"aud": [u, 7]}),
         "wpt.claims_invalid"),
    Case("aud is an empty array", lambda f, u: f.headers(u, wpt_claims={"aud": []}),
         "wpt.claims_invalid"),
    Case("no aud", claims(aud=DROP), "wpt.claims_invalid"),
    Case("expired beyond the leeway", claims(exp=NOW - 60), "wpt.expired"),
    Case("lifetime beyond the maximum", claims(exp=NOW + 361), "wpt.lifetime_exceeded"),
    Case("exp is a string", claims(exp=str(NOW + 60)), "wpt.claims_invalid"),
    Case("exp is 1e308", claims(exp=1e308), "wpt.claims_invalid"),
    Case("wth of another WIT", lambda f, u: f.headers(u, wpt_claims={
        "wth": sha256_b64url(f.mesh["c"].wit)}), "wpt.wth_mismatch"),
    Case("no wth", claims(wth=DROP), "wpt.claims_invalid"),
    Case("wth is a number", claims(wth=12345), "wpt.claims_invalid"),
    Case("no jti", claims(jti=DROP), "wpt.claims_invalid"),
    Case("jti is a number", claims(jti=12345), "wpt.claims_invalid"),
    Case("ath without an Authorization header", _bearer("token-1", None), "wpt.ath_mismatch"),
    Case("bearer token not bound", _bearer(None, "Bearer token-1"), "wpt.ath_mismatch"),
    Case("ath of another bearer token", _bearer("token-2", "Bearer token-1"),
         "wpt.ath_mismatch"),
    Case("Txn-Token not bound", _txn(None, "txn-1"), "wpt.tth_mismatch"),
    Case("tth without a Txn-Token", _txn("txn-1", None), "wpt.tth_mismatch"),
    Case("oth binds an unknown header", claims(oth={"x-api-key": sha256_b64url("k")}),
         "wpt.oth_unknown"),
    Case("oth is a string", claims(oth="execution-context"), "wpt.claims_invalid"),
    Case("oth binds an Execution-Context that was not sent",
         claims(oth={"execution-context": sha256_b64url("x")}), "wpt.oth_mismatch"),
    Case("Execution-Context bound to another value", _other_bound_ect, "wpt.oth_mismatch"),
    Case("oth binds the ECTs in another order", _oth_other_order, "wpt.oth_mismatch"),
    Case("replayed, no ECT", _replayed, "wpt.replayed"),
    Case("replayed with a malleated ES256 signature", _replayed_malleated, "wpt.replayed"),
    Case("two WPT header lines", _two_lines("Workload-Proof-Token"), "wpt.duplicate"),
    Case("two WPT header lines, names in two cases", _two_lines("workload-PROOF-token"),
         "wpt.duplicate"),
    Case("over 16 KiB", claims(pad="x" * 17_000), "wpt.too_large"),
    Case("non-ASCII octets",
         wpt(lambda f, u: f.wpt(u)[:50].encode() + b"\xc3\xa9" + f.wpt(u)[52:].encode()),
         "wpt.malformed"),
    Case("payload nested 1500 deep", wpt(_deep_payload), "wpt.malformed"),
    Case("header names alg twice",
         wpt(lambda f, u: f.wpt(u, header=b'{"alg":"none","alg":"ES256",'
                                                          b'"typ":"wpt+jwt"}')),
         "wpt.malformed"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_hostile_wpt(hostile_stack: Stack, forger: Forger, case: Case) -> None:
    run_attack(hostile_stack, forger, case)

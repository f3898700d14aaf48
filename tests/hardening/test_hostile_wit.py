"""Hostile Workload-Identity-Token headers, through uvicorn, in-process WSGI and waitress.

Each case is a request whose WPT (and ECTs, if any) are valid for the WIT it carries, so
that only the WIT is wrong; each must be rejected with its code and leave nothing but the
signed rejection record (see ``_cases.run_attack``).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ..support.clock import NOW
from ..support.stacks import Stack
from ._cases import Case, ids, run_attack
from ._hostile import DROP, Forger, Header, flip_char, hs256, public_pem, unsigned


def _wit(make: Callable[[Forger], str | bytes]) -> Callable[[Forger, str], list[Header]]:
    """Case builder: a request by a whose WIT is ``make(forger)`` (WPT bound to it)."""

    def build(f: Forger, url: str) -> list[Header]:
        wit = make(f)
        if isinstance(wit, bytes):  # octets no valid token has; bind the WPT to their text
            headers = f.headers(url, wit=wit.decode("latin-1"))
            return [("Workload-Identity-Token", wit), *headers[1:]]
        return f.headers(url, wit=wit)

    return build


def _cnf(f: Forger, **changes: object) -> dict[str, object]:
    """a's confirmation key with members replaced (None removes one)."""
    jwk = {**f.mesh["a"].key.public.jwk, **changes}
    return {"cnf": {"jwk": {k: v for k, v in jwk.items() if v is not None}}}


def _private_d(f: Forger) -> str:
    return f.mesh["a"].key.to_private_jwk()["d"]


def _off_curve(f: Forger) -> dict[str, object]:
    jwk = dict(f.mesh["a"].key.public.jwk)
    y = jwk["y"]
    jwk["y"] = y[:10] + ("A" if y[10] != "A" else "B") + y[11:]
    return {"cnf": {"jwk": jwk}}


def _two_wits(f: Forger, url: str) -> list[Header]:
    headers = f.headers(url)
    return [headers[0], ("Workload-Identity-Token", f.mesh["c"].wit), *headers[1:]]


def _five_segments(f: Forger) -> str:
    return f.mesh["a"].wit + ".AAAA.BBBB"


CASES = [
    Case("alg none, no signature",
         _wit(lambda f: unsigned(f.wit_header() | {"alg": "none"}, f.wit_claims())),
         "wit.malformed"),
    Case("alg none with a signature",
         _wit(lambda f: unsigned(f.wit_header() | {"alg": "none"}, f.wit_claims(), "AAAA")),
         "wit.alg_not_allowed"),
    Case("HS256 keyed with the issuer's public key",
         _wit(lambda f: hs256(f.wit_header() | {"alg": "HS256"}, f.wit_claims(),
                              public_pem(f.issuer_of("a")))),
         "wit.alg_not_allowed"),
    Case("alg in lower case", _wit(lambda f: f.wit(header={"alg": "es256"})),
         "wit.alg_not_allowed"),
    Case("ES384 on the ES256 issuer key", _wit(lambda f: f.wit(header={"alg": "ES384"})),
         "wit.alg_not_allowed"),
    Case("typ of a WPT", _wit(lambda f: f.wit(header={"typ": "wpt+jwt"})), "wit.typ_invalid"),
    Case("typ of an ECT", _wit(lambda f: f.wit(header={"typ": "wimse-exec+jwt"})),
         "wit.typ_invalid"),
    Case("typ JWT", _wit(lambda f: f.wit(header={"typ": "JWT"})), "wit.typ_invalid"),
    Case("no typ", _wit(lambda f: f.wit(header={"typ": DROP})), "wit.typ_invalid"),
    Case("a valid WPT in the WIT header",
         _wit(lambda f: f.wpt("http://b.example/context")), "wit.typ_invalid"),
    Case("a valid ECT in the WIT header", _wit(lambda f: f.ect()), "wit.typ_invalid"),
    Case("jku pointing elsewhere",
         _wit(lambda f: f.wit(header={"jku": "https://evil.example/jwks.json"})),
         "wit.header_forbidden"),
    Case("x5u pointing elsewhere",
         _wit(lambda f: f.wit(header={"x5u": "https://evil.example/cert.pem"})),
         "wit.header_forbidden"),
    Case("embedded jwk, signed by that key",
         _wit(lambda f: f.wit(header={"jwk": dict(f.stranger.public.jwk), "kid": DROP},
                              signer=f.stranger)),
         "wit.header_forbidden"),
    Case("x5c chain", _wit(lambda f: f.wit(header={"x5c": ["MIIBIjANBgkqhkiG9w0BAQEFAAOC"]})),
         "wit.header_forbidden"),
    Case("crit extension", _wit(lambda f: f.wit(header={"crit": ["exp"], "exp": 1})),
         "wit.header_forbidden"),
    Case("unknown kid", _wit(lambda f: f.wit(header={"kid": "no-such-key"})),
         "wit.unknown_kid"),
    Case("kid is a number", _wit(lambda f: f.wit(header={"kid": 7})), "wit.malformed"),
    Case("issuer's kid, signed by a stranger", _wit(lambda f: f.wit(signer=f.stranger)),
         "wit.bad_signature"),
    Case("org A subject signed by org B's issuer",
         _wit(lambda f: f.wit(header=f.wit_header("b"), signer=f.issuer_of("b"))),
         "wit.unknown_kid"),
    Case("org A subject signed by org B's issuer, no kid",
         _wit(lambda f: f.wit(header=f.wit_header("b") | {"kid": DROP},
                              signer=f.issuer_of("b"))),
         "wit.alg_not_allowed"),
    Case("signature altered", _wit(lambda f: flip_char(f.mesh["a"].wit, -20)),
         "wit.bad_signature"),
    Case("lookalike trust domain",
         _wit(lambda f: f.wit(claims={"sub": "spiffe://org-a.example.evil/agent/a"})),
         "wit.untrusted_domain"),
    Case("subject with userinfo",
         _wit(lambda f: f.wit(claims={"sub": "spiffe://org-a.example@evil.example/agent/a"})),
         "wit.invalid_sub"),
    Case("subject with a port",
         _wit(lambda f: f.wit(claims={"sub": "spiffe://org-a.example:8443/agent/a"})),
         "wit.invalid_sub"),
    Case("subject is a number", _wit(lambda f: f.wit(claims={"sub": 42})), "wit.invalid_sub"),
    Case("expired beyond the leeway", _wit(lambda f: f.wit(claims={"exp": NOW - 60})),
         "wit.expired"),
    Case("exp is a string", _wit(lambda f: f.wit(claims={"exp": str(NOW + 3600)})),
         "wit.claims_invalid"),
    Case("exp is true", _wit(lambda f: f.wit(claims={"exp": True})), "wit.claims_invalid"),
    Case("exp is NaN", _wit(lambda f: f.wit(claims={"exp": float("nan")})),
         "wit.claims_invalid"),
    Case("no exp", _wit(lambda f: f.wit(claims={"exp": DROP})), "wit.claims_invalid"),
    Case("nbf is a string", _wit(lambda f: f.wit(claims={"nbf": str(NOW)})),
         "wit.claims_invalid"),
    Case("no cnf", _wit(lambda f: f.wit(claims={"cnf": DROP})), "wit.cnf_invalid"),
    Case("cnf.jwk without alg, and a curve that implies none",
         _wit(lambda f: f.wit(claims=_cnf(f, alg=None, crv="X448"))), "wit.cnf_invalid"),
    Case("cnf.jwk with its private part",
         _wit(lambda f: f.wit(claims=_cnf(f, d=_private_d(f)))), "wit.cnf_invalid"),
    Case("cnf.jwk symmetric",
         _wit(lambda f: f.wit(claims={"cnf": {"jwk": {"kty": "oct", "k": "c2VjcmV0",
                                                       "alg": "HS256"}}})),
         "wit.cnf_invalid"),
    Case("cnf.jwk alg none", _wit(lambda f: f.wit(claims=_cnf(f, alg="none"))),
         "wit.cnf_invalid"),
    Case("cnf.jwk alg of another key type", _wit(lambda f: f.wit(claims=_cnf(f, alg="EdDSA"))),
         "wit.cnf_invalid"),
    Case("cnf.jwk point off the curve", _wit(lambda f: f.wit(claims=_off_curve(f))),
         "wit.cnf_invalid"),
    Case("payload is a JSON array", _wit(lambda f: f.wit(claims=b"[1,2,3]")), "wit.malformed"),
    Case("payload names sub twice",
         _wit(lambda f: f.wit(claims=b'{"sub":"spiffe://org-a.example/agent/a","exp":1800003600,'
                                     b'"sub":"spiffe://org-a.example/agent/c"}')),
         "wit.malformed"),
    Case("header is a JSON string", _wit(lambda f: f.wit(header=b'"wit+jwt"')), "wit.malformed"),
    Case("signature segment cut off",
         _wit(lambda f: f.mesh["a"].wit[: f.mesh["a"].wit.rindex(".") + 1]), "wit.malformed"),
    Case("base64 padding", _wit(lambda f: f.mesh["a"].wit + "=="), "wit.malformed"),
    Case("a character outside base64url",
         _wit(lambda f: f.mesh["a"].wit[:30] + "*" + f.mesh["a"].wit[31:]), "wit.malformed"),
    Case("five segments", _wit(_five_segments), "wit.malformed"),
    Case("over 16 KiB", _wit(lambda f: f.wit(claims={"pad": "x" * 17_000})), "wit.too_large"),
    Case("non-ASCII octets",
         _wit(lambda f: f.mesh["a"].wit[:40].encode() + "\u00e9\u00ff".encode("latin-1")
              + f.mesh["a"].wit[42:].encode()),
         "wit.malformed"),
    Case("two WIT header lines", _two_wits, "wit.duplicate"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_hostile_wit(hostile_stack: Stack, forger: Forger, case: Case) -> None:
    run_attack(hostile_stack, forger, case)

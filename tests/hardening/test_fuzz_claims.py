"""Properly signed tokens with hostile contents, against both in-process middlewares.

One token of a valid request gets 1 to 4 edits of its JOSE header or its claims: a member
set to an arbitrary JSON value (or a plausible wrong one: another claim's value, a time at
an edge, a UUID, a workload identifier) or removed. It is then signed with the key that
should sign it, and the WPT is bound to it, so every edit reaches the checks behind the
signature.

The oracle: never a 5xx; and whatever is accepted satisfies the profile's rules as checked
here independently (``acceptable``). Edits the profile allows (an extra claim, another
action name) may be accepted.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ect_middleware.tokens.encoding import sha256_b64url

from ..support.clock import NOW
from ..support.mesh import Mesh
from ._fuzzing import ects_in, raw, share, target
from ._hostile import DROP, Forger, forge

HEADER_NAMES = ["alg", "typ", "kid", "jku", "x5u", "jwk", "crit", "b64", "zip", "cty", "x"]
CLAIM_NAMES = {
    "wit": ["sub", "exp", "iat", "nbf", "jti", "iss", "cnf", "aud", "x"],
    "wpt": ["aud", "exp", "iat", "nbf", "jti", "wth", "ath", "tth", "oth", "x"],
    "ect": ["iss", "aud", "iat", "exp", "nbf", "jti", "exec_act", "par", "wid", "inp_hash",
            "out_hash", "ext", "pol", "pol_decision", "pol_enforcer", "x"],
}  # fmt: skip
UUID_RE = re.compile(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
plausible = st.sampled_from(
    [NOW, NOW - 61, NOW + 61, NOW + 59, NOW + 3600, 0, -1, 2**53, 1e308, True, "", "x" * 3000,
     "ES256", "EdDSA", "Ed25519", "none", "HS256", "RS256", "wit+jwt", "wpt+jwt",
     "wimse-exec+jwt", "exec+jwt", "application/wimse-exec+jwt", "JWT",
     str(uuid.UUID(int=7)), [str(uuid.UUID(int=7))], "spiffe://org-b.example/agent/b",
     "spiffe://org-b.example/agent/mallory", ["spiffe://org-b.example/agent/b"],
     "http://testserver/context", {"execution-context": "x"}, {}, [], ["exp"], {"a": {"b": {}}}]
)  # fmt: skip
edits = st.lists(
    st.tuples(
        st.sampled_from(["header", "claims"]),
        st.integers(min_value=0, max_value=100),
        st.just(DROP) | plausible | json_values,
    ),
    min_size=1,
    max_size=4,
)


def edited(
    base: dict[str, Any], names: list[str], changes: list[tuple[int, Any]]
) -> dict[str, Any]:
    result = dict(base)
    for index, value in changes:
        name = names[index % len(names)]
        if value is DROP:
            result.pop(name, None)
        else:
            result[name] = value
    return result


@pytest.mark.parametrize("driver", ["wsgi", "asgi"])
def test_signed_hostile_contents(driver: str, hostile_mesh: Mesh) -> None:
    seen = 0
    with target(driver, hostile_mesh) as t:
        f = t.forger

        @share(0.25 / 2)
        @given(kind=st.sampled_from(["wit", "wpt", "ect"]), changes=edits)
        def run(kind: str, changes: list[tuple[str, int, Any]]) -> None:
            nonlocal seen
            seen += 1
            caller = f.mesh[t.caller]
            parts = {
                "wit": (f.wit_header(t.caller), f.wit_claims(t.caller), f.issuer_of(t.caller)),
                "ect": (
                    {"alg": caller.key.alg, "typ": "wimse-exec+jwt", "kid": caller.key.kid},
                    f.ect_claims(t.caller),
                    caller.key,
                ),
            }
            on_header = [(i, v) for where, i, v in changes if where == "header"]
            on_claims = [(i, v) for where, i, v in changes if where == "claims"]
            header, claims, key = parts.get(kind, ({}, {}, caller.key))
            header = edited(header, HEADER_NAMES, on_header)
            claims = edited(claims, CLAIM_NAMES[kind], on_claims)
            wit, ect = caller.wit, f.ect(t.caller)
            if kind == "wit":
                wit = forge(header, claims, key)
            if kind == "ect":
                ect = forge(header, claims, key)
            wpt_header = {"alg": caller.key.alg, "typ": "wpt+jwt"}
            wpt_claims = f.wpt_claims(t.url, caller=t.caller, wit=wit, ects=ect)
            if kind == "wpt":
                header = wpt_header = edited(wpt_header, HEADER_NAMES, on_header)
                wpt_claims = edited(wpt_claims, CLAIM_NAMES["wpt"], on_claims)
            wpt = forge(wpt_header, wpt_claims, caller.key)
            headers = raw([
                ("Workload-Identity-Token", wit),
                ("Workload-Proof-Token", wpt),
                ("Execution-Context", ect),
            ])  # fmt: skip
            status, _ = t.call(headers)
            if status == 200:
                assert acceptable(f, t.caller, t.url, kind, header, claims, wit, ect, wpt_claims)
                t.accepted_ects += len(ects_in(headers))

        run()
        t.check_ledger()
    assert seen >= share(0.25 / 2).max_examples


def _audience_names(aud: object, url: str) -> bool:
    """RFC 7519 §4.1.3: one string, or a non-empty array of strings; one names the target."""
    if isinstance(aud, str):
        return aud == url
    return isinstance(aud, list) and all(isinstance(a, str) and a for a in aud) and url in aud


def acceptable(
    f: Forger,
    caller: str,
    url: str,
    kind: str,
    header: dict[str, Any],
    claims: dict[str, Any],
    wit: str,
    ect: str,
    wpt_claims: dict[str, Any],
) -> bool:
    """The profile's rules for the edited token, checked without the library's code."""
    wl = f.mesh[caller]
    forbidden = {"jku", "x5u", "jwk", "x5c", "crit", "b64", "zip"}
    if forbidden & header.keys() or ("kid" in header and not isinstance(header["kid"], str)):
        return False
    if kind == "wpt":
        claims = wpt_claims
        return (
            header.get("alg") == wl.key.alg
            and str(header.get("typ")).lower() in ("wpt+jwt", "application/wpt+jwt")
            and _audience_names(claims.get("aud"), url)
            and _time(claims.get("exp"), lambda e: e + 60 > NOW and e <= NOW + 360)
            and claims.get("wth") == sha256_b64url(wit)
            and isinstance(claims.get("jti"), str)
            and bool(claims["jti"])
            and "ath" not in claims
            and "tth" not in claims
            and claims.get("oth", {}) in ({}, {"execution-context": sha256_b64url(ect)})
            and _nbf(claims)
        )
    if kind == "wit":
        issuer = f.issuer_of(caller)
        cnf = claims.get("cnf")
        return (
            header.get("alg") in ("EdDSA", "Ed25519")
            and header.get("kid") in (None, issuer.kid)
            and str(header.get("typ")).lower() in ("wit+jwt", "application/wit+jwt")
            and claims.get("sub") == wl.id  # another subject cannot match the ECT's iss
            and _time(claims.get("exp"), lambda e: e + 60 > NOW)
            and isinstance(cnf, dict)
            and isinstance(cnf.get("jwk"), dict)
            and cnf["jwk"].get("x") == wl.key.public.jwk["x"]
            and cnf["jwk"].get("alg", wl.key.public.jwk["alg"]) == wl.key.alg
            and "d" not in cnf["jwk"]
            and _nbf(claims)
        )
    aud = claims.get("aud")
    auds = [aud] if isinstance(aud, str) else aud
    par = claims.get("par")
    ext = claims.get("ext")
    return (
        header.get("alg") == wl.key.alg
        and str(header.get("typ")).lower()
        in ("wimse-exec+jwt", "application/wimse-exec+jwt", "exec+jwt", "application/exec+jwt")
        and claims.get("iss") == wl.id
        and isinstance(auds, list)
        and f.server in auds
        and all(isinstance(a, str) for a in auds)
        and _time(claims.get("iat"), lambda i: i <= NOW + 60)
        and _time(claims.get("exp"), lambda e: e + 60 > NOW)
        and _uuid(claims.get("jti"))
        and ("wid" not in claims or _uuid(claims["wid"]))
        and isinstance(par, list)
        and len(par) <= 256
        and all(_uuid(p) for p in par)
        and len(set(par)) == len(par)
        and isinstance(claims.get("exec_act"), str)
        and bool(claims["exec_act"])
        and (ext is None or isinstance(ext, dict))
        and ("pol" in claims) == ("pol_decision" in claims)
        and _nbf(claims)
    )


def _time(value: object, rule: Callable[[float], bool]) -> bool:
    """A NumericDate (a finite JSON number, not a boolean) that satisfies ``rule``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return math.isfinite(value) and 0 <= value < 2**53 and rule(value)


def _nbf(claims: dict[str, Any]) -> bool:
    return "nbf" not in claims or _time(claims["nbf"], lambda n: n <= NOW + 60)


def _uuid(value: object) -> bool:
    return isinstance(value, str) and UUID_RE.fullmatch(value) is not None

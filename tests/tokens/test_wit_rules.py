"""PROFILE §3: one negative test (at least) per WIT verification rule, with its exact code."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest

from ect_middleware.tokens.encoding import b64url_encode
from ect_middleware.tokens.keys import generate_signing_key
from ect_middleware.tokens.trust import TrustBundle
from ect_middleware.tokens.wit import WITVerifier

from ..support.clock import NOW, fixed
from ..support.tokens import (
    A_DOMAIN,
    A_ID,
    DROP,
    LIMITS,
    edit,
    forge,
    rejected,
    segment,
    wit_claims,
    wit_header,
    world,
)

W = world("ES256")


def verify(token: str, at: float = NOW) -> object:
    return W.verifier(at).verify(token)


def signed(header: dict[str, Any] | None = None, claims: dict[str, Any] | None = None) -> str:
    return forge(header or wit_header(W), claims or wit_claims(W), W.issuer)


def test_valid_wit_verifies() -> None:
    verified = W.verified
    assert verified.sub == A_ID
    assert verified.exp == NOW + 3600
    assert verified.cnf.jwk == W.workload.public.jwk


@pytest.mark.parametrize("typ", ["wit+jwt", "application/wit+jwt", "Application/WIT+JWT"])
def test_accepted_typ_values(typ: str) -> None:
    assert W.verifier().verify(signed(edit(wit_header(W), typ=typ))).sub == A_ID


@pytest.mark.parametrize("typ", [DROP, "JWT", "wpt+jwt", "wimse-exec+jwt", "wit", 1])
def test_typ_invalid(typ: object) -> None:
    with rejected("wit.typ_invalid"):
        verify(signed(edit(wit_header(W), typ=typ)))


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "HS256", "HS512", "PS256", DROP, 256])
def test_alg_not_allowed(alg: object) -> None:
    with rejected("wit.alg_not_allowed"):
        verify(signed(edit(wit_header(W), alg=alg)))


def test_unsecured_wit_without_signature_is_malformed() -> None:
    token = f"{segment(edit(wit_header(W), alg='none'))}.{segment(wit_claims(W))}."
    with rejected("wit.malformed"):
        verify(token)


def test_hs256_with_the_issuer_public_key_as_secret_cve_2024_33663() -> None:
    """The classic confusion: HMAC keyed with the PEM of the public key the verifier holds."""
    pem = W.issuer.public.jose_key.to_pem()
    signing_input = f"{segment(edit(wit_header(W), alg='HS256'))}.{segment(wit_claims(W))}"
    mac = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    with rejected("wit.alg_not_allowed"):
        verify(f"{signing_input}.{b64url_encode(mac)}")


def test_alg_must_match_the_selected_issuer_key() -> None:
    es384 = generate_signing_key("ES384", kid=W.issuer.kid)
    with rejected("wit.alg_not_allowed"):
        verify(forge(edit(wit_header(W), alg="ES384"), wit_claims(W), es384))


@pytest.mark.parametrize("name", ["jku", "x5u", "jwk", "x5c", "x5t", "crit", "b64", "zip"])
def test_header_forbidden(name: str) -> None:
    values = {"jwk": dict(W.workload.public.jwk), "crit": ["exp"], "b64": False}
    header = edit(wit_header(W), **{name: values.get(name, "https://evil.example/keys")})
    with rejected("wit.header_forbidden"):
        verify(signed(header))


def test_kid_must_be_a_string() -> None:
    with rejected("wit.malformed"):
        verify(signed(edit(wit_header(W), kid=7)))


def test_untrusted_domain() -> None:
    claims = edit(wit_claims(W), sub="spiffe://org-c.example/agent/a")
    with rejected("wit.untrusted_domain"):
        verify(signed(claims=claims))


def test_domain_is_the_whole_origin_not_a_prefix() -> None:
    claims = edit(wit_claims(W), sub="spiffe://org-a.example.evil/agent/a")
    with rejected("wit.untrusted_domain"):
        verify(signed(claims=claims))


def test_unknown_kid() -> None:
    with rejected("wit.unknown_kid"):
        verify(signed(edit(wit_header(W), kid="not-the-issuer")))


def test_no_kid_with_one_key_in_the_domain_is_accepted() -> None:
    assert W.verifier().verify(signed(edit(wit_header(W), kid=DROP))).sub == A_ID


def test_no_kid_with_two_keys_in_the_domain_is_unknown_kid() -> None:
    second = generate_signing_key("ES256")
    bundle = TrustBundle({A_DOMAIN: (W.issuer.public, second.public)})
    verifier = WITVerifier(lambda: bundle, LIMITS, fixed(NOW))
    with rejected("wit.unknown_kid"):
        verifier.verify(signed(edit(wit_header(W), kid=DROP)))


def test_bad_signature_from_a_key_that_claims_the_issuer_kid() -> None:
    impostor = generate_signing_key("ES256")
    with rejected("wit.bad_signature"):
        verify(forge(wit_header(W), wit_claims(W), impostor))


def test_embedded_jwk_is_never_used_to_verify() -> None:
    impostor = generate_signing_key("ES256")
    header = edit(wit_header(W), jwk=dict(impostor.public.jwk))
    with rejected("wit.header_forbidden"):
        verify(forge(header, wit_claims(W), impostor))


@pytest.mark.parametrize("at", [NOW + 3600, NOW + 3600 + LIMITS.leeway - 1])
def test_exp_within_leeway_is_accepted(at: int) -> None:
    """Accepted while now < exp + leeway (exp is NOW + 3600)."""
    assert W.verifier(at).verify(W.wit).sub == A_ID


@pytest.mark.parametrize("delta", [0, 1])
def test_expired_at_and_after_the_leeway_boundary(delta: int) -> None:
    with rejected("wit.expired"):
        verify(W.wit, at=NOW + 3600 + LIMITS.leeway + delta)


@pytest.mark.parametrize(
    "sub",
    [
        DROP,
        7,
        "",
        "org-a.example/agent/a",
        "spiffe://",
        "spiffe://org-a.example:8443/agent/a",
        "spiffe://user@org-a.example/agent/a",
        "spiffe://org-a.example/agent/a?x=1",
        "spiffe://org-a.example/agent/a#frag",
        "spiffe://org-a.example/agent a",
        "spiffe://org-a.example/" + "a" * 2048,
    ],
)
def test_invalid_sub(sub: object) -> None:
    with rejected("wit.invalid_sub"):
        verify(signed(claims=edit(wit_claims(W), sub=sub)))


@pytest.mark.parametrize("exp", [DROP, "1800003600", True, None, -1, 2**53, 1e300])
def test_exp_must_be_a_numeric_date(exp: object) -> None:
    with rejected("wit.claims_invalid"):
        verify(signed(claims=edit(wit_claims(W), exp=exp)))


def _jwk(**changes: Any) -> dict[str, Any]:
    return edit(W.workload.public.jwk, **changes)


@pytest.mark.parametrize(
    "cnf",
    [
        pytest.param(DROP, id="no cnf"),
        pytest.param("key", id="cnf not an object"),
        pytest.param({}, id="no jwk"),
        pytest.param({"jwk": "key"}, id="jwk not an object"),
        pytest.param({"jwk": _jwk(alg=DROP, crv="P-521")}, id="no alg, none implied"),
        pytest.param({"jwk": _jwk(alg="none")}, id="alg none"),
        pytest.param({"jwk": _jwk(alg="HS256")}, id="alg HS256"),
        pytest.param({"jwk": _jwk(alg="ES384")}, id="alg does not fit the curve"),
        pytest.param({"jwk": _jwk(alg="EdDSA")}, id="alg does not fit the key type"),
        pytest.param({"jwk": W.workload.to_private_jwk()}, id="private part"),
        pytest.param({"jwk": {"kty": "oct", "k": "c2VjcmV0", "alg": "HS256"}}, id="symmetric"),
        pytest.param({"jwk": {"kty": "oct", "k": "c2VjcmV0", "alg": "ES256"}}, id="oct as ES256"),
        pytest.param({"jwk": _jwk(x=_jwk()["y"])}, id="point not on the curve"),
        pytest.param({"jwk": _jwk(kid=5)}, id="kid not a string"),
    ],
)
def test_cnf_invalid(cnf: object) -> None:
    with rejected("wit.cnf_invalid"):
        verify(signed(claims=edit(wit_claims(W), cnf=cnf)))


def test_cnf_with_ed25519_key_is_kept_bound_to_its_alg() -> None:
    ed = world("EdDSA").workload
    verified = W.verifier().verify(signed(claims=edit(wit_claims(W), cnf={"jwk": ed.public.jwk})))
    assert verified.cnf.alg == "EdDSA"
    assert verified.cnf.thumbprint == ed.public.thumbprint

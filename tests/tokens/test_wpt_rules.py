"""PROFILE §4: one negative test (at least) per WPT verification rule, with its exact code."""

from __future__ import annotations

from typing import Any

import pytest

from ect_middleware.tokens.encoding import sha256_b64url
from ect_middleware.tokens.keys import generate_signing_key
from ect_middleware.tokens.wpt import Bindings, VerifiedWPT, mint_wpt, verify_wpt

from ..support.clock import NOW, fixed
from ..support.tokens import (
    B_AUD,
    B_URL,
    DROP,
    LIMITS,
    edit,
    forge,
    rejected,
    world,
    wpt_claims,
    wpt_header,
)

W = world("ES256")
ED = world("EdDSA")
EC_HEADER = "eyJhbGciOi.eyJpc3MiOi.c2ln, eyJhbGciOj.eyJpc3Mi.c2lu"
BEARER = "opaque-access-token"
TXN = "eyJ0eXAiOiJ0eG4.eyJ0eG4iOiIxIn0.c2ln"


def verify(
    token: str,
    bindings: Bindings | None = None,
    at: float = NOW,
    audiences: tuple[str, ...] = (B_AUD,),
    *,
    require_ect_binding: bool = False,
) -> VerifiedWPT:
    return verify_wpt(
        token,
        W.verified,
        audiences,
        bindings or Bindings(),
        LIMITS,
        fixed(at),
        require_ect_binding=require_ect_binding,
    )


def signed(header: dict[str, Any] | None = None, claims: dict[str, Any] | None = None) -> str:
    return forge(header or wpt_header(W), claims or wpt_claims(W), W.workload)


def with_claims(**changes: Any) -> str:
    return signed(claims=edit(wpt_claims(W), **changes))


def test_minted_wpt_with_every_binding_verifies() -> None:
    bindings = Bindings(bearer=BEARER, txn_token=TXN, execution_context=EC_HEADER)
    token = mint_wpt(W.workload, W.wit, B_AUD, bindings, lifetime=60, clock=fixed(NOW))
    verified = verify(token, bindings)
    assert verified.exp == NOW + 60
    assert set(verified.claims) >= {"aud", "exp", "jti", "wth", "ath", "tth", "oth"}


@pytest.mark.parametrize("typ", ["wpt+jwt", "application/wpt+jwt", "WPT+JWT"])
def test_accepted_typ_values(typ: str) -> None:
    assert verify(signed(edit(wpt_header(W), typ=typ))).exp == NOW + 60


@pytest.mark.parametrize("typ", [DROP, "wit+jwt", "wimse-exec+jwt", "JWT", "dpop+jwt"])
def test_typ_invalid(typ: object) -> None:
    with rejected("wpt.typ_invalid"):
        verify(signed(edit(wpt_header(W), typ=typ)))


@pytest.mark.parametrize("alg", ["none", "HS256", DROP])
def test_alg_not_allowed(alg: object) -> None:
    with rejected("wpt.alg_not_allowed"):
        verify(signed(edit(wpt_header(W), alg=alg)))


@pytest.mark.parametrize("name", ["jku", "jwk", "x5u", "crit"])
def test_header_forbidden(name: str) -> None:
    with rejected("wpt.header_forbidden"):
        verify(signed(edit(wpt_header(W), **{name: "https://evil.example/k"})))


def test_alg_mismatch_with_the_wit_key() -> None:
    es384 = generate_signing_key("ES384")
    with rejected("wpt.alg_mismatch"):
        verify(forge(edit(wpt_header(W), alg="ES384"), wpt_claims(W), es384))


def test_alg_must_string_equal_cnf_alg_even_for_ed25519_aliases() -> None:
    """cnf.jwk.alg is EdDSA: a WPT saying Ed25519 (the same algorithm) is still refused."""
    header = {"alg": "Ed25519", "typ": "wpt+jwt"}
    token = forge(header, edit(wpt_claims(ED), wth=sha256_b64url(ED.wit)), ED.workload)
    with rejected("wpt.alg_mismatch"):
        verify_wpt(token, ED.verified, [B_AUD], Bindings(), LIMITS, fixed(NOW))


def test_bad_signature_by_another_workload() -> None:
    with rejected("wpt.bad_signature"):
        verify(forge(wpt_header(W), wpt_claims(W), W.other))


@pytest.mark.parametrize(
    "aud",
    [
        "https://c.example/tasks",
        B_AUD + "?next=1",
        B_AUD + "#x",
        B_AUD + "/",
        "http://b.example/tasks",
        "https://b.example:443/tasks",
        "https://B.example/tasks",
        B_URL + "/other",
        B_URL,
    ],
)
def test_audience_mismatch(aud: str) -> None:
    with rejected("wpt.audience_mismatch"):
        verify(with_claims(aud=aud))


def test_audience_is_one_of_the_configured_uris() -> None:
    other = "https://b.internal/tasks"
    assert verify(with_claims(aud=other), audiences=(B_AUD, other)).exp == NOW + 60


@pytest.mark.parametrize("aud", [[B_AUD], [B_URL + "/other", B_AUD]])
def test_audience_array_naming_the_target_is_accepted(aud: list[str]) -> None:
    assert verify(with_claims(aud=aud)).exp == NOW + 60


def test_audience_array_not_naming_the_target() -> None:
    with rejected("wpt.audience_mismatch"):
        verify(with_claims(aud=[B_URL + "/other", "https://b.example"]))


@pytest.mark.parametrize("aud", [DROP, [], [1], [B_AUD, 1], 1, ""])
def test_audience_must_be_a_string(aud: object) -> None:
    with rejected("wpt.claims_invalid"):
        verify(with_claims(aud=aud))


@pytest.mark.parametrize("at", [NOW + 60 + LIMITS.leeway, NOW + 60 + LIMITS.leeway + 1])
def test_expired(at: int) -> None:
    with rejected("wpt.expired"):
        verify(with_claims(exp=NOW + 60), at=at)


def test_accepted_one_second_before_the_leeway_runs_out() -> None:
    assert verify(with_claims(exp=NOW + 60), at=NOW + 60 + LIMITS.leeway - 1).exp == NOW + 60


def test_lifetime_exceeded() -> None:
    limit = NOW + LIMITS.wpt_max_lifetime + LIMITS.leeway
    assert verify(with_claims(exp=limit)).exp == limit
    with rejected("wpt.lifetime_exceeded"):
        verify(with_claims(exp=limit + 1))


@pytest.mark.parametrize("claim", ["exp", "jti", "wth"])
def test_required_claims(claim: str) -> None:
    with rejected("wpt.claims_invalid"):
        verify(with_claims(**{claim: DROP}))


@pytest.mark.parametrize(("claim", "value"), [("exp", "1800000060"), ("jti", 12), ("wth", 1)])
def test_claim_types(claim: str, value: object) -> None:
    with rejected("wpt.claims_invalid"):
        verify(with_claims(**{claim: value}))


@pytest.mark.parametrize(
    "wth",
    [
        sha256_b64url(W.other_wit),
        sha256_b64url(W.wit + " "),
        sha256_b64url(W.wit) + "=",
        sha256_b64url(W.wit.encode()).upper(),
    ],
)
def test_wth_mismatch(wth: str) -> None:
    with rejected("wpt.wth_mismatch"):
        verify(with_claims(wth=wth))


@pytest.mark.parametrize(
    ("claim", "bindings", "code"),
    [
        ("ath", Bindings(bearer=BEARER), "wpt.ath_mismatch"),
        ("tth", Bindings(txn_token=TXN), "wpt.tth_mismatch"),
    ],
)
class TestTokenBindings:
    def test_token_present_but_not_bound(self, claim: str, bindings: Bindings, code: str) -> None:
        with rejected(code):
            verify(signed(), bindings)

    def test_bound_to_another_token(self, claim: str, bindings: Bindings, code: str) -> None:
        with rejected(code):
            verify(with_claims(**{claim: sha256_b64url("another token")}), bindings)

    def test_bound_but_token_absent(self, claim: str, bindings: Bindings, code: str) -> None:
        value = BEARER if claim == "ath" else TXN
        with rejected(code):
            verify(with_claims(**{claim: sha256_b64url(value)}))

    def test_bound_to_this_token(self, claim: str, bindings: Bindings, code: str) -> None:
        value = BEARER if claim == "ath" else TXN
        assert verify(with_claims(**{claim: sha256_b64url(value)}), bindings).exp == NOW + 60


def test_ath_is_the_hash_of_the_token_value_only() -> None:
    bindings = Bindings(bearer=Bindings.bearer_from(f"Bearer {BEARER}"))
    with rejected("wpt.ath_mismatch"):
        verify(with_claims(ath=sha256_b64url(f"Bearer {BEARER}")), bindings)


def _oth(value: str) -> dict[str, str]:
    return {"execution-context": sha256_b64url(value)}


def test_oth_binds_the_execution_context_header() -> None:
    bindings = Bindings(execution_context=EC_HEADER)
    assert verify(with_claims(oth=_oth(EC_HEADER)), bindings).exp == NOW + 60


@pytest.mark.parametrize(
    ("oth", "header"),
    [
        pytest.param(_oth(EC_HEADER), None, id="bound, header absent"),
        pytest.param(_oth(EC_HEADER.split(",")[0]), EC_HEADER, id="only the first line bound"),
        pytest.param(_oth(EC_HEADER.replace(", ", ",")), EC_HEADER, id="other joining"),
        pytest.param({"execution-context": 7}, EC_HEADER, id="hash not a string"),
        pytest.param({"execution-context": None}, EC_HEADER, id="hash null"),
    ],
)
def test_oth_mismatch(oth: object, header: str | None) -> None:
    with rejected("wpt.oth_mismatch"):
        verify(with_claims(oth=oth), Bindings(execution_context=header))
    with rejected("wpt.oth_mismatch"):
        verify(with_claims(oth=oth), Bindings(execution_context=header), require_ect_binding=True)


@pytest.mark.parametrize("oth", [DROP, {}], ids=["no oth", "empty oth"])
def test_unbound_execution_context_is_accepted_by_default(oth: object) -> None:
    """The ECT draft never mentions oth: its implementations send ECTs unbound."""
    assert verify(with_claims(oth=oth), Bindings(execution_context=EC_HEADER)).exp == NOW + 60


@pytest.mark.parametrize("oth", [DROP, {}], ids=["no oth", "empty oth"])
def test_unbound_execution_context_refused_when_binding_is_required(oth: object) -> None:
    with rejected("wpt.oth_mismatch"):
        verify(
            with_claims(oth=oth),
            Bindings(execution_context=EC_HEADER),
            require_ect_binding=True,
        )


def test_required_binding_accepts_a_bound_header() -> None:
    bindings = Bindings(execution_context=EC_HEADER)
    token = with_claims(oth=_oth(EC_HEADER))
    assert verify(token, bindings, require_ect_binding=True).exp == NOW + 60


@pytest.mark.parametrize(
    "oth",
    [
        {"x-other-token": sha256_b64url("v")},
        {"Execution-Context": sha256_b64url(EC_HEADER)},
        _oth(EC_HEADER) | {"txn-token": sha256_b64url(TXN)},
    ],
)
def test_oth_unknown(oth: dict[str, str]) -> None:
    with rejected("wpt.oth_unknown"):
        verify(with_claims(oth=oth), Bindings(execution_context=EC_HEADER))


@pytest.mark.parametrize("oth", ["hash", [], None])
def test_oth_must_be_an_object(oth: object) -> None:
    with rejected("wpt.claims_invalid"):
        verify(with_claims(oth=oth))

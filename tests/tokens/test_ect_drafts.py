"""PROFILE §5.1: both ECT drafts on the wire, read into one model; claims given in both
spellings refused; unsigned (L1) ECTs recognised and refused with their own code."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from ect_middleware.tokens.ect import ECTClaims, Policy, mint_ect, verify_ect
from ect_middleware.tokens.encoding import b64url_encode
from ect_middleware.tokens.jws import read_header

from ..support.clock import NOW, fixed
from ..support.tokens import (
    A_ID,
    B_ID,
    DROP,
    LIMITS,
    ect_claims,
    ect_header,
    edit,
    forge,
    rejected,
    world,
)

W = world("ES256")
P1, P2 = str(uuid.uuid4()), str(uuid.uuid4())
POLICY = {"pol": "pii-filter", "pol_decision": "approved", "pol_enforcer": B_ID}


def verify(token: str) -> ECTClaims:
    return verify_ect(token, W.verified, (B_ID,), LIMITS, fixed(NOW))


def signed(claims: dict[str, Any], typ: str = "wimse-exec+jwt") -> str:
    return forge(edit(ect_header(W), typ=typ), claims, W.workload)


def draft_00(**changes: Any) -> dict[str, Any]:
    return edit(ect_claims(), par=[P1, P2], ext={"model": "m"}, **POLICY, **changes)


def draft_01(**changes: Any) -> dict[str, Any]:
    base = edit(ect_claims(), par=DROP, pred=[P1, P2], ect_ext={"model": "m", **POLICY})
    return edit(base, **changes)


@pytest.mark.parametrize("typ", ["wimse-exec+jwt", "exec+jwt", "application/exec+jwt"])
def test_both_drafts_read_into_one_model(typ: str) -> None:
    old, new = verify(signed(draft_00(), typ)), verify(signed(draft_01(), typ))
    assert (old.draft, new.draft) == ("00", "01")
    for claims in (old, new):
        assert claims.par == (P1, P2)
        assert claims.ext == {"model": "m"}
        assert claims.policy == Policy("pii-filter", "approved", B_ID)


def test_a_01_ect_with_only_a_policy_has_no_extension() -> None:
    claims = verify(signed(draft_01(ect_ext=dict(POLICY))))
    assert claims.ext is None
    assert claims.policy == Policy("pii-filter", "approved", B_ID)


def test_a_01_ect_without_extension_or_policy() -> None:
    claims = verify(signed(draft_01(ect_ext=DROP), "exec+jwt"))
    assert (claims.par, claims.ext, claims.policy) == ((P1, P2), None, None)


def test_the_token_is_kept_byte_for_byte() -> None:
    token = signed(draft_01())
    assert verify(token).token == token


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param(draft_01(par=[P1]), id="par and pred"),
        pytest.param(draft_00(ect_ext={"model": "m"}), id="ext and ect_ext"),
        pytest.param(draft_01(pol="other"), id="pol top-level and in ect_ext"),
        pytest.param(draft_01(pol_decision="rejected"), id="pol_decision in both places"),
    ],
)
def test_a_claim_in_both_spellings_is_refused(claims: dict[str, Any]) -> None:
    with rejected("ect.draft_conflict"):
        verify(signed(claims))


@pytest.mark.parametrize(
    ("claims", "code", "detail"),
    [
        (draft_01(pred=DROP, ect_ext={}), "ect.claims_invalid", "pred must be an array"),
        (draft_01(pred="p"), "ect.claims_invalid", "pred must be an array"),
        (draft_01(pred=["not-a-uuid"]), "ect.invalid_id", "par entries must be UUIDs"),
        (draft_01(ect_ext=[1]), "ect.claims_invalid", "ect_ext must be an object"),
        (draft_01(ect_ext={"pol_enforcer": B_ID}), "ect.claims_invalid", "pol_enforcer without"),
        (draft_01(ect_ext={"pol": "p"}), "ect.claims_invalid", "'pol_decision'"),
    ],
)
def test_01_claims_follow_the_same_rules(claims: dict[str, Any], code: str, detail: str) -> None:
    with rejected(code) as info:
        verify(signed(claims))
    assert detail in info.value.detail


def _unsecured(claims: dict[str, Any]) -> str:
    header = b64url_encode(json.dumps({"alg": "none", "typ": "exec+jwt"}).encode())
    return f"{header}.{b64url_encode(json.dumps(claims).encode())}."


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(json.dumps(draft_01()), id="plain JSON"),
        pytest.param(b64url_encode(json.dumps(draft_01()).encode()), id="base64url JSON"),
        pytest.param(_unsecured(draft_01()), id="unsecured JWT, alg none"),
    ],
)
def test_an_unsigned_l1_ect_is_refused_with_its_own_code(token: str) -> None:
    with rejected("ect.unsigned"):
        verify(token)


def _mint(draft: str, **extra: Any) -> ECTClaims:
    return mint_ect(
        W.workload,
        iss=A_ID,
        aud=B_ID,
        par=[P1],
        exec_act="summarize",
        wid=str(uuid.uuid4()),
        limits=LIMITS,
        clock=fixed(NOW),
        draft=draft,  # type: ignore[arg-type]
        **extra,
    )


def test_minting_01_writes_pred_ect_ext_and_exec_jwt() -> None:
    minted = _mint("01", ext={"model": "m"}, policy=Policy("p", "approved", B_ID))
    assert read_header(minted.token) == {"alg": "ES256", "typ": "exec+jwt", "kid": W.workload.kid}
    assert "par" not in minted.claims
    assert "ext" not in minted.claims
    assert "pol" not in minted.claims
    assert minted.claims["pred"] == [P1]
    assert minted.claims["ect_ext"] == {
        "model": "m",
        "pol": "p",
        "pol_decision": "approved",
        "pol_enforcer": B_ID,
    }
    again = verify(minted.token)
    assert (again.par, again.ext, again.policy) == (minted.par, minted.ext, minted.policy)
    assert again.ext == {"model": "m"}
    old = _mint("00", ext={"model": "m"}, policy=Policy("p", "approved", B_ID))
    assert read_header(old.token)["typ"] == "wimse-exec+jwt"
    assert (old.claims["par"], old.claims["pol"]) == ([P1], "p")
    assert (old.par, old.ext, old.policy) == (again.par, again.ext, again.policy)


def test_minting_01_refuses_an_extension_using_the_policy_names() -> None:
    with pytest.raises(ValueError, match="policy names"):
        _mint("01", ext={"pol": "mine"})

"""PROFILE §5 and §9: one negative test (at least) per ECT rule, with its exact code."""

from __future__ import annotations

import functools
import uuid
from typing import Any

import pytest

from ect_middleware.tokens import jws
from ect_middleware.tokens.ect import ECTClaims, Policy, mint_ect, verify_ect
from ect_middleware.tokens.encoding import sha256_b64url
from ect_middleware.tokens.keys import generate_signing_key

from ..support.clock import NOW, fixed
from ..support.tokens import (
    A2_ID,
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
UUID = "0f8fad5b-d9cb-469f-a165-70867728950e"


def verify(token: str, at: float = NOW, audiences: tuple[str, ...] = (B_ID,)) -> ECTClaims:
    return verify_ect(token, W.verified, audiences, LIMITS, fixed(at))


def signed(header: dict[str, Any] | None = None, claims: dict[str, Any] | None = None) -> str:
    return forge(header or ect_header(W), claims or ect_claims(), W.workload)


def with_claims(**changes: Any) -> str:
    return signed(claims=edit(ect_claims(), **changes))


def nested(depth: int) -> dict[str, Any]:
    """An object nested ``depth`` levels deep (``{}`` is depth 1)."""
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def test_minted_ect_with_every_claim_verifies() -> None:
    minted = mint_ect(
        W.workload,
        iss=A_ID,
        aud=[B_ID, "spiffe://org-c.example/agent/c"],
        par=[UUID],
        exec_act="summarize",
        wid=str(uuid.uuid4()),
        limits=LIMITS,
        clock=fixed(NOW),
        inp_hash=sha256_b64url(b"in"),
        out_hash=sha256_b64url(b"out"),
        ext={"model": "m", "tokens": 12},
        policy=Policy("pii-filter", "approved", B_ID),
    )
    verified = verify(minted.token)
    assert verified == minted
    assert verified.policy == Policy("pii-filter", "approved", B_ID)
    assert verified.exp == NOW + LIMITS.ect_lifetime


def test_minted_ext_is_what_receivers_read() -> None:
    """Python values that JSON writes differently (a tuple, an int key) are judged and
    returned as a receiver reads them, so the minted claims equal the verified ones."""
    minted = mint(ext={"pair": (1, 2), 7: "seven"})
    assert minted.ext == {"pair": [1, 2], "7": "seven"}
    assert verify(minted.token) == minted


@pytest.mark.parametrize(
    "typ", ["wimse-exec+jwt", "application/wimse-exec+jwt", "exec+jwt", "Exec+JWT"]
)
def test_accepted_typ_values(typ: str) -> None:
    assert verify(signed(edit(ect_header(W), typ=typ))).iss == A_ID


@pytest.mark.parametrize("typ", [DROP, "wit+jwt", "wpt+jwt", "JWT", "wimse-exec"])
def test_typ_invalid(typ: object) -> None:
    with rejected("ect.typ_invalid"):
        verify(signed(edit(ect_header(W), typ=typ)))


@pytest.mark.parametrize("alg", ["none", "HS256", "HS384", DROP])
def test_alg_not_allowed(alg: object) -> None:
    with rejected("ect.alg_not_allowed"):
        verify(signed(edit(ect_header(W), alg=alg)))


@pytest.mark.parametrize("name", ["jku", "x5u", "jwk", "crit"])
def test_header_forbidden(name: str) -> None:
    with rejected("ect.header_forbidden"):
        verify(signed(edit(ect_header(W), **{name: "https://evil.example/k"})))


def test_alg_mismatch_with_the_caller_key() -> None:
    es384 = generate_signing_key("ES384")
    with rejected("ect.alg_mismatch"):
        verify(forge(edit(ect_header(W), alg="ES384"), ect_claims(), es384))


def test_bad_signature_by_another_workloads_valid_key() -> None:
    assert W.verifier().verify(W.other_wit).sub == A2_ID  # a trusted workload...
    with rejected("ect.bad_signature"):  # ...cannot speak for A
        verify(forge(ect_header(W), ect_claims(), W.other))


@pytest.mark.parametrize("iss", [A2_ID, A_ID + "/", "spiffe://org-b.example/agent/a"])
def test_issuer_mismatch(iss: str) -> None:
    with rejected("ect.issuer_mismatch"):
        verify(with_claims(iss=iss))


@pytest.mark.parametrize(
    "aud", [A_ID, [A_ID, A2_ID], B_ID + "/x", "spiffe://org-b.example", B_ID.upper()]
)
def test_audience_mismatch(aud: object) -> None:
    with rejected("ect.audience_mismatch"):
        verify(with_claims(aud=aud))


def test_audience_array_containing_this_service() -> None:
    assert verify(with_claims(aud=[A2_ID, B_ID])).aud == (A2_ID, B_ID)


def test_no_configured_audience_accepts_nothing() -> None:
    with rejected("ect.audience_mismatch"):
        verify(signed(), audiences=())


@pytest.mark.parametrize("at", [NOW + 300 + LIMITS.leeway, NOW + 300 + LIMITS.leeway + 1])
def test_expired(at: int) -> None:
    with rejected("ect.expired"):
        verify(signed(), at=at)


def test_accepted_one_second_before_the_leeway_runs_out() -> None:
    assert verify(signed(), at=NOW + 300 + LIMITS.leeway - 1).exp == NOW + 300


def test_issued_in_future() -> None:
    assert verify(with_claims(iat=NOW + LIMITS.leeway)).iat == NOW + LIMITS.leeway
    with rejected("ect.issued_in_future"):
        verify(with_claims(iat=NOW + LIMITS.leeway + 1))


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"jti": "task-1"}, id="jti not a UUID"),
        pytest.param({"jti": uuid.UUID(UUID).hex}, id="jti without dashes"),
        pytest.param({"jti": "{" + UUID + "}"}, id="jti in braces"),
        pytest.param({"wid": "workflow-1"}, id="wid not a UUID"),
        pytest.param({"par": ["parent-1"]}, id="par entry not a UUID"),
        pytest.param({"par": [UUID, UUID[:-1]]}, id="second par entry not a UUID"),
        pytest.param({"par": [7]}, id="par entry a number"),
    ],
)
def test_invalid_id(changes: dict[str, Any]) -> None:
    with rejected("ect.invalid_id"):
        verify(with_claims(**changes))


def test_ext_size_limit() -> None:
    overhead = len('{"k":""}')
    fits = {"k": "x" * (LIMITS.ext_max_bytes - overhead)}
    assert verify(with_claims(ext=fits)).ext == fits
    with rejected("ect.ext_too_large"):
        verify(with_claims(ext={"k": "x" * (LIMITS.ext_max_bytes - overhead + 1)}))


def test_ext_size_counts_utf8_bytes() -> None:
    with rejected("ect.ext_too_large"):
        verify(with_claims(ext={"k": "é" * (LIMITS.ext_max_bytes // 2)}))


def test_ext_depth_limit() -> None:
    assert verify(with_claims(ext=nested(LIMITS.ext_max_depth))).ext is not None
    with rejected("ect.ext_too_deep"):
        verify(with_claims(ext=nested(LIMITS.ext_max_depth + 1)))


def test_ext_depth_counts_arrays() -> None:
    with rejected("ect.ext_too_deep"):
        verify(with_claims(ext={"a": [[[[{}]]]]}))


def test_ext_nested_far_within_the_size_limit_is_too_deep() -> None:
    """Deep nesting that still fits in 4096 bytes is refused, never a RecursionError."""
    with rejected("ect.ext_too_deep"):
        verify(with_claims(ext=nested(600)))


def test_too_many_parents() -> None:
    parents = [str(uuid.uuid4()) for _ in range(LIMITS.max_parents + 1)]
    assert len(verify(with_claims(par=parents[:-1])).par) == LIMITS.max_parents
    with rejected("dag.too_many_parents"):
        verify(with_claims(par=parents))


@pytest.mark.parametrize("claim", ["iss", "aud", "iat", "exp", "jti", "exec_act", "par"])
def test_required_claim_missing(claim: str) -> None:
    with rejected("ect.claims_invalid"):
        verify(with_claims(**{claim: DROP}))


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"iss": 7}, id="iss a number"),
        pytest.param({"aud": 7}, id="aud a number"),
        pytest.param({"aud": []}, id="aud empty"),
        pytest.param({"aud": [B_ID, 7]}, id="aud entry a number"),
        pytest.param({"iat": str(NOW)}, id="iat a string"),
        pytest.param({"exp": str(NOW + 300)}, id="exp a string"),
        pytest.param({"exp": True}, id="exp a boolean"),
        pytest.param({"jti": 7}, id="jti a number"),
        pytest.param({"exec_act": 7}, id="exec_act a number"),
        pytest.param({"exec_act": ""}, id="exec_act empty"),
        pytest.param({"exec_act": ["review"]}, id="exec_act an array"),
        pytest.param({"par": UUID}, id="par a string"),
        pytest.param({"par": [UUID, UUID]}, id="par repeated"),
        pytest.param({"wid": 7}, id="wid a number"),
        pytest.param({"inp_hash": "sha-256:abc"}, id="inp_hash with prefix"),
        pytest.param({"out_hash": sha256_b64url(b"x") + "="}, id="out_hash padded"),
        pytest.param({"out_hash": 7}, id="out_hash a number"),
        pytest.param({"ext": ["a"]}, id="ext an array"),
        pytest.param({"ext": "a"}, id="ext a string"),
        pytest.param({"pol": "pii-filter"}, id="pol without pol_decision"),
        pytest.param({"pol_decision": "approved"}, id="pol_decision without pol"),
        pytest.param({"pol_enforcer": B_ID}, id="pol_enforcer without pol"),
        pytest.param({"pol": 7, "pol_decision": "approved"}, id="pol a number"),
        pytest.param({"pol": "p", "pol_decision": True}, id="pol_decision a boolean"),
        pytest.param(
            {"pol": "p", "pol_decision": "approved", "pol_enforcer": "b"},
            id="pol_enforcer not a workload id",
        ),
    ],
)
def test_claims_invalid(changes: dict[str, Any]) -> None:
    with rejected("ect.claims_invalid"):
        verify(with_claims(**changes))


def test_task_cannot_be_its_own_parent() -> None:
    claims = ect_claims()
    with rejected("ect.claims_invalid"):
        verify(signed(claims=edit(claims, par=[claims["jti"]])))


def mint(**changes: Any) -> ECTClaims:
    arguments: dict[str, Any] = {
        "iss": A_ID,
        "aud": B_ID,
        "par": [UUID],
        "exec_act": "review",
        "wid": None,
        "limits": LIMITS,
        "clock": fixed(NOW),
    }
    return mint_ect(W.workload, **(arguments | changes))


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        pytest.param({"iss": "a"}, "ect.claims_invalid", id="iss not a workload id"),
        pytest.param({"aud": []}, "ect.claims_invalid", id="no audience"),
        pytest.param({"exec_act": ""}, "ect.claims_invalid", id="exec_act empty"),
        pytest.param({"jti": "task-1"}, "ect.invalid_id", id="jti not a UUID"),
        pytest.param({"wid": "workflow-1"}, "ect.invalid_id", id="wid not a UUID"),
        pytest.param({"par": [UUID, UUID]}, "ect.claims_invalid", id="par repeated"),
        pytest.param({"jti": UUID}, "ect.claims_invalid", id="its own parent"),
        pytest.param(
            {"par": [str(uuid.uuid4()) for _ in range(LIMITS.max_parents + 1)]},
            "dag.too_many_parents",
            id="too many parents",
        ),
        pytest.param({"inp_hash": "sha-256:abc"}, "ect.claims_invalid", id="inp_hash"),
        pytest.param({"ext": nested(LIMITS.ext_max_depth + 1)}, "ect.ext_too_deep", id="ext"),
        pytest.param(
            {"ext": {"t": functools.reduce(lambda v, _: (v,), range(LIMITS.ext_max_depth), ())}},
            "ect.ext_too_deep",
            id="ext of nested tuples",
        ),
        pytest.param(
            {"policy": Policy("p", "approved", "b")},
            "ect.claims_invalid",
            id="pol_enforcer not a workload id",
        ),
    ],
)
def test_mint_refuses_what_receivers_reject_before_signing(
    changes: dict[str, Any], code: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def never(*args: object, **kwargs: object) -> str:
        raise AssertionError("signed")

    monkeypatch.setattr(jws, "sign", never)
    with rejected(code):
        mint(**changes)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param({"exec_act": "\ud800"}, "surrogates not allowed", id="lone surrogate"),
        pytest.param({"ext": {"score": float("nan")}}, "not JSON compliant", id="NaN"),
        pytest.param({"ext": {1: "a", "1": "b"}}, "duplicate member name", id="keys 1 and '1'"),
        pytest.param({"aud": [B_ID] * 1000}, "exceeds 16384 bytes", id="over the size bound"),
    ],
)
def test_mint_raises_instead_of_writing_a_token_receivers_reject(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        mint(**changes)

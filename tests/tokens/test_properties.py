"""Property-based checks: mint -> verify round trips, and no mutation is ever accepted."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ect_middleware.errors import ECTError
from ect_middleware.tokens.ect import Policy, mint_ect, verify_ect
from ect_middleware.tokens.wpt import Bindings, mint_wpt, verify_wpt

from ..support.clock import clock
from ..support.tokens import A_ID, B_AUD, B_ID, LIMITS, rejected, world

ALGS = ("ES256", "EdDSA")
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
keys = st.text(max_size=12)


def json_values(depth: int) -> st.SearchStrategy[Any]:
    """JSON values nesting at most ``depth`` levels of arrays and objects."""
    if depth == 0:
        return leaves
    inner = json_values(depth - 1)
    return leaves | st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3)


#: Objects within the default ext depth (the object itself is one level).
ext_objects = st.dictionaries(keys, json_values(LIMITS.ext_max_depth - 1), max_size=4)
workload_ids = st.from_regex(r"spiffe://org-[a-z]{1,8}\.example/[a-z0-9/._-]{1,24}", fullmatch=True)


def ext_size(ext: dict[str, Any]) -> int:
    return len(json.dumps(ext, separators=(",", ":"), ensure_ascii=False).encode())


@SETTINGS
@given(
    alg=st.sampled_from(ALGS),
    exec_act=st.text(min_size=1, max_size=200),
    par=st.lists(st.uuids().map(str), max_size=4, unique=True),
    wid=st.none() | st.uuids().map(str),
    other_audiences=st.lists(workload_ids, max_size=3),
    ext=st.none() | ext_objects,
    policy=st.none()
    | st.builds(
        Policy,
        st.text(min_size=1, max_size=40),
        st.sampled_from(["approved", "rejected", "escalated"]),
        st.none() | workload_ids,
    ),
)
def test_ect_round_trip(
    alg: str,
    exec_act: str,
    par: list[str],
    wid: str | None,
    other_audiences: list[str],
    ext: dict[str, Any] | None,
    policy: Policy | None,
) -> None:
    assume(ext is None or ext_size(ext) <= LIMITS.ext_max_bytes)
    w = world(alg)
    minted = mint_ect(
        w.workload,
        iss=A_ID,
        aud=[*other_audiences, B_ID],
        par=par,
        exec_act=exec_act,
        wid=wid,
        limits=LIMITS,
        clock=clock,
        ext=ext,
        policy=policy,
    )
    if len(minted.token) > LIMITS.max_token_bytes:  # escaped non-ASCII text is long
        with rejected("ect.too_large"):
            verify_ect(minted.token, w.verified, [B_ID], LIMITS, clock)
        return
    verified = verify_ect(minted.token, w.verified, [B_ID], LIMITS, clock)
    assert verified == minted
    assert (verified.exec_act, list(verified.par), verified.ext) == (exec_act, par, ext)
    assert verified.policy == policy


@SETTINGS
@given(
    alg=st.sampled_from(ALGS),
    bearer=st.none() | st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1),
    execution_context=st.none() | st.text(min_size=1, max_size=200).map(str.strip).filter(bool),
)
def test_wpt_round_trip(alg: str, bearer: str | None, execution_context: str | None) -> None:
    w = world(alg)
    bindings = Bindings(bearer=bearer, execution_context=execution_context)
    wpt = mint_wpt(w.workload, w.wit, B_AUD, bindings, lifetime=60, clock=clock)
    verified = verify_wpt(wpt, w.verified, [B_AUD], bindings, LIMITS, clock)
    assert verified.claims["wth"] == w.verified.wth


def _valid_tokens() -> dict[tuple[str, str], str]:
    tokens: dict[tuple[str, str], str] = {}
    for alg in ALGS:
        w = world(alg)
        tokens["wit", alg] = w.wit
        tokens["wpt", alg] = mint_wpt(
            w.workload, w.wit, B_AUD, Bindings(), lifetime=60, clock=clock
        )
        tokens["ect", alg] = mint_ect(
            w.workload,
            iss=A_ID,
            aud=B_ID,
            par=[],
            exec_act="act",
            wid=None,
            limits=LIMITS,
            clock=clock,
        ).token
    return tokens


VALID = _valid_tokens()
replacements = st.sampled_from(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ "
) | st.integers(0, 255).map(chr)


def verify(kind: str, alg: str, token: str) -> object:
    w = world(alg)
    if kind == "wit":
        return w.verifier().verify(token)
    if kind == "wpt":
        return verify_wpt(token, w.verified, [B_AUD], Bindings(), LIMITS, clock)
    return verify_ect(token, w.verified, [B_ID], LIMITS, clock)


@settings(max_examples=600, deadline=None)
@given(
    which=st.sampled_from(sorted(VALID)),
    operation=st.sampled_from(["replace", "delete", "insert"]),
    position=st.floats(min_value=0, max_value=1, exclude_max=True),
    char=replacements,
)
def test_any_single_byte_mutation_is_rejected_with_an_ect_error(
    which: tuple[str, str], operation: str, position: float, char: str
) -> None:
    token = VALID[which]
    i = int(position * len(token))
    if operation == "replace":
        assume(token[i] != char)
        mutated = token[:i] + char + token[i + 1 :]
    elif operation == "delete":
        mutated = token[:i] + token[i + 1 :]
    else:
        mutated = token[:i] + char + token[i:]
    assume(mutated != token)
    kind, alg = which
    with pytest.raises(ECTError) as info:  # any other exception type fails the test too
        verify(kind, alg, mutated)
    assert info.value.code.startswith(f"{kind}.")


def test_the_unmutated_tokens_verify() -> None:
    for (kind, alg), token in VALID.items():
        assert verify(kind, alg, token) is not None

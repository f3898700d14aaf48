"""PROFILE §3: a WIT's optional ``aud`` (a string or an array) must name this service."""

from __future__ import annotations

from typing import Any

import pytest

from ect_middleware.tokens.wit import WITVerifier

from ..support.clock import NOW, fixed
from ..support.tokens import (
    B_ID,
    B_URL,
    LIMITS,
    edit,
    forge,
    rejected,
    wit_claims,
    wit_header,
    world,
)

W = world("ES256")
ME = frozenset({B_ID, B_URL})


def verifier(audiences: frozenset[str] | None = ME) -> WITVerifier:
    return WITVerifier(lambda: W.bundle, LIMITS, fixed(NOW), audiences=audiences)


def wit(**changes: Any) -> str:
    return forge(wit_header(W), edit(wit_claims(W), **changes), W.issuer)


@pytest.mark.parametrize("aud", [B_ID, [B_ID], ["spiffe://x.example/y", B_URL]])
def test_an_aud_naming_this_service_is_accepted(aud: object) -> None:
    assert verifier().verify(wit(aud=aud)).sub.endswith("/agent/a")


@pytest.mark.parametrize("aud", ["spiffe://x.example/y", ["spiffe://x.example/y"]])
def test_an_aud_naming_another_service_is_refused(aud: object) -> None:
    with rejected("wit.audience_mismatch"):
        verifier().verify(wit(aud=aud))


@pytest.mark.parametrize("aud", [[], [1], 7, ""])
def test_an_ill_typed_aud_is_refused(aud: object) -> None:
    with rejected("wit.claims_invalid"):
        verifier(None).verify(wit(aud=aud))


def test_an_offline_verifier_checks_only_the_form() -> None:
    assert verifier(None).verify(wit(aud="spiffe://x.example/y")).sub.endswith("/agent/a")

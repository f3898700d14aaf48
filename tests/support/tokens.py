"""Shared material for the token-layer tests: a fixed clock, cached identities, a forger.

Every token here is verified at the fixed instant ``NOW`` so that time checks are exact.
``forge`` signs arbitrary header and payload bytes with one of our keys, bypassing every
check of the minting helpers, so that negative tests can build exactly the token they need.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from ect_middleware.errors import CODES, ECTError
from ect_middleware.limits import Limits
from ect_middleware.tokens.ect import verify_ect
from ect_middleware.tokens.encoding import b64url_encode, sha256_b64url
from ect_middleware.tokens.keys import SigningKey, generate_signing_key
from ect_middleware.tokens.trust import TrustBundle
from ect_middleware.tokens.wit import VerifiedWIT, WITVerifier, mint_wit
from ect_middleware.tokens.wpt import Bindings, verify_wpt

from .clock import NOW, clock, fixed

LIMITS = Limits()

A_DOMAIN = "spiffe://org-a.example"
A_ID = f"{A_DOMAIN}/agent/a"
A2_ID = f"{A_DOMAIN}/agent/a2"
B_ID = "spiffe://org-b.example/agent/b"
B_URL = "https://b.example"
B_PATH = "/tasks"
B_AUD = B_URL + B_PATH

#: Removes a claim or header member in ``claims_with`` / ``header_with``.
DROP: Any = object()


@dataclass(frozen=True)
class World:
    """One trust domain with one issuer; workloads ``A_ID`` and ``A2_ID`` hold valid WITs."""

    alg: str
    issuer: SigningKey
    workload: SigningKey
    other: SigningKey
    bundle: TrustBundle
    wit: str
    other_wit: str

    def verifier(self, at: float = NOW, limits: Limits = LIMITS) -> WITVerifier:
        bundle = self.bundle
        return WITVerifier(lambda: bundle, limits, fixed(at))

    @property
    def verified(self) -> VerifiedWIT:
        return self.verifier().verify(self.wit)


@functools.cache
def world(alg: str) -> World:
    issuer, workload, other = (generate_signing_key(alg) for _ in range(3))
    bundle = TrustBundle({A_DOMAIN: (issuer.public,)})
    wit = mint_wit(issuer, A_ID, workload.public, lifetime=3600, clock=clock)
    other_wit = mint_wit(issuer, A2_ID, other.public, lifetime=3600, clock=clock)
    return World(alg, issuer, workload, other, bundle, wit, other_wit)


def segment(part: Mapping[str, Any] | bytes) -> str:
    raw = part if isinstance(part, bytes) else json.dumps(part, ensure_ascii=False).encode()
    return b64url_encode(raw)


def forge(
    header: Mapping[str, Any] | bytes, claims: Mapping[str, Any] | bytes, key: SigningKey
) -> str:
    """A compact JWS over exactly these header and payload bytes, signed by ``key``."""
    signing_input = f"{segment(header)}.{segment(claims)}"
    signature: bytes = key.jose_key.sign(signing_input.encode("ascii"))
    return f"{signing_input}.{b64url_encode(signature)}"


def edit(base: Mapping[str, Any], **changes: Any) -> dict[str, Any]:
    """``base`` with members replaced (or removed, with ``DROP``)."""
    result = dict(base)
    for name, value in changes.items():
        if value is DROP:
            result.pop(name, None)
        else:
            result[name] = value
    return result


def wit_header(w: World) -> dict[str, Any]:
    return {"alg": w.alg, "typ": "wit+jwt", "kid": w.issuer.kid}


def wit_claims(w: World) -> dict[str, Any]:
    return {
        "sub": A_ID,
        "iat": NOW,
        "exp": NOW + 3600,
        "jti": "wit-1",
        "cnf": {"jwk": dict(w.workload.public.jwk)},
    }


def wpt_header(w: World) -> dict[str, Any]:
    return {"alg": w.alg, "typ": "wpt+jwt"}


def wpt_claims(w: World) -> dict[str, Any]:
    return {
        "aud": B_AUD,
        "iat": NOW,
        "exp": NOW + 60,
        "jti": "wpt-" + uuid.uuid4().hex,
        "wth": sha256_b64url(w.wit),
    }


def ect_header(w: World) -> dict[str, Any]:
    return {"alg": w.alg, "typ": "wimse-exec+jwt", "kid": w.workload.kid}


def ect_claims() -> dict[str, Any]:
    return {
        "iss": A_ID,
        "aud": B_ID,
        "iat": NOW,
        "exp": NOW + 300,
        "jti": str(uuid.uuid4()),
        "exec_act": "review_document",
        "par": [],
    }


KINDS = ("wit", "wpt", "ect")


def header_for(kind: str, w: World) -> dict[str, Any]:
    return {"wit": wit_header, "wpt": wpt_header, "ect": ect_header}[kind](w)


def claims_for(kind: str, w: World) -> dict[str, Any]:
    return {"wit": wit_claims(w), "wpt": wpt_claims(w), "ect": ect_claims()}[kind]


def signer_for(kind: str, w: World) -> SigningKey:
    return w.issuer if kind == "wit" else w.workload


def token_for(kind: str, w: World) -> str:
    """A valid token of ``kind`` for world ``w``."""
    return forge(header_for(kind, w), claims_for(kind, w), signer_for(kind, w))


def verify_as(kind: str, token: str, w: World) -> object:
    """Verify ``token`` the way a service ``B_ID`` at ``B_AUD`` would, at ``NOW``."""
    if kind == "wit":
        return w.verifier().verify(token)
    if kind == "wpt":
        return verify_wpt(token, w.verified, [B_AUD], Bindings(), LIMITS, clock)
    return verify_ect(token, w.verified, [B_ID], LIMITS, clock)


@contextmanager
def rejected(code: str) -> Iterator[pytest.ExceptionInfo[ECTError]]:
    """Expect an ``ECTError`` with exactly ``code`` (which must be a registered code)."""
    assert code in CODES, f"{code} is not registered in errors.CODES"
    with pytest.raises(ECTError) as info:
        yield info
    assert info.value.code == code, info.value

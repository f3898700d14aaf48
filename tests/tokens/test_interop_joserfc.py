"""Interoperability with joserfc, an independent JOSE implementation (test-only).

joserfc -> ours: WIT, WPT and ECT are built by hand from PROFILE §3-§5 (header, ``cnf.jwk``
with ``alg``, ``wth``/``ath``/``oth`` hashes computed here with hashlib) and signed by
joserfc; our verifiers must accept them. ours -> joserfc: tokens from ``mint_wit``,
``mint_wpt`` and ``mint_ect`` must verify in joserfc with the public JWKs our keys export.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import ECKey, JWKRegistry, OKPKey

from ect_middleware.tokens.ect import Policy, mint_ect, verify_ect
from ect_middleware.tokens.trust import TrustBundle
from ect_middleware.tokens.wit import VerifiedWIT, WITVerifier
from ect_middleware.tokens.wpt import Bindings, mint_wpt, verify_wpt

from ..support.clock import NOW, clock
from ..support.tokens import A_DOMAIN, A_ID, B_AUD, B_ID, LIMITS, world

pytestmark = pytest.mark.filterwarnings("ignore:EdDSA is deprecated")

ALGS = ["ES256", "EdDSA", "Ed25519"]
BEARER = "access-token-value"
PARENT = str(uuid.uuid4())


def b64hash(text: str) -> str:
    digest = hashlib.sha256(text.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def generate(alg: str) -> ECKey | OKPKey:
    key: ECKey | OKPKey = (
        ECKey.generate_key("P-256") if alg == "ES256" else OKPKey.generate_key("Ed25519")
    )
    return key


def public_jwk(key: ECKey | OKPKey, alg: str, kid: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = dict(key.as_dict(private=False))
    data["alg"] = alg
    if kid is not None:
        data["kid"] = kid
    return data


@dataclass(frozen=True)
class Foreign:
    """A trust domain whose issuer and workload tokens all come from joserfc."""

    alg: str
    issuer: ECKey | OKPKey
    workload: ECKey | OKPKey
    bundle: TrustBundle
    wit: str

    @classmethod
    def create(cls, alg: str) -> Foreign:
        issuer, workload = generate(alg), generate(alg)
        bundle = TrustBundle.from_json({A_DOMAIN: {"keys": [public_jwk(issuer, alg, "iss-1")]}})
        claims = {
            "sub": A_ID,
            "iss": "https://issuer.org-a.example",
            "iat": NOW,
            "exp": NOW + 3600,
            "jti": secrets.token_urlsafe(16),
            "cnf": {"jwk": public_jwk(workload, alg)},
        }
        header = {"typ": "wit+jwt", "alg": alg, "kid": "iss-1"}
        wit = jwt.encode(header, claims, issuer, algorithms=[alg])
        return cls(alg, issuer, workload, bundle, wit)

    def verified(self) -> VerifiedWIT:
        bundle = self.bundle
        return WITVerifier(lambda: bundle, LIMITS, clock).verify(self.wit)

    def sign(self, header: dict[str, Any], claims: dict[str, Any]) -> str:
        return jwt.encode({"alg": self.alg, **header}, claims, self.workload, algorithms=[self.alg])


@pytest.mark.parametrize("alg", ALGS)
class TestJoserfcToOurs:
    def test_wit(self, alg: str) -> None:
        foreign = Foreign.create(alg)
        verified = foreign.verified()
        assert verified.sub == A_ID
        assert verified.exp == NOW + 3600
        assert verified.cnf.alg == alg
        assert verified.cnf.thumbprint == foreign.workload.thumbprint()
        assert verified.wth == b64hash(foreign.wit)

    def test_wpt_with_ath_and_oth(self, alg: str) -> None:
        foreign = Foreign.create(alg)
        ect_header_value = "a.b.c, d.e.f"
        claims = {
            "aud": B_AUD,
            "iat": NOW,
            "exp": NOW + 60,
            "jti": secrets.token_urlsafe(16),
            "wth": b64hash(foreign.wit),
            "ath": b64hash(BEARER),
            "oth": {"execution-context": b64hash(ect_header_value)},
        }
        wpt = foreign.sign({"typ": "wpt+jwt"}, claims)
        bindings = Bindings(bearer=BEARER, execution_context=ect_header_value)
        verified = verify_wpt(wpt, foreign.verified(), [B_AUD], bindings, LIMITS, clock)
        assert verified.jti == claims["jti"]

    def test_ect(self, alg: str) -> None:
        foreign = Foreign.create(alg)
        claims = {
            "iss": A_ID,
            "aud": [B_ID],
            "iat": NOW,
            "exp": NOW + 300,
            "jti": str(uuid.uuid4()),
            "wid": str(uuid.uuid4()),
            "exec_act": "review_document",
            "par": [PARENT],
            "inp_hash": b64hash("input"),
            "ext": {"model": {"name": "m", "temperature": 0.2}},
            "pol": "pii-filter",
            "pol_decision": "approved",
            "pol_enforcer": B_ID,
        }
        ect = foreign.sign({"typ": "wimse-exec+jwt", "kid": "wl-1"}, claims)
        verified = verify_ect(ect, foreign.verified(), [B_ID], LIMITS, clock)
        assert (verified.jti, verified.wid, verified.par) == (
            claims["jti"],
            claims["wid"],
            (PARENT,),
        )
        assert verified.ext == claims["ext"]
        assert verified.policy == Policy("pii-filter", "approved", B_ID)


@pytest.mark.parametrize("alg", ALGS)
class TestOursToJoserfc:
    def test_wit(self, alg: str) -> None:
        w = world(alg)
        issuer = JWKRegistry.import_key(dict(w.issuer.public.jwk))
        token = jwt.decode(w.wit, issuer, algorithms=[alg])
        assert token.header == {"alg": alg, "typ": "wit+jwt", "kid": w.issuer.kid}
        registry = jwt.JWTClaimsRegistry(
            now=NOW, leeway=LIMITS.leeway, sub={"essential": True, "value": A_ID}
        )
        registry.validate(token.claims)
        cnf = JWKRegistry.import_key(token.claims["cnf"]["jwk"])
        assert cnf.alg == alg
        assert cnf.thumbprint() == w.workload.public.thumbprint
        assert not cnf.is_private

    def test_wpt(self, alg: str) -> None:
        w = world(alg)
        bindings = Bindings(bearer=BEARER, txn_token="txn", execution_context="a.b.c")
        wpt = mint_wpt(w.workload, w.wit, B_AUD, bindings, lifetime=60, clock=clock)
        cnf = JWKRegistry.import_key(dict(w.workload.public.jwk))
        token = jwt.decode(wpt, cnf, algorithms=[alg])
        assert token.header == {"alg": alg, "typ": "wpt+jwt"}
        jwt.JWTClaimsRegistry(
            now=NOW, aud={"essential": True, "value": B_AUD}, jti={"essential": True}
        ).validate(token.claims)
        assert token.claims["exp"] == NOW + 60
        assert token.claims["wth"] == b64hash(w.wit)
        assert token.claims["ath"] == b64hash(BEARER)
        assert token.claims["tth"] == b64hash("txn")
        assert token.claims["oth"] == {"execution-context": b64hash("a.b.c")}

    def test_ect(self, alg: str) -> None:
        w = world(alg)
        minted = mint_ect(
            w.workload,
            iss=A_ID,
            aud=B_ID,
            par=[PARENT],
            exec_act="summarize",
            wid=None,
            limits=LIMITS,
            clock=clock,
            ext={"k": [1, 2]},
        )
        cnf = JWKRegistry.import_key(dict(w.workload.public.jwk))
        token = jwt.decode(minted.token, cnf, algorithms=[alg])
        assert token.header == {"alg": alg, "typ": "wimse-exec+jwt", "kid": w.workload.kid}
        jwt.JWTClaimsRegistry(
            now=NOW,
            iss={"essential": True, "value": A_ID},
            aud={"essential": True, "value": B_ID},
            iat={"essential": True},
            exp={"essential": True},
            jti={"essential": True, "value": minted.jti},
        ).validate(token.claims)
        assert token.claims["par"] == [PARENT]
        assert token.claims["exec_act"] == "summarize"
        assert token.claims["ext"] == {"k": [1, 2]}

    def test_joserfc_rejects_our_token_under_another_key(self, alg: str) -> None:
        w = world(alg)
        with pytest.raises(BadSignatureError):
            jwt.decode(w.wit, JWKRegistry.import_key(dict(w.workload.public.jwk)), [alg])

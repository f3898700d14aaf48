"""Other implementations, as they mint and verify: PyJWT (as golang-jwt-style libraries do:
``aud`` arrays, JWKs without ``alg``, no ``oth``, ECT draft -01, a SPIFFE bundle file) and
joserfc (draft -00 ECTs, a plain JWKS file), sent through the real middlewares; and what
this middleware mints, verified by PyJWT and joserfc."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from jwt.algorithms import ECAlgorithm, OKPAlgorithm

from ect_middleware.runtime import Runtime
from ect_middleware.tokens.encoding import b64url_encode
from ect_middleware.tokens.jws import read_header, read_payload
from ect_middleware.verification import InboundRequest

from ._support import Identity, identity, serve

ME = "spiffe://org-b.example/agent/b"
OTHER_DOMAIN = "spiffe://other.example"
OTHER = f"{OTHER_DOMAIN}/agent/go"
OTHER_ISSUER = "https://idp.other.example"
SERVICE = "http://testserver"


def sha256_b64url(value: str) -> str:
    return b64url_encode(hashlib.sha256(value.encode("ascii")).digest())


def pyjwt_sign(claims: dict[str, Any], key: Any, alg: str, header: dict[str, Any]) -> str:
    token: str = jwt.encode(claims, key, algorithm=alg, headers=header)
    return token


def joserfc_sign(claims: dict[str, Any], key: Any, header: dict[str, Any]) -> str:
    from joserfc import jws
    from joserfc.jwk import ECKey, OKPKey

    imported = (OKPKey if isinstance(key, ed25519.Ed25519PrivateKey) else ECKey).import_key(key)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # joserfc prefers RFC 9864's name for EdDSA
        token: str = jws.serialize_compact(
            header, json.dumps(claims), imported, algorithms=[header["alg"]]
        )
    return token


@dataclass
class OtherStack:
    """A caller built with another JOSE library, in trust domain ``OTHER_DOMAIN``."""

    sign: Callable[[dict[str, Any], Any, dict[str, Any]], str]
    issuer: ec.EllipticCurvePrivateKey
    workload: Any  # a cryptography private key (P-256 or Ed25519)
    alg: str
    wit: str = ""

    def mint_wit(self) -> None:
        public = self.workload.public_key()
        if self.alg == "EdDSA":
            jwk = OKPAlgorithm.to_jwk(public, as_dict=True)
        else:
            jwk = ECAlgorithm.to_jwk(public, as_dict=True)
        assert "alg" not in jwk  # as JWKS in the wild: the key type implies it
        now = int(time.time())
        claims = {
            "iss": OTHER_ISSUER,
            "sub": OTHER,
            "iat": now,
            "exp": now + 3600,
            "jti": uuid.uuid4().hex,
            "cnf": {"jwk": jwk},
        }
        self.wit = self.sign(claims, self.issuer, {"alg": "ES256", "typ": "wit+jwt", "kid": "k1"})

    def wpt(self, target: str, **claims: Any) -> str:
        now = int(time.time())
        body = {
            "aud": [target],  # golang-jwt writes a one-element array
            "exp": now + 60,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "wth": sha256_b64url(self.wit),
            **claims,
        }
        return self.sign(body, self.workload, {"alg": self.alg, "typ": "wpt+jwt"})

    def ect(self, draft: str, *, pred: list[str] | None = None, wid: str | None = None) -> str:
        now = int(time.time())
        body: dict[str, Any] = {
            "iss": OTHER,
            "aud": [ME],
            "iat": now,
            "exp": now + 300,
            "jti": str(uuid.uuid4()),
            "exec_act": "fetch_records",
            "wid": wid or str(uuid.uuid4()),
        }
        policy = {"pol": "records-policy", "pol_decision": "approved"}
        if draft == "01":
            body |= {"pred": pred or [], "ect_ext": {"region": "eu", **policy}}
            typ = "exec+jwt"
        else:
            body |= {"par": pred or [], "ext": {"region": "eu"}, **policy}
            typ = "wimse-exec+jwt"
        return self.sign(body, self.workload, {"alg": self.alg, "typ": typ, "kid": "w1"})

    def headers(self, path: str, ects: list[str], **wpt_claims: Any) -> dict[str, str]:
        headers = {
            "Workload-Identity-Token": self.wit,
            "Workload-Proof-Token": self.wpt(SERVICE + path, **wpt_claims),
        }
        if ects:
            headers["Execution-Context"] = ", ".join(ects)
        return headers


def _pyjwt_stack() -> OtherStack:
    return OtherStack(
        lambda c, k, h: pyjwt_sign(c, k, h["alg"], {n: v for n, v in h.items() if n != "alg"}),
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
        "ES256",
    )


def _joserfc_stack() -> OtherStack:
    return OtherStack(
        joserfc_sign,
        ec.generate_private_key(ec.SECP256R1()),
        ed25519.Ed25519PrivateKey.generate(),
        "EdDSA",
    )


STACKS = {"pyjwt": (_pyjwt_stack, "01", "spiffe"), "joserfc": (_joserfc_stack, "00", "jwks")}


@pytest.fixture
def me(tmp_path: Path) -> Identity:
    return identity(tmp_path / "me", ME)


def _trust(tmp_path: Path, me: Identity, other: OtherStack, form: str) -> Path:
    """Our bundle plus the other domain's keys, published as ``form`` in a file of its own."""
    issuer_jwk = ECAlgorithm.to_jwk(other.issuer.public_key(), as_dict=True) | {"kid": "k1"}
    if form == "spiffe":
        decoy = ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1()).public_key(), True)
        document: dict[str, Any] = {
            "spiffe_sequence": 7,
            "spiffe_refresh_hint": 300,
            "keys": [
                {**decoy, "kid": "k1", "use": "x509-svid", "x5c": ["MIIBdecoy"]},
                {**issuer_jwk, "use": "jwt-svid"},
            ],
        }
    else:
        document = {"keys": [issuer_jwk]}
    (tmp_path / "bundles").mkdir(exist_ok=True)
    (tmp_path / "bundles" / "other.json").write_text(json.dumps(document))
    ours = json.loads(me.trust_bundle.read_text())
    entry = {"file": "bundles/other.json", "issuer": OTHER_ISSUER}
    path = tmp_path / "trust-bundle.json"
    path.write_text(json.dumps({**ours, OTHER_DOMAIN: entry}))
    return path


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
@pytest.mark.parametrize("stack", sorted(STACKS))
def test_another_stacks_call_passes_and_gets_a_completion_it_can_verify(
    stack: str, kind: str, me: Identity, tmp_path: Path
) -> None:
    make, draft, form = STACKS[stack]
    other = make()
    other.mint_wit()
    settings = me.settings(trust_bundle=str(_trust(tmp_path, me, other, form)))
    wid = str(uuid.uuid4())
    first = other.ect(draft, wid=wid)
    with serve(kind, settings) as client:
        response = client.post("/tasks", headers=other.headers("/tasks", [first]))
        assert response.status_code == 200, response.text
        seen = response.json()
        completion = response.headers["execution-context"]
        our_wit = response.headers["workload-identity-token"]
    assert seen["caller"] == OTHER
    assert seen["wid"] == wid
    (parent,) = seen["parents"]
    assert parent["jti"] == read_payload(first)["jti"]  # type: ignore[index]
    assert parent["draft"] == draft
    assert parent["par"] == []
    assert parent["ext"] == {"region": "eu"}
    assert parent["policy"] == ["records-policy", "approved"]
    # The other stack verifies our WIT (with our iss) and the completion, in its own draft.
    bundle = json.loads(me.trust_bundle.read_text())
    issuer_key = ECAlgorithm.from_jwk(bundle["spiffe://org-b.example"]["keys"][0])
    wit_claims = jwt.decode(
        our_wit, issuer_key, algorithms=["ES256"], issuer="spiffe://org-b.example",
        options={"require": ["iss", "sub", "exp"]},
    )  # fmt: skip
    assert wit_claims["sub"] == ME
    cnf_key = ECAlgorithm.from_jwk(wit_claims["cnf"]["jwk"])
    ect_claims = jwt.decode(completion, cnf_key, algorithms=["ES256"], audience=OTHER)
    assert read_header(completion)["typ"] == ("exec+jwt" if draft == "01" else "wimse-exec+jwt")
    parents = ect_claims["pred" if draft == "01" else "par"]
    assert parents == [parent["jti"]]


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_an_unbound_ect_is_refused_when_binding_is_required(
    kind: str, me: Identity, tmp_path: Path
) -> None:
    other = _pyjwt_stack()
    other.mint_wit()
    trust = _trust(tmp_path, me, other, "spiffe")
    settings = me.settings(trust_bundle=str(trust), require_ect_binding=True)
    with serve(kind, settings) as client:
        unbound = client.post("/tasks", headers=other.headers("/tasks", [other.ect("01")]))
        ect = other.ect("01")
        bound = client.post(
            "/tasks",
            headers=other.headers("/tasks", [ect], oth={"execution-context": sha256_b64url(ect)}),
        )
    assert unbound.status_code == 400
    assert unbound.json()["code"] == "wpt.oth_mismatch"
    assert bound.status_code == 200, bound.text


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_a_wit_from_an_issuer_other_than_the_configured_one_is_refused(
    kind: str, me: Identity, tmp_path: Path
) -> None:
    other = _pyjwt_stack()
    other.mint_wit()
    trust = _trust(tmp_path, me, other, "spiffe")
    data = json.loads(trust.read_text())
    data[OTHER_DOMAIN]["issuer"] = "https://another-idp.example"
    trust.write_text(json.dumps(data))
    with serve(kind, me.settings(trust_bundle=str(trust))) as client:
        response = client.post("/tasks", headers=other.headers("/tasks", []))
    assert response.status_code == 400
    assert response.json()["code"] == "wit.issuer_mismatch"


def _outbound(me: Identity, tmp_path: Path, peer: object) -> dict[str, str]:
    other = _pyjwt_stack()
    settings = me.settings(
        trust_bundle=str(_trust(tmp_path, me, other, "jwks")),
        entry_paths=("/start",),
        peers={"http://peer.example": peer},
    )
    runtime = Runtime(settings)
    try:
        task = runtime.begin(InboundRequest.from_pairs("POST", "/start", []), lambda: "start")
        call = task.prepare_outbound(
            "http://peer.example/tasks?q=1", body=b"{}", authorization=None, txn_token=None
        )
        assert call is not None
        return dict(call.headers)
    finally:
        runtime.close()


def _verify_ours(headers: dict[str, str], me: Identity) -> tuple[dict[str, Any], dict[str, Any]]:
    """PyJWT verifies our WIT, WPT and ECT the way another implementation would."""
    bundle = json.loads(me.trust_bundle.read_text())
    issuer_key = ECAlgorithm.from_jwk(bundle["spiffe://org-b.example"]["keys"][0])
    wit = jwt.decode(
        headers["Workload-Identity-Token"], issuer_key, algorithms=["ES256"],
        issuer="spiffe://org-b.example",
    )  # fmt: skip
    cnf = ECAlgorithm.from_jwk(wit["cnf"]["jwk"])
    wpt = jwt.decode(
        headers["Workload-Proof-Token"], cnf, algorithms=["ES256"],
        audience="http://peer.example/tasks",
    )  # fmt: skip
    assert wpt["wth"] == sha256_b64url(headers["Workload-Identity-Token"])
    ect = jwt.decode(headers["Execution-Context"], cnf, algorithms=["ES256"], audience=OTHER)
    return wpt, ect


def test_outbound_to_a_plain_wimse_peer_binds_no_oth_and_mints_00(
    me: Identity, tmp_path: Path
) -> None:
    headers = _outbound(me, tmp_path, OTHER)
    wpt, ect = _verify_ours(headers, me)
    assert "oth" not in wpt  # a WIMSE recipient must reject oth entries it does not know
    assert read_header(headers["Execution-Context"])["typ"] == "wimse-exec+jwt"
    assert ect["par"] == []
    assert "pred" not in ect


def test_outbound_per_peer_draft_01_and_binding(me: Identity, tmp_path: Path) -> None:
    headers = _outbound(me, tmp_path, {"workload": OTHER, "ect_draft": "01", "bind_ect": True})
    wpt, ect = _verify_ours(headers, me)
    assert wpt["oth"] == {"execution-context": sha256_b64url(headers["Execution-Context"])}
    assert read_header(headers["Execution-Context"])["typ"] == "exec+jwt"
    assert ect["pred"] == []
    assert "par" not in ect


def test_joserfc_verifies_our_01_ect(me: Identity, tmp_path: Path) -> None:
    from joserfc import jwt as jose_jwt
    from joserfc.jwk import ECKey

    headers = _outbound(me, tmp_path, {"workload": OTHER, "ect_draft": "01"})
    wit = read_payload(headers["Workload-Identity-Token"])
    assert wit is not None
    key = ECKey.import_key(wit["cnf"]["jwk"])
    token = jose_jwt.decode(headers["Execution-Context"], key, algorithms=["ES256"])
    assert token.header["typ"] == "exec+jwt"
    assert token.claims["aud"] == OTHER
    assert token.claims["pred"] == []

"""RFC 8037 Appendix A test vectors against our python-jose Ed25519 key class."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jose import jwk, jws
from jose.exceptions import JWKError

from ect_middleware.tokens.algorithms import Ed25519Key
from ect_middleware.tokens.encoding import b64url_decode
from ect_middleware.tokens.keys import load_signing_key, public_key_from_jwk

# RFC 8037 A.1 (private key), A.3 (thumbprint), A.4 (JWS).
PRIVATE_JWK = {
    "kty": "OKP",
    "crv": "Ed25519",
    "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
    "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
}
PUBLIC_JWK = {k: v for k, v in PRIVATE_JWK.items() if k != "d"}
THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
SIGNING_INPUT = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
SIGNATURE = "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
JWS = f"{SIGNING_INPUT}.{SIGNATURE}"


@pytest.mark.parametrize("alg", ["EdDSA", "Ed25519"])
def test_signature_is_reproduced(alg: str) -> None:
    assert Ed25519Key(PRIVATE_JWK, alg).sign(SIGNING_INPUT.encode()) == b64url_decode(SIGNATURE)


def test_signature_verifies_through_python_jose() -> None:
    key = jwk.construct(PUBLIC_JWK, "EdDSA")
    assert isinstance(key, Ed25519Key)
    assert jws.verify(JWS, key, algorithms=["EdDSA"]) == b"Example of Ed25519 signing"


def test_altered_message_does_not_verify() -> None:
    key = Ed25519Key(PUBLIC_JWK, "EdDSA")
    assert key.verify(SIGNING_INPUT.encode(), b64url_decode(SIGNATURE))
    assert not key.verify(SIGNING_INPUT.encode() + b"x", b64url_decode(SIGNATURE))


def test_public_key_cannot_sign() -> None:
    with pytest.raises(JWKError, match="public key"):
        Ed25519Key(PUBLIC_JWK, "EdDSA").sign(b"x")


def test_thumbprint() -> None:
    assert public_key_from_jwk(PUBLIC_JWK | {"alg": "EdDSA"}).thumbprint == THUMBPRINT


def test_private_jwk_file_loads_and_signs_the_vector(tmp_path: Path) -> None:
    path = tmp_path / "key.jwk"
    path.write_text(json.dumps(PRIVATE_JWK | {"alg": "EdDSA"}))
    key = load_signing_key(path)
    assert (key.alg, key.kid) == ("EdDSA", THUMBPRINT)
    assert key.jose_key.sign(SIGNING_INPUT.encode()) == b64url_decode(SIGNATURE)
    assert Ed25519Key(key.private, "EdDSA").to_dict() == PRIVATE_JWK | {"alg": "EdDSA"}

"""Key loading (PEM PKCS#8 and JWK files), algorithm binding, and the trust bundle file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from ect_middleware.errors import ConfigurationError
from ect_middleware.tokens.keys import (
    InvalidKey,
    PrivateKeyTypes,
    generate_signing_key,
    load_signing_key,
    public_key_from_jwk,
    signing_key_from_private,
)
from ect_middleware.tokens.trust import TrustBundle
from ect_middleware.tokens.wit import WITVerifier, mint_wit

from ..support.clock import NOW, clock
from ..support.tokens import A_DOMAIN, A_ID, DROP, LIMITS, edit, forge, rejected

ALGS = ["ES256", "ES384", "EdDSA"]


def pkcs8(private: PrivateKeyTypes, password: bytes | None = None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def write(tmp_path: Path, content: bytes | str | dict[str, Any]) -> Path:
    path = tmp_path / "key"
    if isinstance(content, dict):
        content = json.dumps(content)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


@pytest.mark.parametrize("alg", ALGS)
def test_pem_pkcs8_round_trip(tmp_path: Path, alg: str) -> None:
    key = generate_signing_key(alg)
    loaded = load_signing_key(write(tmp_path, key.to_pem()))
    assert (loaded.alg, loaded.kid) == (alg, key.kid)
    assert loaded.public.jwk == key.public.jwk
    assert key.kid == key.public.thumbprint


@pytest.mark.parametrize("alg", ALGS)
def test_private_jwk_file_round_trip(tmp_path: Path, alg: str) -> None:
    key = generate_signing_key(alg, kid="k-1")
    loaded = load_signing_key(write(tmp_path, key.to_private_jwk()))
    assert (loaded.alg, loaded.kid) == (alg, "k-1")
    assert loaded.public.jwk == key.public.jwk


@pytest.mark.parametrize(
    ("private", "alg"),
    [
        (ec.generate_private_key(ec.SECP256R1()), "ES256"),
        (ec.generate_private_key(ec.SECP384R1()), "ES384"),
        (ed25519.Ed25519PrivateKey.generate(), "EdDSA"),
    ],
)
def test_foreign_pem_gets_the_algorithm_of_its_curve(
    tmp_path: Path, private: PrivateKeyTypes, alg: str
) -> None:
    assert load_signing_key(write(tmp_path, pkcs8(private))).alg == alg


@pytest.mark.parametrize(("alg", "expected"), [("ES256", "ES256"), ("EdDSA", "EdDSA")])
def test_jwk_without_alg_gets_the_algorithm_of_its_curve(
    tmp_path: Path, alg: str, expected: str
) -> None:
    data = edit(generate_signing_key(alg).to_private_jwk(), alg=DROP)
    assert load_signing_key(write(tmp_path, data)).alg == expected


def test_loaded_key_signs_what_its_public_half_verifies(tmp_path: Path) -> None:
    issuer = load_signing_key(write(tmp_path, generate_signing_key("ES384").to_pem()))
    workload = generate_signing_key("EdDSA")
    bundle = TrustBundle({A_DOMAIN: (public_key_from_jwk(dict(issuer.public.jwk)),)})
    wit = mint_wit(issuer, A_ID, workload.public, lifetime=60, clock=clock)
    assert WITVerifier(lambda: bundle, LIMITS, clock).verify(wit).cnf.alg == "EdDSA"


def _mismatched_jwks() -> list[Any]:
    p256 = generate_signing_key("ES256").to_private_jwk()
    okp = generate_signing_key("EdDSA").to_private_jwk()
    other_okp = generate_signing_key("EdDSA").to_private_jwk()
    return [
        pytest.param(edit(p256, alg="ES384"), id="ES384 on P-256"),
        pytest.param(edit(p256, alg="EdDSA"), id="EdDSA on EC"),
        pytest.param(edit(okp, alg="ES256"), id="ES256 on OKP"),
        pytest.param(edit(p256, alg="HS256"), id="HS256"),
        pytest.param(edit(p256, crv="P-521"), id="unsupported curve"),
        pytest.param(edit(okp, d=other_okp["d"]), id="d of another key"),
        pytest.param(edit(p256, d=DROP), id="public JWK"),
        pytest.param(edit(p256, d="not base64!"), id="d not base64url"),
        pytest.param([p256], id="not an object"),
    ]


@pytest.mark.parametrize("data", _mismatched_jwks())
def test_unusable_jwk_file(tmp_path: Path, data: Any) -> None:
    path = tmp_path / "key.jwk"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigurationError, match=r"key file .*key\.jwk"):
        load_signing_key(path)


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(pkcs8(ec.generate_private_key(ec.SECP521R1())), id="P-521"),
        pytest.param(pkcs8(rsa.generate_private_key(65537, 1024)), id="RSA 1024"),  # noqa: S505
        pytest.param(pkcs8(ed25519.Ed25519PrivateKey.generate(), b"pw"), id="encrypted"),
        pytest.param(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", id="junk"),
        pytest.param(b"", id="empty"),
        pytest.param(b"{not json", id="broken JSON"),
    ],
)
def test_unusable_pem_file(tmp_path: Path, content: bytes) -> None:
    with pytest.raises(ConfigurationError, match="key file"):
        load_signing_key(write(tmp_path, content))


def test_missing_key_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read key file"):
        load_signing_key(tmp_path / "absent.pem")


def test_private_key_is_bound_to_the_algorithm_of_its_curve() -> None:
    with pytest.raises(InvalidKey, match="does not fit algorithm ES384"):
        signing_key_from_private(ec.generate_private_key(ec.SECP256R1()), "ES384")


def _public(key_alg: str, **changes: Any) -> dict[str, Any]:
    return edit(generate_signing_key(key_alg).public.jwk, **changes)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(_public("ES256", crv="P-384"), id="ES256 on P-384 coordinates"),
        pytest.param(_public("ES384", alg="ES256"), id="ES256 with a P-384 key"),
        pytest.param(_public("EdDSA", alg="ES256"), id="ES256 with an OKP key"),
        pytest.param(_public("ES256", alg="EdDSA"), id="EdDSA with an EC key"),
        pytest.param(_public("EdDSA", x="AAAA"), id="Ed25519 x too short"),
        pytest.param(_public("ES256", alg=DROP, crv="P-521"), id="no alg, no implied alg"),
        pytest.param(_public("EdDSA", alg=DROP, crv="X25519"), id="no alg, OKP not Ed25519"),
        pytest.param(_public("ES256", alg="RS512"), id="alg not on the allow-list"),
        pytest.param(_public("ES256", kty="RSA"), id="kty does not fit alg"),
        pytest.param(_public("ES256", d="AAAA"), id="private member"),
        pytest.param("jwk", id="not an object"),
    ],
)
def test_public_jwk_rejected(data: Any) -> None:
    with pytest.raises(InvalidKey):
        public_key_from_jwk(data)


@pytest.mark.parametrize("alg", ["EdDSA", "Ed25519"])
def test_both_ed25519_names_are_accepted(alg: str) -> None:
    assert public_key_from_jwk(_public("EdDSA", alg=alg)).alg == alg


def test_trust_bundle_file_round_trip(tmp_path: Path) -> None:
    issuer = generate_signing_key("ES256")
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(TrustBundle({A_DOMAIN: (issuer.public,)}).to_json()))
    assert TrustBundle.load(path).domains[A_DOMAIN][0].jwk == issuer.public.jwk


def test_trust_bundle_file_with_two_keys_and_a_wit_without_kid(tmp_path: Path) -> None:
    first, second = generate_signing_key("ES256"), generate_signing_key("EdDSA")
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps({A_DOMAIN: {"keys": [dict(first.public.jwk), second.public.jwk]}}))
    bundle = TrustBundle.load(path)
    verifier = WITVerifier(lambda: bundle, LIMITS, clock)
    claims = {"sub": A_ID, "exp": NOW + 60, "cnf": {"jwk": dict(second.public.jwk)}}
    with_kid = forge({"alg": "ES256", "typ": "wit+jwt", "kid": first.kid}, claims, first)
    assert verifier.verify(with_kid).sub == A_ID
    with rejected("wit.unknown_kid"):
        verifier.verify(forge({"alg": "ES256", "typ": "wit+jwt"}, claims, first))


@pytest.mark.parametrize(
    "data",
    [
        pytest.param([], id="not an object"),
        pytest.param({A_DOMAIN: {"keys": []}}, id="no keys"),
        pytest.param({A_DOMAIN: {}}, id="keys missing"),
        pytest.param({A_DOMAIN: {"keys": [{"kty": "oct", "k": "c2Vj", "alg": "HS256"}]}}, id="oct"),
    ],
)
def test_unusable_trust_bundle(data: Any) -> None:
    with pytest.raises(ConfigurationError, match="trust bundle"):
        TrustBundle.from_json(data)


def test_trust_bundle_file_not_json(tmp_path: Path) -> None:
    path = tmp_path / "bundle.json"
    path.write_text("{")
    with pytest.raises(ConfigurationError, match="is not JSON"):
        TrustBundle.load(path)

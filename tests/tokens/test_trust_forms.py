"""Trust anchors as they are published (PROFILE §3.1): JWKS and SPIFFE bundle documents,
inline or by file, keys without ``alg``; and what a bundle that cannot be used says."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ect_middleware.errors import ConfigurationError
from ect_middleware.tokens.keys import generate_signing_key
from ect_middleware.tokens.trust import TrustBundle
from ect_middleware.tokens.wit import WITVerifier, mint_wit

from ..support.clock import NOW, clock, fixed
from ..support.tokens import A_DOMAIN, A_ID, LIMITS, edit, rejected

B_DOMAIN = "spiffe://org-b.example"


def _without_alg(jwk: Any) -> dict[str, Any]:
    return {k: v for k, v in dict(jwk).items() if k != "alg"}


def _spiffe(*keys: dict[str, Any]) -> dict[str, Any]:
    return {"spiffe_sequence": 12, "spiffe_refresh_hint": 300, "keys": list(keys)}


def _write(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    return path


@pytest.mark.parametrize(
    ("alg", "implied"),
    [("ES256", "ES256"), ("ES384", "ES384"), ("EdDSA", "EdDSA"), ("RS256", "RS256")],
)
def test_a_key_without_alg_gets_the_one_its_type_implies(alg: str, implied: str) -> None:
    issuer = generate_signing_key(alg)
    bundle = TrustBundle.from_json({A_DOMAIN: {"keys": [_without_alg(issuer.public.jwk)]}})
    assert bundle.domains[A_DOMAIN][0].alg == implied
    workload = generate_signing_key("ES256")
    wit = mint_wit(issuer, A_ID, workload.public, lifetime=600, clock=clock)
    verified = WITVerifier(lambda: bundle, LIMITS, fixed(NOW)).verify(wit)
    assert verified.sub == A_ID


def test_a_key_with_alg_keeps_exactly_that_one() -> None:
    with_alg, without = generate_signing_key("EdDSA"), generate_signing_key("EdDSA")
    keys = [edit(with_alg.public.jwk, alg="Ed25519"), _without_alg(without.public.jwk)]
    bundle = TrustBundle.from_json({A_DOMAIN: {"keys": keys}})
    assert [k.alg for k in bundle.domains[A_DOMAIN]] == ["Ed25519", "EdDSA"]


def test_an_rsa_key_below_the_minimum_size_is_refused_even_without_alg() -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    from ect_middleware.tokens.encoding import b64url_encode

    numbers = rsa.generate_private_key(65537, 1024).public_key().public_numbers()  # noqa: S505
    jwk = {
        "kty": "RSA",
        "n": b64url_encode(numbers.n.to_bytes(128, "big")),
        "e": b64url_encode(numbers.e.to_bytes(3, "big")),
    }
    with pytest.raises(ConfigurationError, match=rf"{A_DOMAIN}: key 1: .*RS256"):
        TrustBundle.from_json({A_DOMAIN: {"keys": [jwk]}})


def test_spiffe_bundle_file_by_relative_path_keeps_only_jwt_svid_keys(tmp_path: Path) -> None:
    jwt_key, x509_key = generate_signing_key("ES256"), generate_signing_key("ES256")
    document = _spiffe(
        {**_without_alg(x509_key.public.jwk), "use": "x509-svid", "x5c": ["MIIB"]},
        {**_without_alg(jwt_key.public.jwk), "use": "jwt-svid"},
    )
    _write(tmp_path / "bundles" / "org-a.json", document)
    path = _write(tmp_path / "trust.json", {A_DOMAIN: "bundles/org-a.json"})
    bundle = TrustBundle.load(path)
    assert [k.kid for k in bundle.domains[A_DOMAIN]] == [jwt_key.kid]


def test_inline_json_resolves_relative_paths_against_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = generate_signing_key("ES256")
    _write(tmp_path / "org-a.jwks", {"keys": [_without_alg(key.public.jwk)]})
    monkeypatch.chdir(tmp_path)
    bundle = TrustBundle.from_json({A_DOMAIN: {"file": "org-a.jwks", "issuer": A_DOMAIN}})
    assert bundle.domains[A_DOMAIN][0].kid == key.kid
    assert bundle.issuers[A_DOMAIN] == frozenset({A_DOMAIN})


def test_a_bare_jwks_as_the_whole_bundle_shows_the_expected_shape(tmp_path: Path) -> None:
    key = generate_signing_key("ES256")
    path = _write(tmp_path / "trust.json", {"keys": [dict(key.public.jwk)]})
    with pytest.raises(ConfigurationError) as info:
        TrustBundle.load(path)
    message = str(info.value)
    assert str(path) in message
    assert "bare JWKS" in message
    assert '{"spiffe://org-a.example": {"keys": [...]}' in message


def test_json_errors_name_the_domain_the_file_the_line_and_the_column(tmp_path: Path) -> None:
    (tmp_path / "org-b.json").write_text('{\n  "keys": [\n    {"kty": "EC",}\n  ]\n}\n')
    key = generate_signing_key("ES256")
    path = _write(
        tmp_path / "trust.json",
        {A_DOMAIN: {"keys": [dict(key.public.jwk)]}, B_DOMAIN: "org-b.json"},
    )
    with pytest.raises(ConfigurationError) as info:
        TrustBundle.load(path)
    message = str(info.value)
    assert B_DOMAIN in message
    assert str(tmp_path / "org-b.json") in message
    assert "line 3 column 18" in message


def test_a_broken_bundle_file_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "trust.json"
    path.write_text('{\n  "spiffe://org-a.example": {"keys": [}\n}\n')
    with pytest.raises(ConfigurationError, match=r"trust\.json is not JSON: .* line 2 column"):
        TrustBundle.load(path)


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ({"keys": [], "spiffe_sequence": 1}, "non-empty 'keys'"),
        ({"keys": [{"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA"}]}, "key 1"),
        ({"keys": [{"kty": "EC", "use": "x509-svid"}]}, "no key usable"),
        ({"keys": [{"kty": "EC"}], "spiffe_sequence": "12"}, "spiffe_sequence"),
        ({"keys": [{"kty": "EC"}], "refresh": 5}, "unknown member 'refresh'"),
        ({"file": "a.json", "keys": []}, "not both"),
        ({"file": "missing.json"}, "cannot read"),
        ({"keys": [dict(generate_signing_key("ES256").public.jwk)], "issuer": 5}, "issuer must"),
        (7, "expected keys, a file path or an object"),
    ],
)
def test_bundle_errors_name_the_trust_domain(entry: object, reason: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as info:
        TrustBundle.from_json({A_DOMAIN: entry}, tmp_path)
    assert A_DOMAIN in str(info.value)
    assert reason in str(info.value)


def _wit_with(issuer_key: Any, iss: str | None) -> str:
    workload = generate_signing_key("ES256")
    return mint_wit(issuer_key, A_ID, workload.public, lifetime=600, clock=clock, iss=iss)


def test_a_configured_issuer_is_checked_and_wits_without_iss_verify_elsewhere() -> None:
    issuer, other = generate_signing_key("ES256"), generate_signing_key("ES256")
    bundle = TrustBundle.from_json(
        {
            A_DOMAIN: {"keys": [dict(issuer.public.jwk)], "issuer": ["https://idp.org-a.example"]},
            B_DOMAIN: {"keys": [dict(other.public.jwk)]},
        }
    )
    verifier = WITVerifier(lambda: bundle, LIMITS, fixed(NOW))
    assert verifier.verify(_wit_with(issuer, "https://idp.org-a.example")).sub == A_ID
    with rejected("wit.issuer_mismatch"):
        verifier.verify(_wit_with(issuer, "https://other-idp.example"))
    with rejected("wit.issuer_mismatch"):
        verifier.verify(_wit_with(issuer, None))
    b_id = B_DOMAIN + "/agent/b"
    for iss in (None, "https://anything.example"):  # no issuer configured for B: either way
        workload = generate_signing_key("ES256")
        wit = mint_wit(other, b_id, workload.public, lifetime=600, clock=clock, iss=iss)
        assert verifier.verify(wit).sub == b_id


def test_to_json_round_trips_issuers() -> None:
    issuer = generate_signing_key("ES256")
    data = {A_DOMAIN: {"keys": [dict(issuer.public.jwk)], "issuer": "https://idp.example"}}
    again = TrustBundle.from_json(TrustBundle.from_json(data).to_json())
    assert again.issuers == {A_DOMAIN: frozenset({"https://idp.example"})}

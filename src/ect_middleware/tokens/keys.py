"""Key objects, built once from configuration and reused for every token.

A key is always bound to exactly one algorithm (RFC 8725 §3.1): the ``alg`` it was loaded
with is the only one it will ever sign or verify with. Public keys come from JWKs (trust
bundle entries and WIT ``cnf.jwk``); private keys from PEM (PKCS#8) or JWK files.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jose import jwk
from jose.backends.base import Key

from ..errors import ConfigurationError, ECTMiddlewareError
from .algorithms import ALLOWED, ED25519_NAMES, KEY_TYPE
from .encoding import b64url_decode, b64url_encode

PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_MIN_RSA_BITS = 2048

PublicKeyTypes = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | rsa.RSAPublicKey
PrivateKeyTypes = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey


class InvalidKey(ECTMiddlewareError, ValueError):
    """A JWK or PEM that is not an acceptable key (message never contains key material)."""


@dataclass(frozen=True)
class VerificationKey:
    """A public key bound to one algorithm, ready for python-jose."""

    alg: str
    kid: str | None
    jose_key: Key = field(repr=False, compare=False)
    jwk: Mapping[str, str] = field(repr=False)

    @property
    def thumbprint(self) -> str:
        return jwk_thumbprint(self.jwk)


@dataclass(frozen=True)
class SigningKey:
    """A private key bound to one algorithm, with its public half."""

    alg: str
    kid: str
    jose_key: Key = field(repr=False, compare=False)
    public: VerificationKey = field(repr=False)
    private: PrivateKeyTypes = field(repr=False, compare=False)

    def to_pem(self) -> bytes:
        return self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def to_private_jwk(self) -> dict[str, str]:
        data: dict[str, str] = dict(self.jose_key.to_dict())
        data.update(alg=self.alg, kid=self.kid)
        return data


def jwk_thumbprint(key: Mapping[str, Any]) -> str:
    """RFC 7638 SHA-256 thumbprint of a public JWK."""
    required = {
        "EC": ("crv", "kty", "x", "y"),
        "OKP": ("crv", "kty", "x"),
        "RSA": ("e", "kty", "n"),
    }
    members = required.get(str(key.get("kty")))
    if members is None:
        raise InvalidKey("unsupported key type")
    canonical = json.dumps({m: key[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return b64url_encode(hashlib.sha256(canonical.encode()).digest())


def implied_alg(data: Mapping[str, Any]) -> str:
    """The one algorithm a JWK without ``alg`` is bound to, from its ``kty``/``crv``: EC
    P-256 -> ES256, P-384 -> ES384, OKP Ed25519 -> EdDSA, RSA -> RS256 (2048 bits or more,
    checked when the key is built). Anything else is no key of ours."""
    kty, crv = data.get("kty"), data.get("crv")
    if kty == "EC" and crv in ("P-256", "P-384"):
        return "ES256" if crv == "P-256" else "ES384"
    if kty == "OKP" and crv == "Ed25519":
        return "EdDSA"
    if kty == "RSA":
        return "RS256"
    raise InvalidKey("JWK without alg whose kty/crv implies no allowed algorithm")


def public_key_from_jwk(data: Any) -> VerificationKey:
    """Validate a public JWK and bind it to one algorithm: its ``alg``, exactly, when it has
    one; otherwise the one its key type implies (``implied_alg``)."""
    if not isinstance(data, Mapping):
        raise InvalidKey("a JWK must be a JSON object")
    if PRIVATE_MEMBERS & data.keys():
        raise InvalidKey("a public JWK must not carry private key members")
    alg = data.get("alg", None)
    if alg is None:
        alg = implied_alg(data)
    if not isinstance(alg, str) or alg not in ALLOWED:
        raise InvalidKey("JWK alg is not an allowed asymmetric algorithm")
    kid = data.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise InvalidKey("JWK kid must be a string")
    public = _public_from_jwk(data, alg)
    return _verification_key(public, alg, kid if isinstance(kid, str) else None)


def signing_key_from_private(
    private: PrivateKeyTypes, alg: str | None = None, kid: str | None = None
) -> SigningKey:
    alg = alg or _default_alg(private)
    _check_binding(private.public_key(), alg)
    public = _verification_key(private.public_key(), alg, None)
    kid = kid or public.thumbprint
    public = _verification_key(private.public_key(), alg, kid)
    return SigningKey(alg, kid, jwk.construct(private, alg), public, private)


def generate_signing_key(alg: str = "ES256", kid: str | None = None) -> SigningKey:
    kty, crv = KEY_TYPE.get(alg, (None, None))
    private: PrivateKeyTypes
    if kty == "EC":
        private = ec.generate_private_key(ec.SECP256R1() if crv == "P-256" else ec.SECP384R1())
    elif kty == "OKP":
        private = ed25519.Ed25519PrivateKey.generate()
    elif kty == "RSA":
        private = rsa.generate_private_key(public_exponent=65537, key_size=_MIN_RSA_BITS)
    else:
        raise ConfigurationError(f"cannot generate a key for algorithm {alg!r}")
    return signing_key_from_private(private, alg, kid)


def shown_path(path: str | Path) -> str:
    """A file setting's value as errors and logs may show it: a value that is not a path
    but what the file should hold (a PEM or JWK key, a token, pasted into ECT_KEY_FILE or
    ECT_WIT_FILE) is never shown."""
    text = str(path)
    if "\n" in text or "-----BEGIN" in text or text.lstrip().startswith(("{", "eyJ")):
        return "(a value that is not a file path; it looks like a key or a token: not shown)"
    return text


def load_signing_key(path: str | Path) -> SigningKey:
    """Load this workload's private key from a PEM (PKCS#8) or a private JWK file."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read key file {shown_path(path)}: {exc.strerror}"
        ) from None
    try:
        if raw.lstrip().startswith(b"{"):
            return _signing_key_from_jwk(json.loads(raw))
        private = serialization.load_pem_private_key(raw, password=None)
    except (ValueError, TypeError, InvalidKey) as exc:
        reason = (
            str(exc) if isinstance(exc, InvalidKey) else "not a PEM (PKCS#8) or JWK private key"
        )
        raise ConfigurationError(f"key file {path}: {reason}") from None
    if not isinstance(
        private, (ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey, rsa.RSAPrivateKey)
    ):
        raise ConfigurationError(f"key file {path}: unsupported key type")
    try:
        return signing_key_from_private(private)
    except InvalidKey as exc:
        raise ConfigurationError(f"key file {path}: {exc}") from None


def _signing_key_from_jwk(data: Any) -> SigningKey:
    if not isinstance(data, dict) or "d" not in data:
        raise InvalidKey("a private JWK must be an object with a 'd' member")
    alg = data.get("alg")
    public = _public_from_jwk(data, alg if isinstance(alg, str) else None)
    alg = alg if isinstance(alg, str) else _default_alg_public(public)
    if alg not in ALLOWED:
        raise InvalidKey("JWK alg is not an allowed asymmetric algorithm")
    d = _b64int(data, "d") if data.get("kty") != "OKP" else 0
    private: PrivateKeyTypes
    if isinstance(public, ec.EllipticCurvePublicKey):
        private = ec.derive_private_key(d, public.curve)
        if private.public_key().public_numbers() != public.public_numbers():
            raise InvalidKey("JWK private and public parts do not match")
    elif isinstance(public, ed25519.Ed25519PublicKey):
        private = ed25519.Ed25519PrivateKey.from_private_bytes(_b64bytes(data, "d"))
        if private.public_key().public_bytes_raw() != public.public_bytes_raw():
            raise InvalidKey("JWK private and public parts do not match")
    else:
        raise InvalidKey("private RSA JWKs are not supported; use a PKCS#8 PEM file")
    kid = data.get("kid")
    return signing_key_from_private(private, alg, kid if isinstance(kid, str) else None)


def _verification_key(public: PublicKeyTypes, alg: str, kid: str | None) -> VerificationKey:
    _check_binding(public, alg)
    jose_key = jwk.construct(public, alg)
    data: dict[str, str] = {k: str(v) for k, v in jose_key.to_dict().items()}
    data["alg"] = alg
    if kid is not None:
        data["kid"] = kid
    return VerificationKey(alg, kid, jose_key, data)


def _public_from_jwk(data: Mapping[str, Any], alg: str | None) -> PublicKeyTypes:
    kty, crv = data.get("kty"), data.get("crv")
    if alg is not None and KEY_TYPE.get(alg, (None, None))[0] != kty:
        raise InvalidKey("JWK key type does not match its alg")
    try:
        if kty == "EC":
            curve = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1()}.get(str(crv))
            if curve is None:
                raise InvalidKey("unsupported EC curve")
            numbers = ec.EllipticCurvePublicNumbers(_b64int(data, "x"), _b64int(data, "y"), curve)
            return numbers.public_key()
        if kty == "OKP":
            if crv != "Ed25519":
                raise InvalidKey("unsupported OKP curve")
            x = _b64bytes(data, "x")
            if len(x) != 32:
                raise InvalidKey("Ed25519 public key must be 32 bytes")
            return ed25519.Ed25519PublicKey.from_public_bytes(x)
        if kty == "RSA":
            return rsa.RSAPublicNumbers(_b64int(data, "e"), _b64int(data, "n")).public_key()
    except InvalidKey:
        raise
    except (ValueError, TypeError) as exc:
        raise InvalidKey("JWK does not describe a valid public key") from exc
    raise InvalidKey("unsupported JWK key type")


def _check_binding(public: PublicKeyTypes, alg: str) -> None:
    kty, crv = KEY_TYPE.get(alg, (None, None))
    if isinstance(public, ec.EllipticCurvePublicKey):
        actual = {"secp256r1": "P-256", "secp384r1": "P-384"}.get(public.curve.name)
        ok = kty == "EC" and actual == crv
    elif isinstance(public, ed25519.Ed25519PublicKey):
        ok = kty == "OKP"
    else:
        ok = kty == "RSA" and public.key_size >= _MIN_RSA_BITS
    if not ok:
        raise InvalidKey(f"key does not fit algorithm {alg}")


def _default_alg(private: PrivateKeyTypes) -> str:
    return _default_alg_public(private.public_key())


def _default_alg_public(public: PublicKeyTypes) -> str:
    if isinstance(public, ec.EllipticCurvePublicKey):
        return {"secp256r1": "ES256", "secp384r1": "ES384"}.get(public.curve.name, "unsupported")
    if isinstance(public, ed25519.Ed25519PublicKey):
        return "EdDSA"
    return "RS256"


def _b64bytes(data: Mapping[str, Any], member: str) -> bytes:
    value = data.get(member)
    if not isinstance(value, str):
        raise InvalidKey(f"JWK member {member!r} missing")
    try:
        return b64url_decode(value)
    except ValueError:
        raise InvalidKey(f"JWK member {member!r} is not base64url") from None


def _b64int(data: Mapping[str, Any], member: str) -> int:
    return int.from_bytes(_b64bytes(data, member), "big")


def same_algorithm_family(a: str, b: str) -> bool:
    """True when two JOSE names denote one algorithm (only the two Ed25519 names do)."""
    return a == b or (a in ED25519_NAMES and b in ED25519_NAMES)

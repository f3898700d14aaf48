"""The algorithm allow-list, and Ed25519 for python-jose.

python-jose has no EdDSA. Rather than a second JWS code path, we register a key class backed
by ``cryptography``'s Ed25519 through python-jose's own extension point
(``jose.jwk.register_key``), under both JOSE names (``EdDSA`` and RFC 9864's ``Ed25519``).
"""

from __future__ import annotations

from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from jose import jwk
from jose.backends.base import Key
from jose.exceptions import JWKError

from .encoding import b64url_decode, b64url_encode

ED25519_NAMES: Final = frozenset({"EdDSA", "Ed25519"})

#: Asymmetric algorithms this library signs and verifies with; anything else is rejected,
#: including ``none`` and every ``HS*``.
ALLOWED: Final = frozenset({"ES256", "ES384", "RS256"}) | ED25519_NAMES

#: JOSE ``kty``/``crv`` each algorithm is bound to: a key is only ever used with its own kind.
KEY_TYPE: Final[dict[str, tuple[str, str | None]]] = {
    "ES256": ("EC", "P-256"),
    "ES384": ("EC", "P-384"),
    "RS256": ("RSA", None),
    "EdDSA": ("OKP", "Ed25519"),
    "Ed25519": ("OKP", "Ed25519"),
}


class Ed25519Key(Key):  # type: ignore[misc]  # python-jose ships no type information
    """A python-jose key backed by cryptography's Ed25519 (RFC 8037 OKP keys)."""

    def __init__(self, key: Any, algorithm: str) -> None:
        if algorithm not in ED25519_NAMES:
            raise JWKError(f"{algorithm} is not an Ed25519 algorithm")
        self._algorithm = algorithm
        if isinstance(key, (Ed25519PrivateKey, Ed25519PublicKey)):
            self.prepared_key: Ed25519PrivateKey | Ed25519PublicKey = key
        elif isinstance(key, dict):
            self.prepared_key = _okp_from_jwk(key)
        else:
            raise JWKError("Ed25519 keys are built from a cryptography key or an OKP JWK")

    def sign(self, msg: bytes) -> bytes:
        if not isinstance(self.prepared_key, Ed25519PrivateKey):
            raise JWKError("cannot sign with a public key")
        return self.prepared_key.sign(msg)

    def verify(self, msg: bytes, sig: bytes) -> bool:
        public = self._public()
        try:
            public.verify(sig, msg)
        except InvalidSignature:
            return False
        return True

    def is_public(self) -> bool:
        return isinstance(self.prepared_key, Ed25519PublicKey)

    def public_key(self) -> Ed25519Key:
        return Ed25519Key(self._public(), self._algorithm)

    def to_pem(self) -> bytes:
        if isinstance(self.prepared_key, Ed25519PublicKey):
            return self.prepared_key.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        return self.prepared_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def to_dict(self) -> dict[str, str]:
        raw = self._public().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        data = {"kty": "OKP", "crv": "Ed25519", "alg": self._algorithm, "x": b64url_encode(raw)}
        if isinstance(self.prepared_key, Ed25519PrivateKey):
            data["d"] = b64url_encode(
                self.prepared_key.private_bytes(
                    serialization.Encoding.Raw,
                    serialization.PrivateFormat.Raw,
                    serialization.NoEncryption(),
                )
            )
        return data

    def _public(self) -> Ed25519PublicKey:
        if isinstance(self.prepared_key, Ed25519PrivateKey):
            return self.prepared_key.public_key()
        return self.prepared_key


def _okp_from_jwk(data: dict[str, Any]) -> Ed25519PrivateKey | Ed25519PublicKey:
    if data.get("kty") != "OKP" or data.get("crv") != "Ed25519":
        raise JWKError("not an Ed25519 OKP key")
    try:
        if "d" in data:
            return Ed25519PrivateKey.from_private_bytes(b64url_decode(data["d"]))
        return Ed25519PublicKey.from_public_bytes(b64url_decode(data["x"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise JWKError("malformed Ed25519 key") from exc


def register() -> None:
    """Teach python-jose both Ed25519 names (idempotent)."""
    for name in ED25519_NAMES:
        jwk.register_key(name, Ed25519Key)


register()

"""The only door to python-jose: compact JWS signing and verification, made safe.

python-jose trusts the header's ``alg``, never checks ``typ``, tries every key of a set and
does its base64/JSON work before any size check. So every token is first bounded in size,
shape-checked and its header parsed here; ``typ``, the algorithm allow-list and forbidden
headers are enforced; and only then is python-jose called with exactly one key and exactly
the one algorithm that key is bound to.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jose import jws
from jose.exceptions import JOSEError

from ..errors import ECTError
from .algorithms import ALLOWED
from .encoding import b64url_decode, is_b64url, json_object
from .keys import SigningKey, VerificationKey

_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")

#: Headers that would point at keys outside our configuration, or change how the JWS is
#: processed (critical extensions, unencoded payloads): never honoured, always rejected.
FORBIDDEN_HEADERS = frozenset({"jku", "x5u", "jwk", "x5c", "x5t", "x5t#S256", "crit", "b64", "zip"})


@dataclass(frozen=True)
class TokenKind:
    """One of the three token types: its error-code prefix and its ``typ`` values."""

    name: str
    typ: str
    accepted_typ: frozenset[str]

    def error(self, reason: str, detail: str) -> ECTError:
        return ECTError(f"{self.name}.{reason}", detail)


WIT = TokenKind("wit", "wit+jwt", frozenset({"wit+jwt", "application/wit+jwt"}))
WPT = TokenKind("wpt", "wpt+jwt", frozenset({"wpt+jwt", "application/wpt+jwt"}))
ECT = TokenKind(
    "ect",
    "wimse-exec+jwt",
    frozenset({"wimse-exec+jwt", "application/wimse-exec+jwt", "exec+jwt", "application/exec+jwt"}),
)
KINDS = (WIT, WPT, ECT)


@dataclass(frozen=True)
class UnverifiedToken:
    """A token whose size, shape and header passed; its signature is not yet checked."""

    kind: TokenKind
    token: str
    header: Mapping[str, Any]

    @property
    def alg(self) -> str:
        return str(self.header["alg"])

    @property
    def kid(self) -> str | None:
        kid = self.header.get("kid")
        return kid if isinstance(kid, str) else None


def parse(token: str, kind: TokenKind, max_bytes: int) -> UnverifiedToken:
    """Bound, shape-check and read the header of ``token``; enforce typ and the allow-list."""
    if len(token) > max_bytes:
        raise kind.error("too_large", f"token longer than {max_bytes} bytes")
    if not _COMPACT.fullmatch(token) or not all(map(is_b64url, token.split("."))):
        raise kind.error("malformed", "not three base64url segments")
    header = read_header(token)
    if header is None:
        raise kind.error("malformed", "header is not a base64url JSON object")
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower() not in kind.accepted_typ:
        raise kind.error("typ_invalid", f"typ must be {kind.typ}")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in ALLOWED:
        raise kind.error("alg_not_allowed", "alg is not on the allow-list")
    forbidden = FORBIDDEN_HEADERS.intersection(header)
    if forbidden:
        raise kind.error("header_forbidden", f"header {sorted(forbidden)[0]!r} is not accepted")
    if "kid" in header and not isinstance(header["kid"], str):
        raise kind.error("malformed", "kid must be a string")
    return UnverifiedToken(kind, token, header)


def read_header(token: str) -> dict[str, Any] | None:
    """The decoded JOSE header of a compact JWS, or None; trusts nothing."""
    try:
        return json_object(b64url_decode(token.split(".", 1)[0]))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def read_payload(token: str) -> dict[str, Any] | None:
    """The decoded payload of a compact JWS, or None; trusts nothing (for inspection)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        return json_object(b64url_decode(parts[1]))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def verify(unverified: UnverifiedToken, key: VerificationKey) -> dict[str, Any]:
    """Check the signature with ``key`` only, and return the claims object.

    The caller has already bound the header's ``alg`` to ``key`` (see the token modules);
    python-jose is given that one key and that one algorithm.
    """
    kind = unverified.kind
    try:
        payload = jws.verify(unverified.token, key.jose_key, algorithms=[unverified.alg])
    except JOSEError:
        raise kind.error("bad_signature", "signature does not verify") from None
    try:
        return json_object(payload)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise kind.error("malformed", "payload is not a JSON object") from None


def sign(claims: Mapping[str, Any], key: SigningKey, kind: TokenKind, *, with_kid: bool) -> str:
    headers: dict[str, str] = {"typ": kind.typ}
    if with_kid:
        headers["kid"] = key.kid
    token: str = jws.sign(dict(claims), key.jose_key, headers=headers, algorithm=key.alg)
    return token

"""The only door to python-jose: compact JWS signing and verification, made safe.

python-jose trusts the header's ``alg``, never checks ``typ``, tries every key of a set and
does its base64/JSON work before any size check. So every token is first bounded in size,
shape-checked and its header read here (a header segment already accepted for the kind is
not parsed again); ``typ``, the algorithm allow-list and forbidden headers are enforced; and
only then does python-jose check the signature, with exactly one key, bound to exactly one
algorithm.

Both directions go through python-jose's public key interface, the calls its own
``jws.verify`` and ``jws.sign`` end in. Verification hands ``Key.verify`` the parts this
module has already split and decoded (the signing input and the signature) instead of the
whole token to ``jws.verify``, which would split, decode and parse the header a second
time. Signing hands ``Key.sign`` the signing input written here: the header segment, the
same for every token of one key and kind, is serialized once and kept (as ``jws.sign``
writes it: compact, sorted members), the payload per token (see ``sign``).
"""

from __future__ import annotations

import base64
import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ..errors import ECTError
from .algorithms import ALLOWED
from .encoding import (
    NotIJSONNumber,
    b64url_decode,
    compact_json,
    decode_checked,
    has_canonical_end,
    json_object,
)
from .keys import SigningKey, VerificationKey

_COMPACT = re.compile(r"([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)")

#: Headers that would point at keys outside our configuration, or change how the JWS is
#: processed (critical extensions, unencoded payloads): never honoured, always rejected.
FORBIDDEN_HEADERS = frozenset({"jku", "x5u", "jwk", "x5c", "x5t", "x5t#S256", "crit", "b64", "zip"})


@dataclass(frozen=True)
class KindCodes:
    """One token kind's codes for the checks all three kinds share (``errors.CODES``),
    each spelled in full where the kind is declared below, so it can be found by grep."""

    missing: str
    duplicate: str
    too_large: str
    malformed: str
    typ_invalid: str
    alg_not_allowed: str
    header_forbidden: str
    bad_signature: str
    expired: str
    not_yet_valid: str
    claims_invalid: str


@dataclass(frozen=True)
class TokenKind:
    """One of the three token types: its name, its ``typ`` values and its shared codes."""

    name: str
    typ: str
    accepted_typ: frozenset[str]
    codes: KindCodes


WIT = TokenKind(
    "wit",
    "wit+jwt",
    frozenset({"wit+jwt", "application/wit+jwt"}),
    KindCodes(
        missing="wit.missing",
        duplicate="wit.duplicate",
        too_large="wit.too_large",
        malformed="wit.malformed",
        typ_invalid="wit.typ_invalid",
        alg_not_allowed="wit.alg_not_allowed",
        header_forbidden="wit.header_forbidden",
        bad_signature="wit.bad_signature",
        expired="wit.expired",
        not_yet_valid="wit.not_yet_valid",
        claims_invalid="wit.claims_invalid",
    ),
)
WPT = TokenKind(
    "wpt",
    "wpt+jwt",
    frozenset({"wpt+jwt", "application/wpt+jwt"}),
    KindCodes(
        missing="wpt.missing",
        duplicate="wpt.duplicate",
        too_large="wpt.too_large",
        malformed="wpt.malformed",
        typ_invalid="wpt.typ_invalid",
        alg_not_allowed="wpt.alg_not_allowed",
        header_forbidden="wpt.header_forbidden",
        bad_signature="wpt.bad_signature",
        expired="wpt.expired",
        not_yet_valid="wpt.not_yet_valid",
        claims_invalid="wpt.claims_invalid",
    ),
)
ECT = TokenKind(
    "ect",
    "wimse-exec+jwt",
    frozenset({"wimse-exec+jwt", "application/wimse-exec+jwt", "exec+jwt", "application/exec+jwt"}),
    KindCodes(
        missing="ect.missing",
        duplicate="ect.duplicate",
        too_large="ect.too_large",
        malformed="ect.malformed",
        typ_invalid="ect.typ_invalid",
        alg_not_allowed="ect.alg_not_allowed",
        header_forbidden="ect.header_forbidden",
        bad_signature="ect.bad_signature",
        expired="ect.expired",
        not_yet_valid="ect.not_yet_valid",
        claims_invalid="ect.claims_invalid",
    ),
)
KINDS = (WIT, WPT, ECT)


@dataclass(frozen=True)
class UnverifiedToken:
    """A token whose size, shape and header passed; its signature is not yet checked."""

    kind: TokenKind
    token: str
    header: Mapping[str, Any]
    #: the segments as split once by ``parse``: ``header.payload`` and the payload alone
    signing_input: bytes = field(repr=False)
    payload_segment: str = field(repr=False)
    signature_segment: str = field(repr=False)

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
        raise ECTError(kind.codes.too_large, f"token longer than {max_bytes} bytes")
    match = _COMPACT.fullmatch(token)
    if match is None:
        raise ECTError(kind.codes.malformed, "not three base64url segments")
    header_segment, payload_segment, signature_segment = match.groups()
    if not (has_canonical_end(payload_segment) and has_canonical_end(signature_segment)):
        raise ECTError(kind.codes.malformed, "not three base64url segments")
    if len(header_segment) <= _CACHED_HEADER_CHARS:
        header = _cached_header(header_segment, kind)
    else:
        header = _checked_header(header_segment, kind)
    signing_input = token[: len(header_segment) + 1 + len(payload_segment)].encode("ascii")
    return UnverifiedToken(kind, token, header, signing_input, payload_segment, signature_segment)


def _checked_header(segment: str, kind: TokenKind) -> Mapping[str, Any]:
    """The header segment decoded, with typ, the allow-list and forbidden headers enforced."""
    if not has_canonical_end(segment):
        raise ECTError(kind.codes.malformed, "not three base64url segments")
    try:
        header = json_object(decode_checked(segment))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ECTError(kind.codes.malformed, "header is not a base64url JSON object") from None
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower() not in kind.accepted_typ:
        raise ECTError(kind.codes.typ_invalid, f"typ must be {kind.typ}")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in ALLOWED:
        raise ECTError(kind.codes.alg_not_allowed, "alg is not on the allow-list")
    forbidden = FORBIDDEN_HEADERS.intersection(header)
    if forbidden:
        raise ECTError(
            kind.codes.header_forbidden, f"header {sorted(forbidden)[0]!r} is not accepted"
        )
    if "kid" in header and not isinstance(header["kid"], str):
        raise ECTError(kind.codes.malformed, "kid must be a string")
    return MappingProxyType(header)


#: A peer's tokens of one kind all carry the same header segment, so checked headers are
#: kept (read-only, and only when short: ours are under 150 characters). A rejected header
#: raises, so is never kept.
_CACHED_HEADER_CHARS = 512
_cached_header = functools.lru_cache(maxsize=256)(_checked_header)


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

    The caller has already bound the header's ``alg`` to ``key`` (see the token modules).
    ``key.jose_key`` was built by python-jose for that one algorithm, and only that key
    checks the signature: no algorithm is ever taken from the token.
    """
    kind = unverified.kind
    try:
        signature = decode_checked(unverified.signature_segment)
        valid = key.jose_key.verify(unverified.signing_input, signature)
    except Exception:  # as in python-jose's jws.verify: a key that raises has not verified
        valid = False
    if not valid:
        raise ECTError(kind.codes.bad_signature, "signature does not verify")
    return unverified_claims(unverified)


def unverified_claims(unverified: UnverifiedToken) -> dict[str, Any]:
    """The claims object, its signature not (yet) checked: a payload that is not a JSON
    object is the kind's ``malformed``, one holding a NaN or an infinity (not I-JSON) its
    ``claims_invalid``."""
    kind = unverified.kind
    try:
        return json_object(decode_checked(unverified.payload_segment))
    except NotIJSONNumber:
        raise ECTError(
            kind.codes.claims_invalid, "a claim is NaN or infinite (not I-JSON)"
        ) from None
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ECTError(kind.codes.malformed, "payload is not a JSON object") from None


def sign(
    claims: dict[str, Any],
    key: SigningKey,
    kind: TokenKind,
    *,
    with_kid: bool,
    typ: str | None = None,
) -> str:
    """Compact JWS of ``claims`` signed by ``key`` with its own algorithm, by python-jose.

    The payload is serialized here, as compact UTF-8 I-JSON (a NaN, an infinity or a lone
    surrogate raises instead of being signed); python-jose's key object, built for the
    key's one algorithm, signs the signing input. ``typ`` is the kind's own unless one of
    the kind's accepted values is given (an ECT minted in the -01 form).
    """
    if typ is not None and typ not in kind.accepted_typ:
        raise ValueError(f"{typ!r} is not a typ of {kind.name}")
    header = _header_segment(key.alg, typ or kind.typ, key.kid if with_kid else None)
    signing_input = header + base64.urlsafe_b64encode(compact_json(claims)).rstrip(b"=")
    signature = base64.urlsafe_b64encode(key.jose_key.sign(signing_input)).rstrip(b"=")
    return (signing_input + b"." + signature).decode("ascii")


@functools.lru_cache(maxsize=256)
def _header_segment(alg: str, typ: str, kid: str | None) -> bytes:
    """The encoded JOSE header of the tokens one key signs for one kind, with the dot that
    follows it; written as python-jose's ``jws.sign`` writes it (compact, sorted)."""
    header = {"alg": alg, "typ": typ} if kid is None else {"alg": alg, "kid": kid, "typ": typ}
    text = json.dumps(header, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return base64.urlsafe_b64encode(text).rstrip(b"=") + b"."

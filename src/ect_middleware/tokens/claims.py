"""Typed reads of JWT claims: each failure is the token kind's ``claims_invalid`` error."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..errors import ECTError
from .jws import TokenKind

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_HASH = re.compile(r"[A-Za-z0-9_-]{43}")


def is_uuid(value: object) -> bool:
    return isinstance(value, str) and _UUID.fullmatch(value) is not None


def is_hash(value: object) -> bool:
    """A base64url SHA-256 digest without padding."""
    return isinstance(value, str) and _HASH.fullmatch(value) is not None


def string(claims: Mapping[str, Any], name: str, kind: TokenKind, *, max_len: int = 2048) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise ECTError(kind.codes.claims_invalid, f"claim {name!r} must be a non-empty string")
    return value


def audience(claims: Mapping[str, Any], kind: TokenKind) -> tuple[str, ...]:
    """``aud`` as RFC 7519 §4.1.3 allows it: one string, or a non-empty array of strings."""
    aud = claims.get("aud")
    if isinstance(aud, str) and aud:
        return (aud,)
    if isinstance(aud, list) and aud and all(isinstance(a, str) and a for a in aud):
        return tuple(aud)
    raise ECTError(kind.codes.claims_invalid, "aud must be a string or an array of strings")


def optional_string(
    claims: Mapping[str, Any], name: str, kind: TokenKind, *, max_len: int = 2048
) -> str | None:
    if name not in claims:
        return None
    return string(claims, name, kind, max_len=max_len)


def not_before(claims: Mapping[str, Any], kind: TokenKind, now: float, leeway: float) -> None:
    """RFC 7519 §4.1.5: a token must not be accepted before its ``nbf``, when it has one."""
    if "nbf" in claims and numeric_date(claims, "nbf", kind) > now + leeway:
        raise ECTError(kind.codes.not_yet_valid, "nbf is in the future")


def numeric_date(claims: Mapping[str, Any], name: str, kind: TokenKind) -> float:
    value = claims.get(name)
    # bool is an int in Python; a NumericDate is a JSON number, never true/false.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 2**53:
        raise ECTError(kind.codes.claims_invalid, f"claim {name!r} must be a NumericDate")
    return float(value)

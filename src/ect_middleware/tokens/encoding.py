"""Base64url and hashing helpers shared by every token kind."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(segment: str) -> bytes:
    """Strict base64url: the URL-safe alphabet only, no padding, no stray characters."""
    if len(segment) % 4 == 1 or not _B64URL.fullmatch(segment):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def sha256_b64url(data: str | bytes) -> str:
    """base64url(SHA-256(octets)) without padding: the form of wth, ath, oth and *_hash."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return b64url_encode(hashlib.sha256(data).digest())


def json_object(data: bytes) -> dict[str, Any]:
    """Parse UTF-8 JSON that must be an object (duplicate member names are rejected)."""
    value = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member name")
    return result

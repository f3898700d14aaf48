"""Base64url and hashing helpers shared by every token kind."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")
#: Bits of the last character that carry no data, by ``len(segment) % 4``.
_PAD_BITS_MASK = {0: 0, 2: 0b1111, 3: 0b11}


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def is_b64url(segment: str) -> bool:
    """True when ``segment`` is the one canonical unpadded base64url form of some octets.

    The pad bits of the last character must be zero: otherwise several strings decode to the
    same octets, and a JWS signature segment could be altered without failing to verify.
    """
    if len(segment) % 4 == 1 or not _B64URL.fullmatch(segment):
        return False
    mask = _PAD_BITS_MASK[len(segment) % 4]
    return not mask or _ALPHABET.index(segment[-1]) & mask == 0


def b64url_decode(segment: str) -> bytes:
    """Strict base64url: the URL-safe alphabet only, no padding, no stray characters."""
    if not is_b64url(segment):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def sha256_b64url(data: str | bytes) -> str:
    """base64url(SHA-256(octets)) without padding: the form of wth, ath, oth and *_hash."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return b64url_encode(hashlib.sha256(data).digest())


def json_object(data: bytes) -> dict[str, Any]:
    """Parse UTF-8 JSON that must be an object (duplicate member names are rejected).

    Strings must be Unicode text: an escaped surrogate that is not half of a pair decodes to
    a lone surrogate, which fails later wherever the claim is encoded (a log line, a ledger
    row), so it is rejected here (I-JSON, RFC 7493 §2.1).
    """
    text = data.decode("utf-8")
    value = json.loads(text, object_pairs_hook=_no_duplicates)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    if _ESCAPED_SURROGATE.search(text):
        json.dumps(value, ensure_ascii=False).encode("utf-8")  # UnicodeEncodeError if lone
    return value


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member name")
    return result

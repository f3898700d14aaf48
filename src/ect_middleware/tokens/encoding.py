"""Base64url and hashing helpers shared by every token kind."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from typing import Any

from ..errors import ECTMiddlewareError

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
    return _B64URL.fullmatch(segment) is not None and has_canonical_end(segment)


def has_canonical_end(segment: str) -> bool:
    """The length and pad-bit half of ``is_b64url``, for a segment already known to hold
    only base64url characters (e.g. matched by a regular expression)."""
    if len(segment) % 4 == 1:
        return False
    mask = _PAD_BITS_MASK[len(segment) % 4]
    return not mask or _ALPHABET.index(segment[-1]) & mask == 0


def b64url_decode(segment: str) -> bytes:
    """Strict base64url: the URL-safe alphabet only, no padding, no stray characters."""
    if not is_b64url(segment):
        raise ValueError("not base64url")
    return decode_checked(segment)


def decode_checked(segment: str) -> bytes:
    """Decode a segment that ``is_b64url`` has already accepted (no second check)."""
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
    row), so it is rejected here (I-JSON, RFC 7493 §2.1). Numbers must be finite (RFC 7493
    §2.2): ``NaN``, ``Infinity`` and ``-Infinity`` are not JSON, and a literal too large
    for a double (``1e400``) would read as an infinity; both raise ``NotIJSONNumber`` (a
    ``ValueError``).
    """
    text = data.decode("utf-8")
    value = _DECODER.decode(text)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    if _ESCAPED_SURROGATE.search(text):
        json.dumps(value, ensure_ascii=False).encode("utf-8")  # UnicodeEncodeError if lone
    return value


def compact_json(value: dict[str, Any]) -> bytes:
    """UTF-8 JSON without whitespace: a lone surrogate (``UnicodeEncodeError``) or a NaN or
    infinity (``ValueError``), which are not I-JSON, raise instead of being written."""
    return _ENCODER.encode(value).encode("utf-8")


def json_size(value: object) -> int:
    """Octets of ``value`` as compact UTF-8 JSON (a NaN or an infinity is counted, not
    refused as in ``compact_json``: the bound applies to what was received too)."""
    return len(_SIZE_ENCODER.encode(value).encode("utf-8"))


class NotIJSONNumber(ECTMiddlewareError, ValueError):
    """A NaN or an infinity in JSON text (not I-JSON, RFC 7493 §2.2)."""


def _no_constant(name: str) -> float:
    raise NotIJSONNumber(f"{name} is not an I-JSON number")


def _finite(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise NotIJSONNumber("number out of the I-JSON range")
    return value


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member name")
    return result


# One decoder for every call: ``json.loads`` with any option builds a new decoder (and its
# scanner) each time, which would cost as much as parsing a small JOSE header itself.
# Sharing it across threads is safe, as ``json.loads`` itself shares its default decoder.
# Likewise one encoder each for ``compact_json`` and ``json_size`` (making one outweighs encoding a
# small ``ext``).
_DECODER = json.JSONDecoder(
    object_pairs_hook=_no_duplicates, parse_constant=_no_constant, parse_float=_finite
)
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
_SIZE_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)

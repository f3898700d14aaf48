"""Base64url: round trips, and the strictness every token segment relies on."""

from __future__ import annotations

import base64

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from ect_middleware.tokens.encoding import b64url_decode, b64url_encode, json_object

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@given(st.binary(max_size=512))
def test_round_trip(data: bytes) -> None:
    text = b64url_encode(data)
    assert set(text) <= set(ALPHABET)
    assert b64url_decode(text) == data
    assert text == base64.urlsafe_b64encode(data).decode().rstrip("=")


@given(st.text(alphabet=ALPHABET + "=+/ .\n\x00é", max_size=64))
@example("QR")  # same octet as "QQ", with a non-zero pad bit
@example("AAB")
@example("AAAA=")
@example("A")
def test_decode_accepts_only_the_canonical_encoding(text: str) -> None:
    """Either ``text`` is rejected, or it is exactly the encoding of what it decodes to."""
    try:
        data = b64url_decode(text)
    except ValueError:
        return
    assert b64url_encode(data) == text


@pytest.mark.parametrize("text", ["QR", "QQ=", "QQ==", "Q", "QQ+/", "QQ\n", " QQ", "QQ.QQ"])
def test_decode_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not base64url"):
        b64url_decode(text)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"[]", "not a JSON object"),
        (b'"x"', "not a JSON object"),
        (b"1", "not a JSON object"),
        (b'{"a":1,"a":2}', "duplicate member name"),
        (b'{"a":{"b":1,"b":1}}', "duplicate member name"),
        (b"{", "Expecting"),
        (b"\xff{}", "utf-8"),
        (b'{"a":"\\ud800"}', "surrogates not allowed"),
        (b'{"a":["x\\uDFFF"]}', "surrogates not allowed"),
        (b'{"\\udc00\\ud83d":1}', "surrogates not allowed"),
    ],
)
def test_json_object_rejects(raw: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        json_object(raw)


def test_json_object_accepts_escaped_surrogate_pairs() -> None:
    raw = b'{"a":"\\ud83d\\ude00","b":"\\\\ud800"}'
    assert json_object(raw) == {"a": "\U0001f600", "b": "\\ud800"}

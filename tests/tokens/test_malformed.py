"""§9 size bound and shape: every kind rejects oversize and malformed compact strings."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from ect_middleware.limits import Limits
from ect_middleware.tokens import jws
from ect_middleware.tokens.encoding import b64url_encode

from ..support.tokens import (
    KINDS,
    LIMITS,
    claims_for,
    forge,
    header_for,
    rejected,
    signer_for,
    token_for,
    verify_as,
    world,
)

W = world("ES256")
TOKEN_KINDS = {kind.name: kind for kind in jws.KINDS}


def _last_char_pad_bits(token: str) -> str:
    """The same signature octets, spelled with a non-zero pad bit in the last character."""
    last = token[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return token[:-1] + alphabet[alphabet.index(last) | 1]


def _signed(kind: str, header: bytes | None = None, payload: bytes | None = None) -> str:
    return forge(
        header if header is not None else header_for(kind, W),
        payload if payload is not None else claims_for(kind, W),
        signer_for(kind, W),
    )


def _json(kind: str) -> bytes:
    return json.dumps(claims_for(kind, W)).encode()


SHAPES: dict[str, Callable[[str, str], str]] = {
    "empty": lambda kind, tok: "",
    "truncated in the payload": lambda kind, tok: tok[: tok.index(".") + 5],
    "signature cut off": lambda kind, tok: tok[: tok.rindex(".") + 1],
    "two segments": lambda kind, tok: tok.rsplit(".", 1)[0],
    "four segments": lambda kind, tok: tok + ".AAAA",
    "padding": lambda kind, tok: tok + "==",
    "padded header": lambda kind, tok: tok.replace(".", "=.", 1),
    "plus and slash": lambda kind, tok: tok[:-2] + "+/",
    "space inside": lambda kind, tok: tok[:10] + " " + tok[11:],
    "trailing newline": lambda kind, tok: tok + "\n",
    "non-ascii": lambda kind, tok: tok[:-1] + "é",
    "non-canonical last character": lambda kind, tok: _last_char_pad_bits(tok),
    "header is an array": lambda kind, tok: _signed(kind, header=b'["alg"]'),
    "header has duplicate keys": lambda kind, tok: _signed(
        kind,
        header=b'{"alg":"ES256","typ":"x","typ":"%s"}' % TOKEN_KINDS[kind].typ.encode(),
    ),
    "header not JSON": lambda kind, tok: b64url_encode(b"{alg") + tok[tok.index(".") :],
    "payload is an array": lambda kind, tok: _signed(kind, payload=b"[1,2]"),
    "payload has duplicate keys": lambda kind, tok: _signed(
        kind, payload=b'{"exp":1,"exp":1800000300,' + _json(kind)[1:]
    ),
    "payload not UTF-8": lambda kind, tok: _signed(kind, payload=b'{"sub":"\xff"}'),
    "payload not JSON": lambda kind, tok: _signed(kind, payload=b"not json"),
    "payload with a lone surrogate": lambda kind, tok: _signed(
        kind, payload=json.dumps(claims_for(kind, W) | {"note": "\ud800"}).encode()
    ),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_malformed(kind: str, shape: str) -> None:
    token = SHAPES[shape](kind, token_for(kind, W))
    with rejected(f"{kind}.malformed"):
        verify_as(kind, token, W)


@pytest.mark.parametrize("kind", KINDS)
def test_valid_token_for_each_kind_is_accepted(kind: str) -> None:
    assert verify_as(kind, token_for(kind, W), W) is not None


@pytest.mark.parametrize("kind", KINDS)
def test_over_16_kib_is_too_large(kind: str) -> None:
    claims = claims_for(kind, W) | {"filler": "x" * (16 * 1024)}
    token = forge(header_for(kind, W), claims, signer_for(kind, W))
    assert len(token) > LIMITS.max_token_bytes == 16 * 1024
    with rejected(f"{kind}.too_large"):
        verify_as(kind, token, W)


@pytest.mark.parametrize("kind", KINDS)
def test_size_bound_is_inclusive(kind: str) -> None:
    token = token_for(kind, W)
    assert jws.parse(token, TOKEN_KINDS[kind], len(token)).token == token
    with rejected(f"{kind}.too_large"):
        jws.parse(token, TOKEN_KINDS[kind], len(token) - 1)


def test_too_large_is_checked_before_any_decoding() -> None:
    """A huge string of garbage is refused for its size, not parsed."""
    with rejected("ect.too_large"):
        jws.parse("!" * (LIMITS.max_token_bytes + 1), jws.ECT, LIMITS.max_token_bytes)


def test_configured_limit_applies() -> None:
    small = Limits(max_token_bytes=100)
    with rejected("wit.too_large"):
        W.verifier(limits=small).verify(W.wit)


@pytest.mark.parametrize("note", ["", "x" * 600], ids=["short header", "long header"])
def test_header_rules_hold_for_a_header_seen_before(note: str) -> None:
    """Checked headers are kept per kind (short ones only): a header accepted for one kind
    is still refused for another, a refused one is refused again, and none can be changed."""
    header = header_for("wpt", W) | {"note": note}
    token = forge(header, claims_for("wpt", W), signer_for("wpt", W))
    parsed = jws.parse(token, jws.WPT, LIMITS.max_token_bytes)
    assert parsed.header == header
    assert jws.parse(token, jws.WPT, LIMITS.max_token_bytes).header == header
    with pytest.raises(TypeError):
        parsed.header["alg"] = "none"  # type: ignore[index]
    for _ in range(2):
        with rejected("ect.typ_invalid"):
            jws.parse(token, jws.ECT, LIMITS.max_token_bytes)
    forbidden = forge(header | {"crit": ["exp"]}, claims_for("wpt", W), signer_for("wpt", W))
    for _ in range(2):
        with rejected("wpt.header_forbidden"):
            jws.parse(forbidden, jws.WPT, LIMITS.max_token_bytes)

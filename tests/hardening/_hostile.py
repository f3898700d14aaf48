"""Hostile material: tokens forged byte for byte with the mesh's real keys (and with keys
nobody trusts), and the requests that carry them.

Every token is built from a valid template with members replaced (``edit`` semantics:
``DROP`` removes one), then signed over exactly those bytes by ``forge``, bypassing every
check of the minting helpers. Times are explicit: tokens say ``NOW``-relative instants, and
the service under test reads a ``MovableClock`` that the clock tests shift.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization

from ect_middleware.tokens.encoding import b64url_decode, b64url_encode, sha256_b64url
from ect_middleware.tokens.keys import SigningKey, generate_signing_key, load_signing_key

from ..support.clock import NOW
from ..support.mesh import Mesh
from ..support.tokens import DROP, edit, forge, segment

#: One request header: a name and its value (bytes are sent as they are).
Header = tuple[str, "str | bytes"]

#: Order of the P-256 group: an ECDSA signature (r, s) also verifies as (r, n - s).
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

__all__ = ["DROP", "Attack", "Forger", "Header", "edit", "forge"]


def unsigned(header: Mapping[str, Any], claims: Mapping[str, Any], signature: str = "") -> str:
    """A compact JWS with whatever signature segment is given (``alg: none`` style)."""
    return f"{segment(header)}.{segment(claims)}.{signature}"


def hs256(header: Mapping[str, Any], claims: Mapping[str, Any], secret: bytes) -> str:
    """An HMAC-SHA256 JWS: the algorithm-confusion attack when ``secret`` is a public key."""
    signing_input = f"{segment(header)}.{segment(claims)}"
    mac = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{b64url_encode(mac)}"


def public_pem(key: SigningKey) -> bytes:
    return key.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def malleated(token: str) -> str:
    """The same ES256 JWS with its signature's ``s`` replaced by ``n - s``: a different
    string that verifies just as well."""
    signing_input, signature = token.rsplit(".", 1)
    raw = b64url_decode(signature)
    r, s = raw[:32], int.from_bytes(raw[32:], "big")
    other = r + (P256_ORDER - s).to_bytes(32, "big")
    assert other != raw
    return f"{signing_input}.{b64url_encode(other)}"


def flip_char(token: str, index: int) -> str:
    """``token`` with the base64url character at ``index`` replaced by another one that
    keeps the segment canonical (so only the decoded octets change)."""
    char = token[index]
    replacement = "A" if char != "A" else "B"
    return token[:index] + replacement + token[index + 1 :]


@dataclass(frozen=True)
class Attack:
    """The hostile request, after ``primers`` (requests that must be accepted first)."""

    headers: list[Header]
    primers: tuple[list[Header], ...] = field(default=())


class Forger:
    """Builds tokens and WIMSE request headers for callers of the mesh, against ``server``."""

    def __init__(self, mesh: Mesh, server: str = "b") -> None:
        self.mesh = mesh
        self.server = mesh[server].id
        self.issuers: dict[str, SigningKey] = {
            domain: load_signing_key(path) for domain, path in mesh.identities.issuers.items()
        }
        self.stranger = generate_signing_key("ES256")  # a key no bundle or WIT names

    # -- WIT ---------------------------------------------------------------------------------

    def issuer_of(self, name: str) -> SigningKey:
        workload_id = self.mesh[name].id
        return next(k for d, k in self.issuers.items() if workload_id.startswith(d + "/"))

    def wit_header(self, name: str = "a") -> dict[str, Any]:
        issuer = self.issuer_of(name)
        return {"alg": issuer.alg, "typ": "wit+jwt", "kid": issuer.kid}

    def wit_claims(self, name: str = "a") -> dict[str, Any]:
        wl = self.mesh[name]
        return {
            "sub": wl.id,
            "iat": NOW,
            "exp": NOW + 3600,
            "jti": "wit-" + uuid.uuid4().hex,
            "cnf": {"jwk": dict(wl.key.public.jwk)},
        }

    def wit(
        self,
        name: str = "a",
        *,
        header: Mapping[str, Any] | bytes | None = None,
        claims: Mapping[str, Any] | bytes | None = None,
        signer: SigningKey | None = None,
    ) -> str:
        """A WIT for ``name``, signed by its trust domain's issuer unless ``signer`` says."""
        return forge(
            _merge(self.wit_header(name), header),
            _merge(self.wit_claims(name), claims),
            signer or self.issuer_of(name),
        )

    # -- WPT ---------------------------------------------------------------------------------

    def wpt_claims(
        self, url: str, *, caller: str = "a", wit: str | None = None, ects: str | None = None
    ) -> dict[str, Any]:
        """Valid WPT claims by ``caller`` for ``url``, bound to ``wit`` and the
        Execution-Context value ``ects`` (if any)."""
        base: dict[str, Any] = {
            "aud": url,
            "iat": NOW,
            "exp": NOW + 60,
            "jti": secrets.token_urlsafe(16),
            "wth": sha256_b64url(wit if wit is not None else self.mesh[caller].wit),
        }
        if ects is not None:
            base["oth"] = {"execution-context": sha256_b64url(ects)}
        return base

    def wpt(
        self,
        url: str,
        *,
        caller: str = "a",
        wit: str | None = None,
        ects: str | None = None,
        header: Mapping[str, Any] | bytes | None = None,
        claims: Mapping[str, Any] | bytes | None = None,
        signer: SigningKey | None = None,
    ) -> str:
        """A WPT by ``caller`` for ``url``, bound to ``wit`` and the Execution-Context ``ects``."""
        key = self.mesh[caller].key
        return forge(
            _merge({"alg": key.alg, "typ": "wpt+jwt"}, header),
            _merge(self.wpt_claims(url, caller=caller, wit=wit, ects=ects), claims),
            signer or key,
        )

    # -- ECT ---------------------------------------------------------------------------------

    def ect_claims(self, issuer: str = "a", **changes: Any) -> dict[str, Any]:
        base = {
            "iss": self.mesh[issuer].id,
            "aud": self.server,
            "iat": NOW,
            "exp": NOW + 300,
            "jti": str(uuid.uuid4()),
            "exec_act": "hostile.test",
            "par": [],
            "wid": str(uuid.uuid4()),
        }
        return edit(base, **changes)

    def ect(
        self,
        issuer: str = "a",
        *,
        header: Mapping[str, Any] | bytes | None = None,
        claims: Mapping[str, Any] | bytes | None = None,
        signer: SigningKey | None = None,
    ) -> str:
        key = self.mesh[issuer].key
        return forge(
            _merge({"alg": key.alg, "typ": "wimse-exec+jwt", "kid": key.kid}, header),
            claims if isinstance(claims, bytes) else self.ect_claims(issuer, **(claims or {})),
            signer or key,
        )

    # -- requests ----------------------------------------------------------------------------

    def headers(
        self,
        url: str,
        *,
        caller: str = "a",
        wit: str | None = None,
        ects: Sequence[str] = (),
        wpt: str | None = None,
        wpt_header: Mapping[str, Any] | None = None,
        wpt_claims: Mapping[str, Any] | None = None,
        extra: Sequence[Header] = (),
    ) -> list[Header]:
        """WIMSE headers for one request; every part can be replaced by a hostile one. The
        WPT (unless given) is bound to exactly the WIT and Execution-Context sent."""
        wit = self.mesh[caller].wit if wit is None else wit
        joined = ", ".join(ects) if ects else None
        if wpt is None:
            wpt = self.wpt(
                url, caller=caller, wit=wit, ects=joined, header=wpt_header, claims=wpt_claims
            )
        headers: list[Header] = [("Workload-Identity-Token", wit), ("Workload-Proof-Token", wpt)]
        if joined is not None:
            headers.append(("Execution-Context", joined))
        headers.extend(extra)
        return headers


def _merge(
    base: dict[str, Any], changes: Mapping[str, Any] | bytes | None
) -> dict[str, Any] | bytes:
    """``base`` edited by ``changes``; raw bytes replace the whole segment."""
    if isinstance(changes, bytes):
        return changes
    return edit(base, **(changes or {}))


def jti_of(token: str) -> str | None:
    """The ``jti`` a token claims, read without trusting it (None if unreadable)."""
    from ect_middleware.tokens.jws import read_payload

    payload = read_payload(token)
    jti = payload.get("jti") if payload else None
    return jti if isinstance(jti, str) else None


Build = Callable[[Forger, str], "Attack | list[Header]"]

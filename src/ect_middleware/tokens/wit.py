"""Workload Identity Tokens (PROFILE §3): who the caller is, and the key it proves with."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ECTError
from ..limits import Clock, Limits
from . import claims as c
from . import jws
from .encoding import b64url_encode
from .identifiers import is_workload_id, trust_domain
from .jws import WIT
from .keys import InvalidKey, SigningKey, VerificationKey, public_key_from_jwk
from .trust import TrustBundle


@dataclass(frozen=True)
class VerifiedWIT:
    token: str = field(repr=False)
    sub: str
    exp: float
    cnf: VerificationKey
    claims: Mapping[str, Any] = field(repr=False)
    #: base64url(SHA-256(token)): what a WPT's ``wth`` must equal.
    wth: str = field(repr=False)


def mint_wit(
    issuer: SigningKey,
    sub: str,
    cnf: VerificationKey,
    *,
    lifetime: int,
    clock: Clock,
    iss: str | None = None,
) -> str:
    """Issue a WIT (for development identities and tests; production WITs come from an IdP)."""
    if not is_workload_id(sub):
        raise ValueError("sub must be a workload identifier")
    now = int(clock())
    body: dict[str, Any] = {
        "sub": sub,
        "iat": now,
        "exp": now + lifetime,
        "cnf": {"jwk": dict(cnf.jwk)},
    }
    body["jti"] = b64url_encode(
        hashlib.sha256(f"{sub}{now}{cnf.thumbprint}".encode()).digest()[:16]
    )
    if iss is not None:
        body["iss"] = iss
    return jws.sign(body, issuer, WIT, with_kid=True)


class WITVerifier:
    """Verifies WITs against the trust bundle; caches verified WITs until they expire."""

    def __init__(
        self,
        trust: Callable[[], TrustBundle],
        limits: Limits,
        clock: Clock,
        cache_size: int = 4096,
        audiences: frozenset[str] | None = None,
    ) -> None:
        self._trust = trust
        #: what a WIT's ``aud``, when it has one, must name (this workload, its base URLs);
        #: None for an offline auditor, who is no audience and checks only its form
        self._audiences = audiences
        self._limits = limits
        self._clock = clock
        self._cache_size = cache_size
        self._cache: OrderedDict[bytes, VerifiedWIT] = OrderedDict()
        self._cache_bundle: TrustBundle | None = None
        self._lock = threading.Lock()

    def verify(self, token: str) -> VerifiedWIT:
        if len(token) > self._limits.max_token_bytes:
            raise ECTError("wit.too_large", "token longer than the size limit")
        digest = hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
        bundle = self._trust()
        now = self._clock()
        with self._lock:
            if bundle is not self._cache_bundle:  # keys rotated: trust nothing verified before
                self._cache.clear()
                self._cache_bundle = bundle
            cached = self._cache.get(digest)
            if cached is not None:
                if now < cached.exp + self._limits.leeway:
                    self._cache.move_to_end(digest)
                    return cached
                del self._cache[digest]
        verified = self._verify_uncached(token, b64url_encode(digest), bundle, now)
        with self._lock:
            if bundle is self._cache_bundle:  # not if the keys rotated while verifying
                self._cache[digest] = verified
                if len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return verified

    def _verify_uncached(
        self, token: str, wth: str, bundle: TrustBundle, now: float
    ) -> VerifiedWIT:
        unverified = jws.parse(token, WIT, self._limits.max_token_bytes)
        peek = jws.unverified_claims(unverified)
        sub = peek.get("sub")
        if not is_workload_id(sub):
            raise ECTError("wit.invalid_sub", "sub is not a valid workload identifier")
        domain = trust_domain(str(sub))
        key = bundle.issuer_key(domain, unverified)
        body = jws.verify(unverified, key)
        bundle.check_issuer(domain, c.optional_string(body, "iss", WIT))
        if "aud" in body:
            aud = c.audience(body, WIT)
            if self._audiences is not None and self._audiences.isdisjoint(aud):
                raise ECTError("wit.audience_mismatch", "aud does not name this service")
        exp = c.numeric_date(body, "exp", WIT)
        if now >= exp + self._limits.leeway:
            raise ECTError("wit.expired", "WIT has expired")
        c.not_before(body, WIT, now, self._limits.leeway)
        sub = body.get("sub")
        if not is_workload_id(sub):
            raise ECTError("wit.invalid_sub", "sub is not a valid workload identifier")
        cnf = body.get("cnf")
        try:
            if not isinstance(cnf, dict):
                raise InvalidKey("cnf must be an object")
            cnf_key = public_key_from_jwk(cnf.get("jwk"))
        except InvalidKey as exc:
            raise ECTError("wit.cnf_invalid", f"cnf.jwk: {exc}") from None
        return VerifiedWIT(token, str(sub), exp, cnf_key, body, wth)

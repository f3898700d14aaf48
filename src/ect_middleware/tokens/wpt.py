"""Workload Proof Tokens (PROFILE §4): proof of the WIT's key, bound to one request."""

from __future__ import annotations

import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ECTError
from ..limits import Clock, Limits
from . import claims as c
from . import jws
from .encoding import sha256_b64url
from .jws import WPT
from .keys import SigningKey
from .wit import VerifiedWIT

#: ``oth`` members this project understands: the Execution-Context header (PROFILE §4, rule 6).
EXECUTION_CONTEXT = "execution-context"


_ACCESS_TOKEN_SCHEMES = frozenset({"bearer", "dpop"})


@dataclass(frozen=True)
class Bindings:
    """The other tokens on a request that its WPT must be bound to."""

    bearer: str | None = None  # Authorization: Bearer or DPoP <value> -> ath
    txn_token: str | None = None  # Txn-Token -> tth
    execution_context: str | None = None  # Execution-Context as received -> oth

    @staticmethod
    def bearer_from(authorization: str | None) -> str | None:
        """The access token of an ``Authorization`` value, which ``ath`` binds: a
        ``Bearer`` or a ``DPoP`` (RFC 9449) one, the two schemes that carry one."""
        if authorization is None:
            return None
        scheme, _, value = authorization.strip().partition(" ")
        return value.strip() or None if scheme.lower() in _ACCESS_TOKEN_SCHEMES else None


@dataclass(frozen=True)
class VerifiedWPT:
    jti: str
    exp: float
    claims: Mapping[str, Any] = field(repr=False)


def mint_wpt(
    key: SigningKey,
    wit: str,
    aud: str,
    bindings: Bindings,
    *,
    lifetime: int,
    clock: Clock,
) -> str:
    """A WPT for a request to ``aud``, binding the tokens in ``bindings`` (an
    ``execution_context`` is bound in ``oth`` only when given: a peer that does not
    understand that entry must reject the WPT)."""
    now = int(clock())
    body: dict[str, Any] = {
        "aud": aud,
        "exp": now + lifetime,
        "iat": now,
        "jti": secrets.token_urlsafe(16),
        "wth": sha256_b64url(wit),
    }
    if bindings.bearer is not None:
        body["ath"] = sha256_b64url(bindings.bearer)
    if bindings.txn_token is not None:
        body["tth"] = sha256_b64url(bindings.txn_token.strip())
    if bindings.execution_context is not None:
        body["oth"] = {EXECUTION_CONTEXT: sha256_b64url(bindings.execution_context.strip())}
    return jws.sign(body, key, WPT, with_kid=False)


def verify_wpt(
    token: str,
    wit: VerifiedWIT,
    audiences: Collection[str],
    bindings: Bindings,
    limits: Limits,
    clock: Clock,
    *,
    require_ect_binding: bool = False,
) -> VerifiedWPT:
    """Verify ``token`` as proof for ``wit`` on a request to one of ``audiences`` (full URIs).

    An ``Execution-Context`` header the WPT does not bind in ``oth`` is accepted unless
    ``require_ect_binding``: the ECTs are verified on their own (caller's key, audience,
    replay, DAG) and authorize nothing (PROFILE §4, rule 6). A binding that is present
    must match.
    """
    unverified = jws.parse(token, WPT, limits.max_token_bytes)
    if unverified.alg != wit.cnf.alg:
        raise ECTError("wpt.alg_mismatch", "alg must equal the WIT's cnf.jwk alg")
    body = jws.verify(unverified, wit.cnf)
    now = clock()
    if not any(a in audiences for a in c.audience(body, WPT)):
        raise ECTError("wpt.audience_mismatch", "aud is not this service's URI for the request")
    exp = c.numeric_date(body, "exp", WPT)
    if now >= exp + limits.leeway:
        raise ECTError("wpt.expired", "WPT has expired")
    if exp > now + limits.wpt_max_lifetime + limits.leeway:
        raise ECTError("wpt.lifetime_exceeded", "exp is too far in the future")
    c.not_before(body, WPT, now, limits.leeway)
    jti = c.string(body, "jti", WPT, max_len=256)
    if c.string(body, "wth", WPT) != wit.wth:
        raise ECTError("wpt.wth_mismatch", "wth does not match the WIT")
    if not _bound(body, "ath", bindings.bearer):
        raise ECTError("wpt.ath_mismatch", "ath does not match the Authorization bearer token")
    if not _bound(body, "tth", bindings.txn_token):
        raise ECTError("wpt.tth_mismatch", "tth does not match the Txn-Token")
    _check_other_bindings(
        body.get("oth"), bindings.execution_context, "oth" in body, require_ect_binding
    )
    return VerifiedWPT(jti, exp, body)


def _bound(body: Mapping[str, Any], claim: str, value: str | None) -> bool:
    """Whether ``claim`` binds ``value`` (both absent is bound: nothing to bind)."""
    if value is None and claim not in body:
        return True
    return value is not None and body.get(claim) == sha256_b64url(value.strip())


def _check_other_bindings(
    oth: object, execution_context: str | None, present: bool, required: bool
) -> None:
    if present:
        if not isinstance(oth, dict):
            raise ECTError("wpt.claims_invalid", "oth must be an object")
        unknown = set(oth) - {EXECUTION_CONTEXT}
        if unknown:
            raise ECTError("wpt.oth_unknown", "oth binds a header this service does not understand")
    if not isinstance(oth, dict) or EXECUTION_CONTEXT not in oth:
        if execution_context is not None and required:
            raise ECTError("wpt.oth_mismatch", "Execution-Context is present but not bound in oth")
        return
    if execution_context is None or oth[EXECUTION_CONTEXT] != sha256_b64url(
        execution_context.strip()
    ):
        raise ECTError("wpt.oth_mismatch", "oth does not match the Execution-Context header")

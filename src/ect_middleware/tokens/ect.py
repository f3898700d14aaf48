"""Execution Context Tokens (PROFILE §5): a signed record of one task and its parents."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ECTError
from ..limits import Clock, Limits
from . import claims as c
from . import jws
from .encoding import compact_json, json_object, json_size
from .identifiers import is_workload_id, new_uuid
from .jws import ECT
from .keys import SigningKey
from .wit import VerifiedWIT

#: The longest ``exec_act`` accepted (and minted).
EXEC_ACT_MAX_CHARS = 1024


@dataclass(frozen=True)
class Policy:
    """A policy checkpoint as carried in an ECT (``pol``, ``pol_decision``, ``pol_enforcer``)."""

    policy: str
    decision: str
    enforcer: str | None = None


@dataclass(frozen=True)
class ECTClaims:
    """The validated claims of an ECT (and its compact form, never logged)."""

    token: str = field(repr=False)
    iss: str
    aud: tuple[str, ...]
    iat: float
    exp: float
    jti: str
    exec_act: str
    par: tuple[str, ...]
    wid: str | None = None
    inp_hash: str | None = None
    out_hash: str | None = None
    ext: Mapping[str, Any] | None = None
    policy: Policy | None = None
    claims: Mapping[str, Any] = field(default_factory=dict, repr=False)


def mint_ect(
    key: SigningKey,
    *,
    iss: str,
    aud: str | Collection[str],
    par: Collection[str],
    exec_act: str,
    wid: str | None,
    limits: Limits,
    clock: Clock,
    jti: str | None = None,
    inp_hash: str | None = None,
    out_hash: str | None = None,
    ext: Mapping[str, Any] | None = None,
    policy: Policy | None = None,
) -> ECTClaims:
    """Sign an ECT; claims any receiver would reject raise here, before anything is signed."""
    now = int(clock())
    body: dict[str, Any] = {
        "iss": iss,
        "aud": aud if isinstance(aud, str) else list(aud),
        "iat": now,
        "exp": now + limits.ect_lifetime,
        "jti": jti or new_uuid(),
        "exec_act": exec_act,
        "par": list(par),
    }
    for name, value in (("wid", wid), ("inp_hash", inp_hash), ("out_hash", out_hash)):
        if value is not None:
            body[name] = value
    if ext is not None:
        body["ext"] = _as_received(ext, limits)
    if policy is not None:
        body["pol"] = policy.policy
        body["pol_decision"] = policy.decision
        if policy.enforcer is not None:
            body["pol_enforcer"] = policy.enforcer
    fields = _checked_fields(body, limits)  # the receivers' claim rules, before signing
    token = jws.sign(body, key, ECT, with_kid=True)
    if len(token) > limits.max_token_bytes:  # every receiver would reject it as too large
        raise ValueError(f"the minted ECT exceeds {limits.max_token_bytes} bytes; shrink ext")
    return ECTClaims(token, **fields)


def verify_ect(
    token: str,
    issuer: VerifiedWIT,
    audiences: Collection[str],
    limits: Limits,
    clock: Clock,
) -> ECTClaims:
    """Verify an ECT issued by the holder of ``issuer``'s key, for one of ``audiences``."""
    unverified = jws.parse(token, ECT, limits.max_token_bytes)
    if unverified.alg != issuer.cnf.alg:
        raise ECT.error("alg_mismatch", "alg must equal the issuer's cnf.jwk alg")
    body = jws.verify(unverified, issuer.cnf)
    if c.string(body, "iss", ECT) != issuer.sub:
        raise ECT.error("issuer_mismatch", "iss is not the authenticated caller")
    claims = read_claims(token, body, limits)
    if not audiences or not any(a in audiences for a in claims.aud):
        raise ECT.error("audience_mismatch", "aud does not include this service")
    now = clock()
    if now >= claims.exp + limits.leeway:
        raise ECT.error("expired", "ECT has expired")
    if claims.iat > now + limits.leeway:
        raise ECT.error("issued_in_future", "iat is in the future")
    # Bounded like a WPT's: a replay key is kept until exp, so exp far ahead would let a
    # caller fill the replay cache with keys that never expire.
    longest = limits.ect_max_lifetime
    if claims.exp - claims.iat > longest or claims.exp > now + longest + limits.leeway:
        raise ECT.error("lifetime_exceeded", "exp is too far after iat or in the future")
    c.not_before(claims.claims, ECT, now, limits.leeway)
    return claims


def read_claims(token: str, body: Mapping[str, Any], limits: Limits) -> ECTClaims:
    """Check that every claim is present and well-typed; no signature or time checks."""
    return ECTClaims(token, **_checked_fields(body, limits))


def _checked_fields(body: Mapping[str, Any], limits: Limits) -> dict[str, Any]:
    """Every ``ECTClaims`` field but the token, from ``body`` checked claim by claim: the
    same rules for a received ECT and for one about to be minted."""
    iss = c.string(body, "iss", ECT)
    if not is_workload_id(iss):
        raise ECT.error("claims_invalid", "iss must be a workload identifier")
    aud = body.get("aud")
    if isinstance(aud, str):
        aud = (aud,)
    elif isinstance(aud, list) and aud and all(isinstance(a, str) for a in aud):
        aud = tuple(aud)
    else:
        raise ECT.error("claims_invalid", "aud must be a string or an array of strings")
    iat = c.numeric_date(body, "iat", ECT)
    exp = c.numeric_date(body, "exp", ECT)
    jti = c.string(body, "jti", ECT)
    exec_act = c.string(body, "exec_act", ECT, max_len=EXEC_ACT_MAX_CHARS)
    par = body.get("par")
    if not isinstance(par, list):
        raise ECT.error("claims_invalid", "par must be an array")
    if len(par) > limits.max_parents:
        raise ECTError("dag.too_many_parents", f"par has more than {limits.max_parents} entries")
    wid = c.optional_string(body, "wid", ECT)
    if not c.is_uuid(jti) or (wid is not None and not c.is_uuid(wid)):
        raise ECT.error("invalid_id", "jti and wid must be UUIDs")
    if not all(map(c.is_uuid, par)):
        raise ECT.error("invalid_id", "par entries must be UUIDs")
    # One task, one identifier (PROFILE §6): a UUID is compared in lower case, however
    # the issuer wrote it.
    jti, wid, par = jti.lower(), wid.lower() if wid else None, [p.lower() for p in par]
    if len(set(par)) != len(par) or jti in par:
        raise ECT.error("claims_invalid", "par entries must be distinct and not the task itself")
    inp_hash = _optional_hash(body, "inp_hash")
    out_hash = _optional_hash(body, "out_hash")
    ext = body.get("ext")
    if ext is not None:
        _check_ext(ext, limits)
    return {
        "iss": iss,
        "aud": aud,
        "iat": iat,
        "exp": exp,
        "jti": jti,
        "exec_act": exec_act,
        "par": tuple(par),
        "wid": wid,
        "inp_hash": inp_hash,
        "out_hash": out_hash,
        "ext": ext,
        "policy": _read_policy(body),
        "claims": body,
    }


def _optional_hash(body: Mapping[str, Any], name: str) -> str | None:
    value = c.optional_string(body, name, ECT)
    if value is not None and not c.is_hash(value):
        raise ECT.error("claims_invalid", f"{name} must be a base64url SHA-256 digest")
    return value


def _read_policy(body: Mapping[str, Any]) -> Policy | None:
    if "pol" not in body and "pol_decision" not in body:
        if "pol_enforcer" in body:
            raise ECT.error("claims_invalid", "pol_enforcer without pol")
        return None
    pol = c.string(body, "pol", ECT)
    decision = c.string(body, "pol_decision", ECT, max_len=64)
    enforcer = c.optional_string(body, "pol_enforcer", ECT)
    if enforcer is not None and not is_workload_id(enforcer):
        raise ECT.error("claims_invalid", "pol_enforcer must be a workload identifier")
    return Policy(pol, decision, enforcer)


def _as_received(ext: object, limits: Limits) -> object:
    """``ext`` as receivers will read it, so that the claim rules judge that: tuples become
    arrays, and keys that collide once written as JSON strings (``1`` and ``"1"``) raise
    ``ValueError``. What is no object, or nested too deep, is left for ``_check_ext``."""
    if not isinstance(ext, Mapping) or _deeper_than(ext, limits.ext_max_depth):
        return ext
    return json_object(compact_json(dict(ext)))


def _check_ext(ext: object, limits: Limits) -> None:
    if not isinstance(ext, dict):
        raise ECT.error("claims_invalid", "ext must be an object")
    # Depth first, without recursion: 4096 bytes hold hundreds of levels, which would
    # exhaust the interpreter's recursion limit in a recursive walk or in the JSON encoder.
    if _deeper_than(ext, limits.ext_max_depth):
        raise ECT.error("ext_too_deep", f"ext is nested deeper than {limits.ext_max_depth}")
    if json_size(ext) > limits.ext_max_bytes:
        raise ECT.error("ext_too_large", f"ext is larger than {limits.ext_max_bytes} bytes")


def _deeper_than(value: object, max_depth: int) -> bool:
    """True when objects and arrays (or tuples, in an ``ext`` about to be minted) nest more
    than ``max_depth`` levels (``{}`` is one)."""
    level = [value]
    for _ in range(max_depth + 1):
        containers = [v for v in level if isinstance(v, (dict, list, tuple))]
        if not containers:
            return False
        level = [x for v in containers for x in (v.values() if isinstance(v, dict) else v)]
    return True

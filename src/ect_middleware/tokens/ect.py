"""Execution Context Tokens (PROFILE §5): a signed record of one task and its parents.

Two wire forms are read and written (PROFILE §5.1): draft -00 (``par``, ``ext``, ``pol*`` at
the top level) and draft -01 (``pred``, ``ect_ext``, ``pol*`` inside ``ect_ext``). Both are
read into one model, ``ECTClaims`` (``par``: the parents, ``ext``: the extension without
policy members, ``policy``); the compact token itself is kept byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from ..errors import ECTError
from ..limits import Clock, Limits
from . import claims as c
from . import jws
from .encoding import b64url_decode, compact_json, json_object, json_size
from .identifiers import is_workload_id, new_uuid
from .jws import ECT
from .keys import SigningKey
from .wit import VerifiedWIT

Draft = Literal["00", "01"]
DRAFTS: Final = ("00", "01")
#: the ``typ`` each draft mints with (both are accepted whichever the draft, see jws.ECT)
DRAFT_TYP: Final[dict[str, str]] = {"00": "wimse-exec+jwt", "01": "exec+jwt"}
#: the model's parents and extension, as each draft spells them
_PARENTS: Final = {"00": "par", "01": "pred"}
_EXTENSION: Final = {"00": "ext", "01": "ect_ext"}
POLICY_CLAIMS: Final = ("pol", "pol_decision", "pol_enforcer")
#: an unsecured JWT (alg none): two segments and an empty signature
_UNSECURED = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.")
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
    #: the draft whose spelling the token uses (informational: the model is the same)
    draft: Draft = "00"


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
    draft: Draft = "00",
) -> ECTClaims:
    """Sign an ECT in ``draft``'s wire form; claims any receiver would reject raise here,
    before anything is signed."""
    body = _body(
        iss, aud, par, exec_act, wid, limits, clock, jti, inp_hash, out_hash, ext, policy, draft
    )
    fields = _checked_fields(body, limits)  # the receivers' claim rules, before signing
    return _signed(body, fields, key, draft, limits)


def mint_own_ect(
    key: SigningKey,
    *,
    iss: str,
    aud: str,
    par: Collection[str],
    exec_act: str,
    wid: str,
    limits: Limits,
    clock: Clock,
    jti: str | None = None,
    inp_hash: str | None = None,
    ext: Mapping[str, Any] | None = None,
    policy: Policy | None = None,
    draft: Draft = "00",
) -> ECTClaims:
    """``mint_ect`` for a service's middleware, whose identifiers are already known good:
    ``iss`` and ``aud`` are workload identifiers from its validated settings or from a
    verified WIT, ``jti`` (if given) and ``wid`` lower-case UUIDs it made or verified,
    ``par`` at most ``limits.max_parents`` distinct such UUIDs, ``inp_hash`` a digest it
    computed. What an application supplies (``exec_act``, ``ext``, ``policy``) is checked
    by the same rules as in ``mint_ect``; the identifiers are not checked again."""
    body = _body(
        iss, aud, par, exec_act, wid, limits, clock, jti, inp_hash, None, ext, policy, draft
    )
    parents = tuple(par)
    # Cheap, and not implied by where the identifiers come from: a peer chooses the jti
    # of the completion it returns, which becomes a parent here.
    if len(set(parents)) != len(parents) or body["jti"] in parents:
        raise ECTError("ect.claims_invalid", "par entries must be distinct and not the task itself")
    fields = {
        "iss": iss,
        "aud": (aud,),
        "iat": float(body["iat"]),
        "exp": float(body["exp"]),
        "jti": body["jti"],
        "par": parents,
        "wid": wid,
        "inp_hash": inp_hash,
        "out_hash": None,
        "exec_act": c.string(body, "exec_act", ECT, max_len=EXEC_ACT_MAX_CHARS),
        **_extension_fields(body, draft, limits),
    }
    return _signed(body, fields, key, draft, limits)


def _body(
    iss: str,
    aud: str | Collection[str],
    par: Collection[str],
    exec_act: str,
    wid: str | None,
    limits: Limits,
    clock: Clock,
    jti: str | None,
    inp_hash: str | None,
    out_hash: str | None,
    ext: Mapping[str, Any] | None,
    policy: Policy | None,
    draft: Draft,
) -> dict[str, Any]:
    """The payload to sign, in ``draft``'s wire form."""
    if draft not in DRAFTS:
        raise ValueError(f"unknown ECT draft {draft!r}")
    now = int(clock())
    body: dict[str, Any] = {
        "iss": iss,
        "aud": aud if isinstance(aud, str) else list(aud),
        "iat": now,
        "exp": now + limits.ect_lifetime,
        "jti": jti or new_uuid(),
        "exec_act": exec_act,
        _PARENTS[draft]: list(par),
    }
    if wid is not None:
        body["wid"] = wid
    if inp_hash is not None:
        body["inp_hash"] = inp_hash
    if out_hash is not None:
        body["out_hash"] = out_hash
    extension = None if ext is None else _as_received(ext, limits)
    policy_claims: dict[str, str] = {}
    if policy is not None:
        policy_claims["pol"] = policy.policy
        policy_claims["pol_decision"] = policy.decision
        if policy.enforcer is not None:
            policy_claims["pol_enforcer"] = policy.enforcer
    if draft == "00":
        if extension is not None:
            body["ext"] = extension
        body.update(policy_claims)
    elif extension is None:
        if policy_claims:
            body["ect_ext"] = policy_claims
    elif isinstance(extension, dict):
        if set(POLICY_CLAIMS).intersection(extension):  # -01 keeps the policy there
            raise ValueError("ext must not use the policy names pol, pol_decision, pol_enforcer")
        body["ect_ext"] = {**extension, **policy_claims}
    else:
        body["ect_ext"] = extension  # not an object: _extension_fields refuses it
    return body


def _signed(
    body: dict[str, Any], fields: dict[str, Any], key: SigningKey, draft: Draft, limits: Limits
) -> ECTClaims:
    token = jws.sign(body, key, ECT, with_kid=True, typ=DRAFT_TYP[draft])
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
    refuse_unsigned(token, limits)
    unverified = jws.parse(token, ECT, limits.max_token_bytes)
    if unverified.alg != issuer.cnf.alg:
        raise ECTError("ect.alg_mismatch", "alg must equal the issuer's cnf.jwk alg")
    body = jws.verify(unverified, issuer.cnf)
    if c.string(body, "iss", ECT) != issuer.sub:
        raise ECTError("ect.issuer_mismatch", "iss is not the authenticated caller")
    claims = read_claims(token, body, limits)
    if not audiences or not any(a in audiences for a in claims.aud):
        raise ECTError("ect.audience_mismatch", "aud does not include this service")
    now = clock()
    if now >= claims.exp + limits.leeway:
        raise ECTError("ect.expired", "ECT has expired")
    if claims.iat > now + limits.leeway:
        raise ECTError("ect.issued_in_future", "iat is in the future")
    # Bounded like a WPT's: a replay key is kept until exp, so exp far ahead would let a
    # caller fill the replay cache with keys that never expire.
    longest = limits.ect_max_lifetime
    if claims.exp - claims.iat > longest or claims.exp > now + longest + limits.leeway:
        raise ECTError("ect.lifetime_exceeded", "exp is too far after iat or in the future")
    c.not_before(claims.claims, ECT, now, limits.leeway)
    return claims


def refuse_unsigned(token: str, limits: Limits) -> None:
    """Recognise an unsigned (assurance level L1) ECT and refuse it with its own code: plain
    JSON, base64url JSON without a signature, or an unsecured JWT (RFC 7519 §6: ``alg``
    ``none`` and an empty signature). An unsigned record proves nothing about who made it,
    so it never enters the DAG. A JWS that does carry a signature is left to ``jws.parse``
    (``alg`` ``none`` with a signature stays ``ect.alg_not_allowed``)."""
    if len(token) > limits.max_token_bytes:
        raise ECTError("ect.too_large", f"token longer than {limits.max_token_bytes} bytes")
    if token.startswith("{"):
        raise ECTError("ect.unsigned", "an unsigned ECT (L1) is not accepted")
    if _UNSECURED.fullmatch(token):
        header = jws.read_header(token)
        if header is not None and header.get("alg") == "none":
            raise ECTError("ect.unsigned", "an unsecured ECT (alg none) is not accepted")
        return
    if "." not in token:
        try:
            json_object(b64url_decode(token))
        except (ValueError, UnicodeDecodeError, RecursionError):
            return
        raise ECTError("ect.unsigned", "an unsigned ECT (L1) is not accepted")


def read_claims(token: str, body: Mapping[str, Any], limits: Limits) -> ECTClaims:
    """Check that every claim is present and well-typed; no signature or time checks."""
    return ECTClaims(token, **_checked_fields(body, limits))


def _checked_fields(body: Mapping[str, Any], limits: Limits) -> dict[str, Any]:
    """Every ``ECTClaims`` field but the token, from ``body`` checked claim by claim: the
    same rules for a received ECT and for one about to be minted."""
    iss = c.string(body, "iss", ECT)
    if not is_workload_id(iss):
        raise ECTError("ect.claims_invalid", "iss must be a workload identifier")
    aud = body.get("aud")
    if isinstance(aud, str):
        aud = (aud,)
    elif isinstance(aud, list) and aud and all(isinstance(a, str) for a in aud):
        aud = tuple(aud)
    else:
        raise ECTError("ect.claims_invalid", "aud must be a string or an array of strings")
    iat = c.numeric_date(body, "iat", ECT)
    exp = c.numeric_date(body, "exp", ECT)
    jti = c.string(body, "jti", ECT)
    exec_act = c.string(body, "exec_act", ECT, max_len=EXEC_ACT_MAX_CHARS)
    draft = wire_draft(body)
    par = body.get(_PARENTS[draft])
    if not isinstance(par, list):
        raise ECTError("ect.claims_invalid", f"{_PARENTS[draft]} must be an array")
    if len(par) > limits.max_parents:
        raise ECTError("dag.too_many_parents", f"par has more than {limits.max_parents} entries")
    wid = c.optional_string(body, "wid", ECT)
    if not c.is_uuid(jti) or (wid is not None and not c.is_uuid(wid)):
        raise ECTError("ect.invalid_id", "jti and wid must be UUIDs")
    if not all(map(c.is_uuid, par)):
        raise ECTError("ect.invalid_id", "par entries must be UUIDs")
    # One task, one identifier (PROFILE §6): a UUID is compared in lower case, however
    # the issuer wrote it.
    jti, wid, par = jti.lower(), wid.lower() if wid else None, [p.lower() for p in par]
    if len(set(par)) != len(par) or jti in par:
        raise ECTError("ect.claims_invalid", "par entries must be distinct and not the task itself")
    inp_hash = _optional_hash(body, "inp_hash")
    out_hash = _optional_hash(body, "out_hash")
    return {
        "iss": iss,
        "aud": aud,
        "iat": iat,
        "exp": exp,
        "jti": jti,
        "par": tuple(par),
        "wid": wid,
        "inp_hash": inp_hash,
        "out_hash": out_hash,
        "exec_act": exec_act,
        **_extension_fields(body, draft, limits),
    }


def _extension_fields(body: Mapping[str, Any], draft: Draft, limits: Limits) -> dict[str, Any]:
    """The extension and the policy, checked; with ``claims`` and ``draft``: the last
    ``ECTClaims`` fields, whose content an application chooses, like ``exec_act``."""
    wire_ext = body.get(_EXTENSION[draft])
    if wire_ext is not None:
        _check_ext(wire_ext, limits, _EXTENSION[draft])
    ext, policy = _model_extension(body, draft)
    return {"ext": ext, "policy": policy, "claims": body, "draft": draft}


def wire_draft(body: Mapping[str, Any]) -> Draft:
    """The draft whose spelling ``body`` uses; a claim given in both spellings is refused
    (``ect.draft_conflict``): which one a reader takes would otherwise be up to the reader."""
    if "par" in body and "pred" in body:
        raise ECTError("ect.draft_conflict", "both par and pred are present")
    if "ext" in body and "ect_ext" in body:
        raise ECTError("ect.draft_conflict", "both ext and ect_ext are present")
    ect_ext = body.get("ect_ext")
    if isinstance(ect_ext, dict) and any(n in body and n in ect_ext for n in POLICY_CLAIMS):
        raise ECTError("ect.draft_conflict", "a policy claim is both top-level and in ect_ext")
    return "01" if "pred" in body or ("par" not in body and "ect_ext" in body) else "00"


def _model_extension(
    body: Mapping[str, Any], draft: Draft
) -> tuple[Mapping[str, Any] | None, Policy | None]:
    """The model's extension and policy: -00 keeps ``pol*`` top-level and ``ext`` as it is;
    -01 keeps them in ``ect_ext``, whose other members are the extension. Top-level
    ``pol*`` are read in either form (a -01 writer that kept them there)."""
    wire = body.get(_EXTENSION[draft])
    if draft == "00" or not isinstance(wire, dict):
        return wire, _read_policy(body)
    policy = _read_policy(body if any(n in body for n in POLICY_CLAIMS) else wire)
    rest = {k: v for k, v in wire.items() if k not in POLICY_CLAIMS}
    return (rest if rest or not wire else None), policy


def model_view(
    claims: Mapping[str, Any],
) -> tuple[tuple[str, ...], Mapping[str, Any] | None, Policy | None]:
    """(parents, extension, policy) of a payload already recorded, read leniently for
    views (the ledger, the audit views): what does not fit the rules reads as absent."""
    try:
        draft = wire_draft(claims)
    except ECTError:
        return (), None, None
    parents = claims.get(_PARENTS[draft])
    par = tuple(p for p in parents if isinstance(p, str)) if isinstance(parents, list) else ()
    try:
        ext, policy = _model_extension(claims, draft)
    except ECTError:  # an ill-formed policy: no policy, and the extension as written
        ext, policy = claims.get(_EXTENSION[draft]), None
    return par, ext if isinstance(ext, dict) else None, policy


def _optional_hash(body: Mapping[str, Any], name: str) -> str | None:
    value = c.optional_string(body, name, ECT)
    if value is not None and not c.is_hash(value):
        raise ECTError("ect.claims_invalid", f"{name} must be a base64url SHA-256 digest")
    return value


def _read_policy(body: Mapping[str, Any]) -> Policy | None:
    if "pol" not in body and "pol_decision" not in body:
        if "pol_enforcer" in body:
            raise ECTError("ect.claims_invalid", "pol_enforcer without pol")
        return None
    pol = c.string(body, "pol", ECT)
    decision = c.string(body, "pol_decision", ECT, max_len=64)
    enforcer = c.optional_string(body, "pol_enforcer", ECT)
    if enforcer is not None and not is_workload_id(enforcer):
        raise ECTError("ect.claims_invalid", "pol_enforcer must be a workload identifier")
    return Policy(pol, decision, enforcer)


def _as_received(ext: object, limits: Limits) -> object:
    """``ext`` as receivers will read it, so that the claim rules judge that: tuples become
    arrays, and keys that collide once written as JSON strings (``1`` and ``"1"``) raise
    ``ValueError``. What is no object, or nested too deep, is left for ``_check_ext``."""
    if not isinstance(ext, Mapping) or _deeper_than(ext, limits.ext_max_depth):
        return ext
    return json_object(compact_json(dict(ext)))


def _check_ext(ext: object, limits: Limits, name: str = "ext") -> None:
    if not isinstance(ext, dict):
        raise ECTError("ect.claims_invalid", f"{name} must be an object")
    # Depth first, without recursion: 4096 bytes hold hundreds of levels, which would
    # exhaust the interpreter's recursion limit in a recursive walk or in the JSON encoder.
    if _deeper_than(ext, limits.ext_max_depth):
        raise ECTError("ect.ext_too_deep", f"ext is nested deeper than {limits.ext_max_depth}")
    if json_size(ext) > limits.ext_max_bytes:
        raise ECTError("ect.ext_too_large", f"ext is larger than {limits.ext_max_bytes} bytes")


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

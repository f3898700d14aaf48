"""``ect inspect``: decode a WIT, WPT or ECT without trusting it, and say what looks wrong.

Nothing here verifies a signature, and the signature is never printed: the output describes
what the token *claims*. The checks are the token layer's own (``jws.parse`` for size, shape,
``typ``, ``alg`` and forbidden headers; ``ect.read_claims`` for ECT claims; the claim helpers
for WIT and WPT), arranged so that every problem found is listed, not only the first.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..errors import ECTError
from ..limits import Limits
from ..tokens import claims as c
from ..tokens import jws
from ..tokens.algorithms import ALLOWED
from ..tokens.ect import model_view, read_claims, refuse_unsigned, wire_draft
from ..tokens.encoding import b64url_decode, json_object
from ..tokens.identifiers import is_workload_id
from ..tokens.jws import ECT, WIT, WPT, TokenKind
from ..tokens.keys import PRIVATE_MEMBERS, InvalidKey, public_key_from_jwk
from ..tokens.wpt import EXECUTION_CONTEXT

#: Refuse to read more than this from stdin or a file (tokens are limited to 16 KiB).
MAX_INPUT = 1024 * 1024

REQUIRED: Mapping[str, tuple[str, ...]] = {
    "wit": ("sub", "exp", "cnf"),
    "wpt": ("aud", "exp", "jti", "wth"),
    "ect": ("iss", "aud", "iat", "exp", "jti", "exec_act", "par"),
}

#: A neutral, valid ECT: each received claim is checked alone against it (see ``_ect``).
_NEUTRAL_ECT: Mapping[str, Any] = {
    "iss": "spiffe://inspect.invalid/neutral",
    "aud": "spiffe://inspect.invalid/neutral",
    "iat": 0,
    "exp": 0,
    "jti": "00000000-0000-0000-0000-000000000000",
    "exec_act": "neutral",
}
#: claim groups checked one by one; the parents and extension in both drafts' spellings
_ECT_GROUPS = (*_NEUTRAL_ECT, "par", "pred", "wid", "inp_hash", "out_hash", "ext", "ect_ext", "pol")
_POLICY = ("pol", "pol_decision", "pol_enforcer")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "inspect",
        help="decode a WIT, WPT or ECT without trusting it",
        description="Decode a WIT, WPT or ECT WITHOUT verifying it, and list what looks wrong.",
    )
    p.add_argument("token", metavar="TOKEN", help="a compact JWS, '-' for stdin, or @FILE")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    now = time.time()
    print(render(inspect_token(read_input(args.token), now), now))
    return 0


def read_input(source: str) -> str:
    if source == "-":
        text = sys.stdin.read(MAX_INPUT + 1)
    elif source.startswith("@"):
        with open(source[1:], encoding="utf-8", errors="replace") as handle:
            text = handle.read(MAX_INPUT + 1)
    else:
        text = source
    if len(text) > MAX_INPUT:
        raise ValueError(f"input is larger than {MAX_INPUT} bytes")
    return text.strip()


@dataclass
class Inspection:
    kind: TokenKind | None
    header: dict[str, Any]
    claims: dict[str, Any] | None
    problems: list[str] = field(default_factory=list)


def inspect_token(token: str, now: float, limits: Limits | None = None) -> Inspection:
    """Decode ``token`` and list its problems; ``ValueError`` if it is not a JWS at all
    (nor an unsigned ECT, which is shown with the reason it is never accepted)."""
    limits = limits or Limits()
    unsigned = _unsigned(token, limits)
    if unsigned is not None:
        return unsigned
    segments = token.split(".")
    if len(segments) != 3:
        hint = " (5 segments: is this an encrypted JWE?)" if len(segments) == 5 else ""
        raise ValueError(
            f"not a JWS: expected 3 dot-separated segments, found {len(segments)}{hint}"
        )
    header = jws.read_header(token)
    if header is None:
        raise ValueError("not a JWS: the first segment is not a base64url-encoded JSON object")
    typ = header.get("typ")
    kind = next(
        (k for k in jws.KINDS if isinstance(typ, str) and typ.lower() in k.accepted_typ), None
    )
    result = Inspection(kind, header, jws.read_payload(token))
    result.problems.extend(_header_problems(token, header, kind, limits))
    if result.claims is None:
        result.problems.append("payload is not a base64url-encoded JSON object")
        return result
    result.problems.extend(_time_problems(result.claims, kind, now, limits))
    if kind is WIT:
        result.problems.extend(_wit(result.claims))
    elif kind is WPT:
        result.problems.extend(_wpt(result.claims))
    elif kind is ECT:
        result.problems.extend(_ect(token, result.claims, limits))
    return result


def _unsigned(token: str, limits: Limits) -> Inspection | None:
    """An unsigned (assurance level L1) ECT: plain JSON, base64url JSON, or alg none."""
    try:
        refuse_unsigned(token, limits)
    except ECTError as error:
        if error.code != "ect.unsigned":
            return None
        header = jws.read_header(token) if "." in token else None
        claims: dict[str, Any] | None
        try:
            if token.startswith("{"):
                claims = json_object(token.encode("utf-8", "surrogateescape"))
            else:
                claims = json_object(b64url_decode(token.split(".")[1 if "." in token else 0]))
        except (ValueError, UnicodeDecodeError, RecursionError):
            claims = None
        problem = f"{error.detail} (ect.unsigned): assurance level L1 proves nothing"
        return Inspection(ECT, header or {}, claims, [problem])
    return None


def _header_problems(
    token: str, header: Mapping[str, Any], kind: TokenKind | None, limits: Limits
) -> list[str]:
    found: dict[str, list[str]] = {}

    def add(reason: str, message: str) -> None:
        found.setdefault(reason, []).append(message)

    if len(token) > limits.max_token_bytes:
        add(
            "too_large",
            f"token is {len(token)} bytes, over the {limits.max_token_bytes}-byte limit",
        )
    typ = header.get("typ")
    if typ is None:
        add("typ_invalid", "typ is missing, so the token type is unknown")
    elif kind is None:
        add("typ_invalid", f"typ {json.dumps(typ)} is not a WIT, WPT or ECT type")
    alg = header.get("alg")
    if not isinstance(alg, str):
        add("alg_not_allowed", "alg is missing" if alg is None else "alg is not a string")
    elif alg.lower() == "none":
        add("alg_not_allowed", "alg none is never accepted")
    elif alg.upper().startswith("HS"):
        add("alg_not_allowed", f"alg {alg} is symmetric and never accepted")
    elif alg not in ALLOWED:
        add("alg_not_allowed", f"alg {alg} is not allowed (allowed: {', '.join(sorted(ALLOWED))})")
    for name in sorted(jws.FORBIDDEN_HEADERS.intersection(header)):
        add("header_forbidden", f"forbidden header {name}")
    try:  # the token layer's verdict: also shape, segment encoding and kid
        jws.parse(token, kind or ECT, max(len(token), limits.max_token_bytes))
    except ECTError as error:
        if error.code.partition(".")[2] not in found:
            add("parse", error.detail)
    return [message for messages in found.values() for message in messages]


def _time_problems(
    claims: Mapping[str, Any], kind: TokenKind | None, now: float, limits: Limits
) -> list[str]:
    problems = []
    exp, iat = _number(claims.get("exp")), _number(claims.get("iat"))
    if exp is not None and exp <= now:
        grace = now < exp + limits.leeway
        suffix = f" (still within the {limits.leeway} s leeway)" if grace else ""
        problems.append(f"expired {_span(now - exp)} ago{suffix}")
    if iat is not None and iat > now + limits.leeway:
        problems.append(f"issued {_span(iat - now)} in the future")
    if kind is WPT and exp is not None and exp > now + limits.wpt_max_lifetime + limits.leeway:
        problems.append(
            f"expires in {_span(exp - now)}, beyond the {limits.wpt_max_lifetime} s a WPT may live"
        )
    if exp is not None and iat is not None and exp < iat:
        problems.append("exp is before iat")
    return problems


def _missing(claims: Mapping[str, Any], kind: TokenKind) -> list[str]:
    required = REQUIRED[kind.name]
    if kind is ECT and ("pred" in claims or ("par" not in claims and "ect_ext" in claims)):
        required = tuple("pred" if n == "par" else n for n in required)  # draft -01
    return [f"missing required claim {n}" for n in required if n not in claims]


def _collect(problems: list[str], check: Callable[..., object], *args: Any, **kwargs: Any) -> None:
    """Run one of the token layer's checks; note its verdict instead of stopping."""
    try:
        check(*args, **kwargs)
    except ECTError as error:
        problems.append(error.detail)


def _wit(claims: Mapping[str, Any]) -> list[str]:
    problems = _missing(claims, WIT)
    if "sub" in claims and not is_workload_id(claims["sub"]):
        problems.append("sub is not a workload identifier")
    for name in ("exp", "iat"):
        if name in claims:
            _collect(problems, c.numeric_date, claims, name, WIT)
    if "cnf" in claims:
        cnf = claims["cnf"]
        try:
            public_key_from_jwk(cnf.get("jwk") if isinstance(cnf, dict) else None)
        except InvalidKey as exc:
            problems.append(f"cnf.jwk: {exc}")
    return problems


def _wpt(claims: Mapping[str, Any]) -> list[str]:
    problems = _missing(claims, WPT)
    if "aud" in claims:  # as verify_wpt reads them
        _collect(problems, c.audience, claims, WPT)
    if "jti" in claims:
        _collect(problems, c.string, claims, "jti", WPT, max_len=256)
    aud = claims.get("aud")
    auds = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if any(isinstance(a, str) and ("?" in a or "#" in a) for a in auds):
        problems.append("aud has a query or fragment; it must be the target URI without them")
    for name in ("exp", "iat"):
        if name in claims:
            _collect(problems, c.numeric_date, claims, name, WPT)
    for name in ("wth", "ath", "tth"):
        if name in claims and not c.is_hash(claims[name]):
            problems.append(f"{name} is not a base64url SHA-256 digest")
    oth = claims.get("oth")
    if "oth" in claims and not isinstance(oth, dict):
        problems.append("oth is not an object")
    elif isinstance(oth, dict):
        for name, value in oth.items():
            if name != EXECUTION_CONTEXT:
                problems.append(f"oth binds {json.dumps(name)}, which is not understood")
            elif not c.is_hash(value):
                problems.append(f"oth {name} is not a base64url SHA-256 digest")
    return problems


def _ect(token: str, claims: Mapping[str, Any], limits: Limits) -> list[str]:
    """Check each claim alone (in a neutral valid ECT), so that every bad claim is named;
    then the whole set, for the rules that tie claims together."""
    problems = _missing(claims, ECT)
    try:
        parents = "pred" if wire_draft(claims) == "01" else "par"
    except ECTError as error:
        return [*problems, error.detail]
    for group in _ECT_GROUPS:
        names = _POLICY if group == "pol" else (group,)
        present = {n: claims[n] for n in names if n in claims}
        if not present:
            continue
        neutral = {**_NEUTRAL_ECT, parents: []}
        if group == "ect_ext":  # the -01 extension: checked in a -01 ECT
            neutral = {**_NEUTRAL_ECT, "pred": []}
        try:
            read_claims(token, {**neutral, **present}, limits)
        except ECTError as error:
            is_id = error.code == "ect.invalid_id" and group not in ("par", "pred")
            problems.append(f"{group} is not a UUID" if is_id else error.detail)
    if not problems:
        _collect(problems, read_claims, token, claims, limits)
    return problems


def render(result: Inspection, now: float) -> str:
    kind = result.kind.name.upper() if result.kind else "unknown"
    lines = [
        f"type: {kind} (typ {json.dumps(result.header.get('typ'))})",
        "signature: NOT verified (inspect trusts nothing and does not print it)",
        "header:",
        json.dumps(_masked(result.header, "jwk"), indent=2),
        "claims:",
        json.dumps(_redacted(result.claims), indent=2),
    ]
    if result.kind is ECT and result.claims is not None:
        lines += ["model (the same for drafts -00 and -01):", *_model_lines(result.claims)]
    times = [
        f"  {name}: {_date(value)} ({_relative(value, now)})"
        for name in ("iat", "exp")
        if result.claims is not None and (value := _number(result.claims.get(name))) is not None
    ]
    if times:
        lines += ["times:", *times]
    if result.problems:
        lines += ["problems:", *(f"  - {p}" for p in result.problems)]
    else:
        lines.append("problems: none found")
    return "\n".join(lines)


def _model_lines(claims: Mapping[str, Any]) -> list[str]:
    """Parents, extension and policy as the middleware reads them, whatever the spelling."""
    try:
        draft = wire_draft(claims)
    except ECTError as error:
        return [f"  ({error.detail})"]
    parents, extension, policy = model_view(claims)
    return [
        f"  draft: -{draft}",
        f"  parents: {json.dumps(list(parents))}",
        f"  extension: {json.dumps(extension)}",
        "  policy: "
        + (
            "none"
            if policy is None
            else json.dumps(
                {"policy": policy.policy, "decision": policy.decision, "enforcer": policy.enforcer}
            )
        ),
    ]


def _redacted(claims: dict[str, Any] | None) -> dict[str, Any] | None:
    """The claims, with any private key members of ``cnf.jwk`` masked."""
    if claims is None or not isinstance(claims.get("cnf"), dict):
        return claims
    return {**claims, "cnf": _masked(claims["cnf"], "jwk")}


def _masked(container: dict[str, Any], member: str) -> dict[str, Any]:
    """``container`` with the private key members of the JWK in ``member`` masked."""
    key = container.get(member)
    if not isinstance(key, dict) or not PRIVATE_MEMBERS.intersection(key):
        return container
    masked = {k: "<redacted>" if k in PRIVATE_MEMBERS else v for k, v in key.items()}
    return {**container, member: masked}


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if 0 <= value < 2**53 else None


def _date(value: float) -> str:
    try:
        moment = datetime.fromtimestamp(value, timezone.utc)
    except (OverflowError, OSError, ValueError):
        return "out of range"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _relative(value: float, now: float) -> str:
    span = _span(value - now)
    return f"in {span}" if value >= now else f"{span} ago"


def _span(seconds: float) -> str:
    seconds = abs(seconds)
    for unit, size, above in (("day", 86400, 129600), ("hour", 3600, 5400), ("minute", 60, 90)):
        if seconds >= above:
            count = round(seconds / size)
            return f"{count} {unit}s"
    count = round(seconds)
    return f"{count} second" + ("" if count == 1 else "s")

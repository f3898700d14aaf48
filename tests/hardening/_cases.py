"""Run one hostile request through a stack and check everything a rejection must be.

A rejection is: the expected 4xx and stable code in an RFC 9457 body that echoes no token;
exactly one new ledger entry, minted here, recording the signed ``rejected`` decision with
that code; no ``received`` entry for anything the request carried; the chain intact.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import httpx
from structlog.testing import capture_logs

from ect_middleware.errors import CODES
from ect_middleware.ledger import LedgerEntry
from ect_middleware.tokens.encoding import b64url_decode

from ..support.ledger import recorded
from ..support.stacks import Stack
from ._hostile import Attack, Build, Forger, Header, jti_of

PATH = "/context"


@dataclass(frozen=True)
class Case:
    name: str
    build: Build
    code: str
    status: int = 400


def ids(cases: Sequence[Case]) -> list[str]:
    names = [c.name for c in cases]
    assert len(set(names)) == len(names), "case names must be distinct"
    return names


def send(stack: Stack, headers: Sequence[Header], path: str = PATH) -> httpx.Response:
    """Send ``headers`` as they are: octets as given, repeated names as repeated lines."""
    pairs = [
        (k.encode("latin-1"), v.encode("latin-1") if isinstance(v, str) else v) for k, v in headers
    ]
    return stack.client.get(path, headers=pairs)


def ledger_now(stack: Stack) -> list[LedgerEntry]:
    """The stack's ledger entries, after checking that its chain verifies."""
    return recorded(stack.settings.ledger, create=True)  # before the first request too


def claims(entry: LedgerEntry) -> dict[str, object]:
    value = json.loads(b64url_decode(entry.ect.split(".")[1]))
    assert isinstance(value, dict)
    return value


def run_attack(stack: Stack, forger: Forger, case: Case) -> None:
    assert case.code in CODES, f"{case.code} is not a registered code"
    assert CODES[case.code][0] == case.status
    built = case.build(forger, stack.url(PATH))
    attack = built if isinstance(built, Attack) else Attack(built)
    for primer in attack.primers:
        primed = send(stack, primer)
        assert primed.status_code == 200, primed.text
    before = ledger_now(stack)

    with capture_logs() as logs:
        response = send(stack, attack.headers)

    assert response.status_code == case.status, response.text
    rejected = [e for e in logs if e["event"] == "ect.request_rejected"]
    assert [e["code"] for e in rejected] == [case.code]
    assert "eyJ" not in repr(logs)  # no token (or JOSE header) logged
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert (problem["code"], problem["status"]) == (case.code, case.status)
    assert problem["type"] == f"urn:ect-middleware:error:{case.code}"
    assert "eyJ" not in response.text  # no token (or JOSE header) echoed
    new = ledger_now(stack)[len(before) :]
    assert [e.direction for e in new] == ["minted"], "only the signed rejection record"
    record = claims(new[0])
    assert record["pol"] == "ect-middleware/inbound"
    assert record["pol_decision"] == "rejected"
    assert record["ext"] == {"http_status": case.status, "code": case.code}
    assert record["par"] == []  # nothing the request carried became a parent


def run_accepted(stack: Stack, headers: Sequence[Header]) -> httpx.Response:
    """Send a request that must be accepted: 200, each of its ECTs recorded as received
    (once), and the signed ``approved`` completion; the chain intact."""
    before = ledger_now(stack)
    response = send(stack, headers)
    assert response.status_code == 200, response.text
    sent = [
        jti_of(t.strip())
        for name, value in headers
        if name.lower() == "execution-context"
        for t in (value if isinstance(value, str) else value.decode("latin-1")).split(",")
    ]
    new = ledger_now(stack)[len(before) :]
    assert sorted(e.jti for e in new if e.direction == "received") == sorted(map(str, sent))
    (completion,) = (e for e in new if e.direction == "minted")
    record = claims(completion)
    assert (record["pol_decision"], record["ext"]) == ("approved", {"http_status": 200})
    return response

"""What every outbound hook does, whatever the client library.

Before the request: if a request is being handled and the URL belongs to a configured peer
(ECT_PEERS), mint a fresh ECT and WPT, make the request's records durable (the ECT's and
every one it descends from), and attach them with this service's WIT.
Calls outside a request and calls to other hosts are left untouched. After the response:
verify and record the peer's completion ECT (fan-in).

Redirects and retries: a client builds each redirect hop from the headers of the request
before it, and sends it through whatever transport serves the new URL, which may not be
ours (an adapter or transport mounted for the peer only). So when a response to a request
we gave tokens to is a redirect, ``after`` takes them off that request again before the
client reads it: the next hop starts without them, and gets fresh tokens bound to its own
URL only if it reaches one of our hooks for a peer. (A redirect response's ``request``
therefore no longer shows the tokens it carried.) Connection-level retries inside a
transport resend the same bytes; since a WPT and an ECT may be presented only once, retry
at the application level, which mints anew.

Failures here are logged and never break the application's call.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass

from .. import otel
from ..context.task import OUTBOUND_HEADERS, OutboundCall, Task, current_task
from ..logs import log
from ..tokens.jws import read_payload

#: The statuses after which httpx and requests follow ``Location`` with a new request.
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class Injection:
    task: Task
    call: OutboundCall


def prepare(
    request: object, url: str, headers: MutableMapping[str, str], body: bytes | None
) -> Injection | None:
    """Mint the tokens ``request`` is due, if any; ``attach`` them once flushed."""
    task = current_task()
    if task is None:
        return None
    # The names present, read in one pass: asking httpx's headers for one that is absent
    # scans them all and raises KeyError inside, so only names known present are asked.
    present = {name.lower() for name in headers}

    def get(name: str) -> str | None:
        return headers.get(name) if name.lower() in present else None

    if not task.claim_outbound(request, get("Workload-Proof-Token")):
        return None  # given tokens already, or the application manages its own
    for name in OUTBOUND_HEADERS:  # ours from an earlier hop (a redirect): never reuse
        if name.lower() in present:
            headers.pop(name, None)
    try:
        call = task.prepare_outbound(
            url,
            body=body,
            authorization=get("Authorization"),
            txn_token=get("Txn-Token"),
        )
    except Exception as exc:  # instrumentation must never break the call
        log.error("ect.outbound_failed", reason=type(exc).__name__)
        return None
    return None if call is None else Injection(task, call)


def attach(injection: Injection | None, headers: MutableMapping[str, str]) -> Injection | None:
    """Put the tokens on the request, now that their records are durable."""
    if injection is None:
        return None
    call = injection.call
    # ``prepare`` removed these names, so each is set, not updated: httpx's
    # ``Headers.update`` looks every name up first (a KeyError raised inside for each),
    # work wasted on names known to be absent.
    for name, value in call.headers.items():
        headers[name] = value
    injection.task.sent(call)
    otel.outbound(call.ect.jti)
    if log.enabled(logging.DEBUG):
        log.debug("ect.outbound", peer=call.peer, target=call.target, ect=call.ect.jti)
    return injection


def before(
    request: object, url: str, headers: MutableMapping[str, str], body: bytes | None
) -> Injection | None:
    """Attach tokens to ``request`` (whose ``headers`` are mutated) when it is due them:
    ``prepare``, flush (blocking: for threads), ``attach``."""
    injection = prepare(request, url, headers, body)
    if injection is not None:
        try:
            injection.task.flush()
        except Exception as exc:
            _unsent(injection, exc)
            return None
    return attach(injection, headers)


async def before_async(
    request: object, url: str, headers: MutableMapping[str, str], body: bytes | None
) -> Injection | None:
    """``before`` for an event loop: the flush does not block it."""
    injection = prepare(request, url, headers, body)
    if injection is not None:
        try:
            await injection.task.flush_async()
        except Exception as exc:
            _unsent(injection, exc)
            return None
    return attach(injection, headers)


def _unsent(injection: Injection, exc: Exception) -> None:
    """The flush before the call failed: the call goes out without tokens, and the ECT
    minted for it, never sent, is not recorded (what it descends from still is)."""
    injection.task.unsent(injection.call)
    log.error("ect.outbound_failed", reason=type(exc).__name__)


def after(
    injection: Injection | None,
    response_headers: Sequence[tuple[str, str]],
    *,
    status: int,
    request_headers: MutableMapping[str, str],
) -> None:
    """Absorb the peer's completion ECTs; and when the response is a redirect, take our
    tokens off the request the client will build the next hop from (see above)."""
    if injection is None:
        return
    if status in _REDIRECTS and any(k.lower() == "location" for k, _ in response_headers):
        for name in OUTBOUND_HEADERS:
            request_headers.pop(name, None)
    try:
        injection.task.absorb_response(injection.call.peer, response_headers)
    except Exception as exc:
        log.error("ect.response_failed", reason=type(exc).__name__)


def sent_task_id(headers: Mapping[str, str]) -> str | None:
    """The task id (jti) of the ECT attached to an outbound request, e.g. from
    ``response.request.headers``; None if the request carried none."""
    value = headers.get("Execution-Context")
    payload = read_payload(value) if value else None
    jti = payload.get("jti") if payload else None
    return jti if isinstance(jti, str) else None

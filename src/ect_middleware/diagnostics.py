"""Wiring mistakes made visible in the log, never in a response: a token addressed to
another audience, a call to a host that is not a configured peer, this service's own WIT
about to expire or expired.

Every value logged here comes from this service's configuration or from a token whose
signature was already verified; received values are cut to a bounded length.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable
from typing import Any
from urllib.parse import urlsplit

from .errors import ECTError
from .limits import Clock
from .logs import log
from .tokens.jws import read_payload
from .verification.request import ECT_HEADER, WPT_HEADER, InboundRequest

#: Received values are logged cut to this many characters each, and at most this many.
_MAX_VALUE = 256
_MAX_VALUES = 8
#: Hosts remembered as "already reported"; beyond this no further host is reported.
MAX_REPORTED_HOSTS = 1024


def log_audience_mismatch(
    error: ECTError,
    request: InboundRequest,
    wpt_audiences: Iterable[str],
    ect_audiences: Collection[str],
) -> None:
    """For a request rejected with ``wpt.audience_mismatch`` or ``ect.audience_mismatch``:
    a WARNING naming the audience received and the ones this service accepts."""
    if error.code == "wpt.audience_mismatch":
        token = request.get(WPT_HEADER) or ""
        received = _as_list((read_payload(token.strip()) or {}).get("aud"))
        configured = list(wpt_audiences)
    elif error.code == "ect.audience_mismatch":
        configured = sorted(ect_audiences)
        received = []
        for value in request.get_all(ECT_HEADER):
            for token in value.split(","):
                aud = _as_list((read_payload(token.strip()) or {}).get("aud"))
                if not any(a in ect_audiences for a in aud):
                    received.extend(aud)
    else:
        return
    log.warning(
        "ect.audience_mismatch",
        code=error.code,
        received=[_cut(v) for v in received[:_MAX_VALUES]],
        configured=configured,
        setting="ECT_AUDIENCE" if error.code.startswith("wpt.") else "ECT_WORKLOAD_ID",
    )


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v if isinstance(v, str) else repr(v) for v in value]
    return [] if value is None else [repr(value)]


def _cut(value: str) -> str:
    return value if len(value) <= _MAX_VALUE else value[:_MAX_VALUE] + "..."


class NonPeerHosts:
    """Reports, once per host, an outbound call made inside a request to a host that no
    ``ECT_PEERS`` entry matches: it gets no tokens, which is right for third parties and a
    silent wiring mistake for a peer (``localhost`` versus ``127.0.0.1``, say)."""

    def __init__(self, peers: Iterable[str]) -> None:
        self._peers = sorted(peers)
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def report(self, url: str) -> None:
        parts = urlsplit(url)
        host = f"{parts.scheme}://{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
        if host in self._seen:
            return
        with self._lock:
            if host in self._seen or len(self._seen) >= MAX_REPORTED_HOSTS:
                return
            self._seen.add(host)
        log.warning(
            "ect.outbound_not_a_peer",
            host=host,
            peers=self._peers,
            hint="no tokens sent; add the URL prefix to ECT_PEERS if this host is a peer",
        )


class OwnWITExpiry:
    """Warns once when this service's own WIT enters the last ``window`` seconds before
    its ``exp``, and once when it has expired (peers then reject every call). Re-armed
    whenever a different WIT is loaded, so a rotated WIT starts afresh."""

    def __init__(self, window: float, clock: Clock) -> None:
        self._window = window
        self._clock = clock
        self._token: str | None = None
        self._exp: float | None = None
        self._warned_soon = False
        self._warned_expired = False

    def check(self, token: str) -> None:
        if token is not self._token:
            self._load(token)
        exp = self._exp
        if exp is None or self._warned_expired:
            return
        now = self._clock()
        if now >= exp:
            self._warned_expired = True
            log.error(
                "ect.own_wit_expired",
                expired_seconds_ago=round(now - exp),
                setting="ECT_WIT_FILE",
                hint="peers reject this service's calls until a fresh WIT is in the file",
            )
        elif not self._warned_soon and now >= exp - self._window:
            self._warned_soon = True
            log.warning(
                "ect.own_wit_expiring",
                expires_in_seconds=round(exp - now),
                setting="ECT_WIT_FILE",
                hint="replace the WIT file with a fresh WIT; it is re-read when it changes",
            )

    def _load(self, token: str) -> None:
        exp = (read_payload(token) or {}).get("exp")
        self._token = token
        self._exp = float(exp) if isinstance(exp, (int, float)) else None
        self._warned_soon = self._warned_expired = False

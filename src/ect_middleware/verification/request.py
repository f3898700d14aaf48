"""What the verification pipeline reads from an inbound request, framework-free."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import ECTError
from ..limits import Limits
from ..tokens.jws import WIT, WPT, TokenKind

WIT_HEADER = "workload-identity-token"
WPT_HEADER = "workload-proof-token"
ECT_HEADER = "execution-context"
_TOKEN_HEADERS = (WIT_HEADER, WPT_HEADER, ECT_HEADER)


@dataclass(frozen=True)
class InboundRequest:
    """An HTTP request as the pipeline needs it.

    ``path`` is the request target's path as sent (percent-encoded, no query): a WPT's
    ``aud`` is the public base URL joined with it. Header names are lower-case.
    """

    method: str
    path: str
    headers: tuple[tuple[str, str], ...]

    @classmethod
    def from_pairs(cls, method: str, path: str, pairs: Iterable[tuple[str, str]]) -> InboundRequest:
        return cls(method, path, tuple((k.lower(), v) for k, v in pairs))

    def get_all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k == name]

    def get(self, name: str) -> str | None:
        values = self.get_all(name)
        return values[0] if values else None

    def has_wimse_headers(self) -> bool:
        return any(k in _TOKEN_HEADERS for k, _ in self.headers)


@dataclass(frozen=True)
class RequestTokens:
    """The WIMSE tokens of a request, split and bounded but not yet verified."""

    wit: str
    wpt: str
    ects: tuple[str, ...]
    #: the Execution-Context field value the WPT binds: every ECT, joined with ", "
    execution_context: str | None

    @classmethod
    def extract(cls, request: InboundRequest, limits: Limits) -> RequestTokens:
        wit = _single(request, WIT_HEADER, WIT)
        wpt = _single(request, WPT_HEADER, WPT)
        values = request.get_all(ECT_HEADER)
        if sum(len(v) for v in values) > limits.max_ect_header_bytes:
            raise ECTError("request.headers_too_large", "Execution-Context values too large")
        # A compact JWS never contains a comma: a field may carry several, joined by ",".
        ects = tuple(t.strip() for v in values for t in v.split(","))
        if any(not t for t in ects):
            raise ECTError("ect.malformed", "empty Execution-Context element")
        if len(ects) > limits.max_ects_per_request:
            raise ECTError("ect.too_many", f"more than {limits.max_ects_per_request} ECTs")
        return cls(wit, wpt, ects, ", ".join(ects) if ects else None)


def _single(request: InboundRequest, header: str, kind: TokenKind) -> str:
    values = request.get_all(header)
    if not values:
        raise ECTError(kind.codes.missing, f"no {header} header")
    if len(values) > 1 or "," in values[0]:
        raise ECTError(kind.codes.duplicate, f"more than one {header} value")
    return values[0].strip()

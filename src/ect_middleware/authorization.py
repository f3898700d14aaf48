"""Restrict a route to given callers: workload identifiers or whole trust domains.

The caller is the authenticated one: the ``sub`` of the WIT whose key signed the request's
WPT, as the middleware verified it (``RequestContext.caller``). Nothing an ECT claims
(``iss``, ``ext``, parents) is ever consulted: an ECT records what happened, it grants
nothing. A request without a verified caller (an entry path without tokens, a rejection
let through in ``observe`` mode, no middleware) is refused.

    only_b = require_caller(trust_domains=["spiffe://org-b.example"])

    @app.get("/x", dependencies=[Depends(only_b)])    # FastAPI
    @only_b.starlette                                   # a Starlette endpoint
    @only_b.flask                                       # a Flask view

A refusal is a 403 ``application/problem+json`` with the code ``caller.not_allowed``; its
detail does not list who would be allowed.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from starlette.responses import Response

from .context.task import current_context
from .errors import ConfigurationError, ECTError
from .tokens.identifiers import is_workload_id, trust_domain

F = TypeVar("F", bound=Callable[..., Any])
PROBLEM_TYPE = "application/problem+json"


class CallerNotAllowed(ECTError):
    """Raised by the FastAPI dependency; the middleware answers it with the 403 problem."""

    def __init__(self) -> None:
        super().__init__("caller.not_allowed", "this route does not accept the calling workload")


class CallerRule:
    """Who may call a route: any of ``workload_ids``, or any workload of ``trust_domains``."""

    def __init__(self, workload_ids: Iterable[str], trust_domains: Iterable[str]) -> None:
        self.workload_ids = frozenset(workload_ids)
        self.trust_domains = frozenset(
            d.rstrip("/") if "://" in d else f"spiffe://{d.rstrip('/')}" for d in trust_domains
        )
        if not self.workload_ids and not self.trust_domains:
            raise ConfigurationError("require_caller needs workload_ids or trust_domains")
        bad = [w for w in self.workload_ids if not is_workload_id(w)]
        bad += [d for d in self.trust_domains if not is_workload_id(d)]
        if bad:
            raise ConfigurationError(f"require_caller: {bad[0]!r} is not a workload identifier")

    def allows(self, caller: str | None) -> bool:
        if caller is None:
            return False
        return caller in self.workload_ids or trust_domain(caller) in self.trust_domains

    def check(self) -> None:
        """Raise ``CallerNotAllowed`` unless the current request's caller is allowed."""
        ctx = current_context()
        if not self.allows(ctx.caller if ctx is not None else None):
            raise CallerNotAllowed()

    def __call__(self) -> None:
        """FastAPI: ``Depends(rule)``."""
        self.check()

    def starlette(self, endpoint: F) -> F:
        """Decorate a Starlette endpoint (``async def`` or plain ``def``)."""
        if inspect.iscoroutinefunction(endpoint):

            @functools.wraps(endpoint)
            async def guarded_async(*args: Any, **kwargs: Any) -> Any:
                return await endpoint(*args, **kwargs) if self._allowed() else starlette_refusal()

            return guarded_async  # type: ignore[return-value]

        @functools.wraps(endpoint)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            return endpoint(*args, **kwargs) if self._allowed() else starlette_refusal()

        return guarded  # type: ignore[return-value]

    def flask(self, view: F) -> F:
        """Decorate a Flask view (under ``@app.route``)."""

        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if self._allowed():
                return view(*args, **kwargs)
            from flask import Response  # the flask extra, imported when a Flask view runs

            body, status = problem_body()
            return Response(body, status, mimetype=PROBLEM_TYPE)

        return guarded  # type: ignore[return-value]

    def _allowed(self) -> bool:
        ctx = current_context()
        return self.allows(ctx.caller if ctx is not None else None)


def require_caller(
    *, workload_ids: Iterable[str] = (), trust_domains: Iterable[str] = ()
) -> CallerRule:
    """A rule restricting routes to these callers (see the module's documentation)."""
    return CallerRule(workload_ids, trust_domains)


def problem_body() -> tuple[bytes, int]:
    error = CallerNotAllowed()
    return json.dumps(error.problem(), separators=(",", ":")).encode(), error.status


def starlette_refusal(request: object = None, exc: object = None) -> Response:
    """The refusal as a Starlette response; also the exception handler for
    ``CallerNotAllowed`` that ``instrument_app`` registers."""
    body, status = problem_body()
    return Response(body, status, media_type=PROBLEM_TYPE)

"""The steps both middlewares take on a request, free of ASGI and WSGI details."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ..config import Settings, refuse_settings_with_runtime
from ..context.request_context import RequestContext
from ..errors import ECTError, LedgerError
from ..logs import log
from ..runtime import INBOUND_POLICY, Runtime
from ..startup import announce
from ..tokens.ect import EXEC_ACT_MAX_CHARS
from ..verification import InboundRequest


def build_runtime(
    settings: Settings | None, runtime: Runtime | None, overrides: Mapping[str, Any]
) -> Runtime | None:
    """The runtime a middleware uses: given, or built from settings / the environment
    (then the effective configuration is logged). None when ``ECT_MODE=off``.
    ``ConfigurationError`` when the configuration is unusable, or given beside a runtime."""
    if runtime is not None:
        refuse_settings_with_runtime(runtime, settings, overrides)
        return runtime
    # replace() checks settings built by hand (Settings(...)) as from_env checks the
    # environment's: complete for a service
    resolved = settings.replace(**overrides) if settings else Settings.from_env(**overrides)
    built = None if resolved.mode == "off" else Runtime(resolved)
    announce(resolved)
    return built


@dataclass(frozen=True)
class Problem:
    """An RFC 9457 response the middleware sends instead of calling the application."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = (("content-type", "application/problem+json"),)

    @classmethod
    def of(cls, error: ECTError) -> Problem:
        body = json.dumps(error.problem(), separators=(",", ":")).encode()
        return cls(error.status, body, (*cls.headers, ("content-length", str(len(body)))))


@dataclass(frozen=True)
class Rejected:
    """An enforced rejection: the problem to answer with, once the signed record of the
    decision (``ctx``'s deferred completion ECT, when there is one) has been flushed."""

    problem: Problem
    ctx: RequestContext | None = None


def open_request(
    runtime: Runtime, request: InboundRequest, exec_act: Callable[[], str]
) -> RequestContext | Rejected:
    """Verify ``request``: its context, or in enforce mode the rejection.

    Every decision is a checkpoint: an accepted request is logged here and carried in its
    completion ECT; a rejected one leaves a signed rejection ECT in the ledger.
    """
    enforce = runtime.settings.mode == "enforce"
    try:
        ctx = runtime.begin(request, exec_act)
    except ECTError as error:
        log.warning(
            "ect.request_rejected",
            code=error.code,
            status=error.status,
            method=request.method,
            path=request.path,
            enforced=enforce,
        )
        ctx = runtime.begin_unverified(error, exec_act)
        runtime.checkpoint_logged(ctx, INBOUND_POLICY, "rejected", code=error.code)
        if not enforce:
            return ctx  # its completion ECT will carry the rejection
        # Our signed record, never the rejected tokens; beyond the rejection budget only
        # counted, into the next record (``rejection_budget``).
        if runtime.record_rejection(ctx, error.status):
            return Rejected(Problem.of(error), ctx)
        return Rejected(Problem.of(error))
    except LedgerError as exc:
        log.error("ect.ledger_failed", reason=str(exc))
        return Rejected(
            Problem.of(ECTError("ledger.unavailable", "the audit ledger is unavailable"))
        )
    runtime.checkpoint_logged(ctx, INBOUND_POLICY, "approved", parents=len(ctx.parents))
    return ctx


def request_action(method: str, target: str) -> str:
    """``METHOD target``, the default ``exec_act`` of a request's ECTs, cut to the length
    an ECT may carry: a request to a path of any length still gets its signed record (its
    completion or rejection ECT) instead of failing to mint one."""
    action = f"{method} {target}"
    if len(action) <= EXEC_ACT_MAX_CHARS:
        return action
    return action[: EXEC_ACT_MAX_CHARS - 1] + "\u2026"


def completion_headers(ctx: RequestContext, status: int) -> list[tuple[str, str]]:
    """Headers returning the completion ECT; flush before sending them."""
    return ctx.runtime.complete(ctx, status)


def finish(ctx: RequestContext, status: int) -> None:
    """The request's last body message went out (a debug line: the inbound checkpoint is
    the request's line at info level)."""
    if log.enabled(logging.DEBUG):
        log.debug("ect.request_completed", status=status, minted=len(ctx.minted))


def record_failure(ctx: RequestContext) -> None:
    """The application raised before responding: its completion still goes in the ledger
    (flush afterwards, as for a response)."""
    try:
        ctx.runtime.complete(ctx, 500)
    except ECTError as exc:
        log.error("ect.completion_failed", reason=str(exc))


@contextmanager
def logged_ledger_failure() -> Iterator[None]:
    """Around the flush of a record that no response waits for (a rejection, a failure):
    a ledger failure is logged, and the answer still goes out."""
    try:
        yield
    except LedgerError as exc:
        log.error("ect.ledger_failed", reason=str(exc))

"""What both middlewares share, free of ASGI and WSGI details: the runtime they use, the
verify-or-reject decision on each inbound request, and the problem response that refuses
one. Everything else a request goes through is told by ``asgi.py`` and ``wsgi.py``."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..config import Settings, refuse_settings_with_runtime
from ..context.task import INBOUND_POLICY, Task
from ..errors import ECTError, LedgerError
from ..logs import log
from ..runtime import Runtime
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
    decision (``record``: the task whose completion ECT it is, when there is one) has been
    flushed, or failed to be (logged: the answer goes out either way)."""

    problem: Problem
    record: Task | None = None


def accept(
    runtime: Runtime, request: InboundRequest, exec_act: Callable[[], str]
) -> Task | Rejected:
    """Verify ``request``: the task to run the application in, or in enforce mode the
    rejection.

    Every decision is a checkpoint: an accepted request is logged here and carried in its
    completion ECT; a rejected one leaves a signed rejection ECT in the ledger.
    """
    enforce = runtime.settings.mode == "enforce"
    try:
        task = runtime.begin(request, exec_act)
    except ECTError as error:
        log.warning(
            "ect.request_rejected",
            code=error.code,
            status=error.status,
            method=request.method,
            path=request.path,
            enforced=enforce,
        )
        task = runtime.begin_unverified(error, exec_act)
        task.log_checkpoint(INBOUND_POLICY, "rejected", code=error.code)
        if not enforce:
            return task  # its completion ECT will carry the rejection
        # Our signed record, never the rejected tokens; beyond the rejection budget only
        # counted, into the next record (``rejection_budget``).
        if task.record_rejection(error.status):
            return Rejected(Problem.of(error), task)
        return Rejected(Problem.of(error))
    except LedgerError as exc:
        log.error("ect.ledger_failed", reason=str(exc))
        return Rejected(
            Problem.of(ECTError("ledger.unavailable", "the audit ledger is unavailable"))
        )
    task.log_checkpoint(INBOUND_POLICY, "approved", parents=len(task.parents))
    return task


def request_action(method: str, target: str) -> str:
    """``METHOD target``, the default ``exec_act`` of a request's ECTs, cut to the length
    an ECT may carry: a request to a path of any length still gets its signed record (its
    completion or rejection ECT) instead of failing to mint one."""
    action = f"{method} {target}"
    if len(action) <= EXEC_ACT_MAX_CHARS:
        return action
    return action[: EXEC_ACT_MAX_CHARS - 1] + "\u2026"

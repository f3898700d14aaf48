"""The request's ids on every log line of the request: bound for the block a request's
code runs in, for the library's events (``logs``) and for the application's own structlog
lines (through structlog's context variables, when its pipeline merges them)."""

from __future__ import annotations

import structlog

from ..logs import request_fields
from .task import RequestContext, use_context


class request_scope(use_context):
    """Make ``ctx`` current and bind its ids to every log line, for the block only.

    Entered several times per request (a WSGI body is iterated and closed in it too), so
    a class, as ``use_context`` is, rather than a ``@contextmanager`` generator.
    """

    __slots__ = ("_fields_token", "_log_tokens")

    def __init__(self, ctx: RequestContext) -> None:
        self._ctx: RequestContext = ctx

    def __enter__(self) -> None:
        ctx = self._ctx
        fields = {"workflow_id": ctx.workflow_id, "task_id": ctx.task_id, "caller": ctx.caller}
        self._log_tokens = structlog.contextvars.bind_contextvars(**fields)
        self._fields_token = request_fields.set(fields)
        use_context.__enter__(self)

    def __exit__(self, *exc_info: object) -> None:
        try:
            use_context.__exit__(self)
        finally:
            request_fields.reset(self._fields_token)
            structlog.contextvars.reset_contextvars(**self._log_tokens)

"""structlog integration: request fields bound through contextvars, configured only when
the application has not configured structlog itself."""

from __future__ import annotations

import sys

import structlog
from structlog.typing import EventDict

from .request_context import RequestContext, use_context


def configure_if_unconfigured() -> None:
    """JSON lines on stderr at info level and up, with the request fields merged in,
    unless the app configured structlog (then its pipeline and levels apply; it should
    include ``merge_contextvars``).

    Each request logs its checkpoints at info level (the middleware's own decision is
    one); each outbound call and each completion is a debug line. Debug lines are dropped
    by the first processor of this pipeline, not by a ``wrapper_class`` filter: an app
    that later configures only its processors replaces the filter with them, where a
    level-filtering wrapper would stay (``structlog.configure`` merges).
    """
    if structlog.is_configured():
        return
    structlog.configure(
        processors=[
            _drop_debug,
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        # No caching: an application that configures structlog later (say, in a startup
        # hook) must still get our events through its own pipeline.
        cache_logger_on_first_use=False,
    )


def debug_dropped() -> bool:
    """True while the default pipeline is the configured one: a debug line would go no
    further than its first processor, so a caller may skip building it (4.5 µs of structlog
    work per line; the app's own pipeline gets every line)."""
    processors = structlog.get_config()["processors"]
    return bool(processors) and processors[0] is _drop_debug


def _drop_debug(_logger: object, method_name: str, event: EventDict) -> EventDict:
    if method_name == "debug":
        raise structlog.DropEvent
    return event


class request_scope(use_context):
    """Make ``ctx`` current and bind its ids to every log line, for the block only.

    Entered several times per request (a WSGI body is iterated and closed in it too), so
    a class, as ``use_context`` is, rather than a ``@contextmanager`` generator.
    """

    __slots__ = ("_log_tokens",)

    def __init__(self, ctx: RequestContext) -> None:
        self._ctx: RequestContext = ctx

    def __enter__(self) -> None:
        ctx = self._ctx
        self._log_tokens = structlog.contextvars.bind_contextvars(
            workflow_id=ctx.workflow_id, task_id=ctx.task_id, caller=ctx.caller
        )
        use_context.__enter__(self)

    def __exit__(self, *exc_info: object) -> None:
        try:
            use_context.__exit__(self)
        finally:
            structlog.contextvars.reset_contextvars(**self._log_tokens)

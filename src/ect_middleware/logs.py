"""The library's events, delivered by the application's own logging rules.

The library never configures logging (neither ``logging`` nor ``structlog``) and never
prints. Each event is routed when it is logged, so an application may configure its
logging before or after the middleware is built:

- the application configured structlog (``structlog.is_configured()``): the event goes
  through its processors and logger factory as logger ``ect_middleware``;
- otherwise it is a record of the standard library logger ``ect_middleware``: its levels,
  handlers and filters apply. The record's message is the event followed by its fields as
  ``key=value``; the record's ``ect`` attribute holds the event as a dict, for structured
  (JSON) formatters.

Inside a request every event carries ``workflow_id``, ``task_id`` and ``caller``, whether
or not the application's pipeline merges structlog's context variables.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Any

import structlog

NAME = "ect_middleware"

#: The ids of the request being handled, set by ``context.logging.request_scope``.
request_fields: ContextVar[dict[str, Any] | None] = ContextVar("ect_log_fields", default=None)

_std = logging.getLogger(NAME)
_struct = structlog.get_logger(NAME)
_METHODS = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warning",
    logging.ERROR: "error",
}


class _Rendered:
    """The record's message, rendered only when a handler formats it."""

    __slots__ = ("fields",)

    def __init__(self, fields: dict[str, Any]) -> None:
        self.fields = fields

    def __str__(self) -> str:
        event = self.fields.get("event", "")
        rest = " ".join(f"{k}={v}" for k, v in self.fields.items() if k != "event")
        return f"{event} {rest}" if rest else str(event)


class EventLog:
    """``log.info("ect.something", key=value)``: one structured event per call."""

    __slots__ = ()

    def enabled(self, level: int) -> bool:
        """Whether an event at ``level`` would go anywhere (callers may skip building it).
        Under structlog the application's pipeline decides, so always True."""
        return structlog.is_configured() or _std.isEnabledFor(level)

    def debug(self, event: str, **fields: Any) -> None:
        self.log(logging.DEBUG, event, fields)

    def info(self, event: str, **fields: Any) -> None:
        self.log(logging.INFO, event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self.log(logging.WARNING, event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self.log(logging.ERROR, event, fields)

    def log(self, level: int, event: str, fields: dict[str, Any]) -> None:
        if structlog.is_configured():
            bound = request_fields.get()
            if bound:
                fields = {**bound, **fields}
            getattr(_struct, _METHODS[level])(event, **fields)
            return
        if not _std.isEnabledFor(level):
            return
        bound = request_fields.get()
        record = {"event": event, **(bound or {}), **fields}
        _std.log(level, "%s", _Rendered(record), extra={"ect": record}, stacklevel=3)


log = EventLog()

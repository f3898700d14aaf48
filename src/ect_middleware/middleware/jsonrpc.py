"""The task a JSON-RPC request names (MCP, A2A), for POSTs to ``ECT_JSONRPC_PATHS``.

Every MCP or A2A call arrives as ``POST /mcp`` (or ``/a2a``): the route says nothing about
the task. The JSON-RPC body does, and it is known before the response starts, which matters
because a streaming (SSE) response sends its headers, and with them the completion ECT,
before the handler has run. So the request body is kept as the application reads it (the
middleware never reads ahead of the application, and keeps at most ``MAX_BODY`` bytes), and
the task is named from it when an ECT is minted:

- ``tools/call`` and ``prompts/get``: the method and the ``params.name`` they call
  (``tools/call search``);
- any other request or notification: its method (``initialize``, ``SendMessage``);
- a batch: the distinct methods, comma-separated;
- anything else (no body read yet, too large, not JSON-RPC): the route, ``POST /mcp``.

A name set by the handler (``current_context().exec_act = ...``) takes precedence for every
ECT minted after it is set.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.types import Message, Receive

#: The most of a request body kept to read the JSON-RPC method from.
MAX_BODY = 1024 * 1024
#: The longest method or callable name recorded; longer ones fall back to the route.
MAX_NAME = 200
_MAX_BATCH_NAMES = 8
#: Methods that call a named callable, recorded as ``<method> <params.name>``.
NAMED_CALLS = frozenset({"tools/call", "prompts/get"})


def task_name(body: bytes) -> str | None:
    """What the JSON-RPC message(s) in ``body`` ask for, or None if it is not JSON-RPC."""
    try:
        message = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if isinstance(message, list):
        names = [n for n in (_name(m) for m in message) if n is not None]
        distinct = list(dict.fromkeys(names))[:_MAX_BATCH_NAMES]
        return ", ".join(distinct) if distinct and len(names) == len(message) else None
    return _name(message)


def _name(message: Any) -> str | None:
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        return None
    method = message.get("method")
    if not _plain(method):
        return None
    params = message.get("params")
    if method in NAMED_CALLS and isinstance(params, dict) and _plain(params.get("name")):
        return f"{method} {params['name']}"
    return str(method)


def _plain(value: object) -> bool:
    """A name fit for a signed claim and a log line: short, printable, not blank."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= MAX_NAME
        and value.isprintable()
        and value.strip() == value
    )


class BodyTee:
    """``receive`` for the application, keeping a copy of the body it reads."""

    __slots__ = ("_chunks", "_complete", "_name", "_receive", "_size")

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._chunks: list[bytes] = []
        self._size = 0
        self._complete = False
        self._name: str | None = None

    async def __call__(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request" and not self._complete and self._size <= MAX_BODY:
            body = message.get("body", b"")
            self._size += len(body)
            if self._size > MAX_BODY:
                self._chunks = []
            else:
                self._chunks.append(body)
                if not message.get("more_body", False):
                    self._complete = True
                    self._name = task_name(b"".join(self._chunks))
                    self._chunks = []
        return message

    def exec_act(self, route: Callable[[], str]) -> Callable[[], str]:
        """The request's default ``exec_act``: the JSON-RPC name once the body has been
        read, else ``route()``."""

        def name() -> str:
            return self._name or route()

        return name

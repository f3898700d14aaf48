"""Workflows that start in a client: a script, a worker or an MCP/A2A client that is not
handling a request opens the root task itself.

    with start_workflow("nightly-report") as ctx:          # or: async with
        httpx.post(peer_url, ...)                           # carries WIT, WPT and ECT

Inside the block the root task is the current context, exactly as a request is inside the
middleware: outbound hooks mint an ECT for every call to a peer, completion ECTs that come
back become parents of later work (fan-in), and ``checkpoint()`` records signed decisions.
On exit the root task's completion ECT is minted and everything is made durable before the
block returns.
"""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType
from typing import Any

from .config import Settings, refuse_settings_with_runtime
from .context.logging import request_scope
from .context.task import RequestContext, Task
from .errors import LedgerError
from .logs import log
from .runtime import Runtime

_default_lock = threading.Lock()
_default_runtime: Runtime | None = None


def _runtime_from_env() -> Runtime | None:
    """The process's runtime for workflows configured by the environment alone: built on
    first use and kept (loading keys and opening the ledger once), None when
    ``ECT_MODE=off``."""
    global _default_runtime
    with _default_lock:
        if _default_runtime is None:
            settings = Settings.from_env(serving=False)
            if settings.mode == "off":
                return None
            _default_runtime = Runtime(settings)
        return _default_runtime


class start_workflow:
    """Open the root task of a new workflow for the block (``with`` or ``async with``);
    the block sees it as ``current_context()`` and gets it as the ``as`` target (None
    when ``ECT_MODE=off``: calls then go out without tokens).

    Configuration is the middleware's: the ``ECT_*`` environment (``ECT_AUDIENCE`` is not
    needed to only call peers), or ``settings=`` / keyword overrides, which build a runtime
    for this block and close it afterwards, or ``runtime=`` to share one, e.g. a
    middleware's (``ECTMiddleware(...).runtime``) in a service that also starts workflows.

    The completion ECT is minted when the block ends, with ``ext.outcome`` ``completed``
    or ``failed`` (the block raised). A failure to make the records durable is raised
    then, unless the block is already raising (then it is logged). One instance opens one
    root task: create a new one for each workflow. Threads the block starts need
    ``bind_context``, as in a request.
    """

    def __init__(
        self,
        exec_act: str,
        settings: Settings | None = None,
        *,
        runtime: Runtime | None = None,
        **overrides: Any,
    ) -> None:
        if not isinstance(exec_act, str) or not exec_act:
            raise ValueError("exec_act must be a non-empty string")
        refuse_settings_with_runtime(runtime, settings, overrides)
        self._exec_act = exec_act
        self._settings = settings
        self._overrides = overrides
        self._runtime = runtime
        self._owned = False
        self._task: Task | None = None
        self._scope: request_scope | None = None
        self._used = False

    # -- sync -------------------------------------------------------------------------------

    def __enter__(self) -> RequestContext | None:
        self._claim()
        return self._open(self._resolve_runtime())

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        task = self._task
        try:
            if task is not None:
                task.complete_root(failed=exc is not None)
                try:
                    task.flush()
                except LedgerError as error:
                    self._ledger_failed(error, raising=exc is None)
        finally:
            self._close_scope()
            if self._owned and self._runtime is not None:
                self._runtime.close()

    # -- async ------------------------------------------------------------------------------

    async def __aenter__(self) -> RequestContext | None:
        self._claim()
        # Building a runtime reads keys and opens the ledger: not on the event loop.
        return self._open(await asyncio.to_thread(self._resolve_runtime))

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        task = self._task
        try:
            if task is not None:
                task.complete_root(failed=exc is not None)
                try:
                    await task.flush_async()
                except LedgerError as error:
                    self._ledger_failed(error, raising=exc is None)
        finally:
            self._close_scope()
            if self._owned and self._runtime is not None:
                # Closing joins the ledger writer's thread: not on the event loop.
                await asyncio.to_thread(self._runtime.close)

    # -- shared -----------------------------------------------------------------------------

    def _claim(self) -> None:
        if self._used:
            raise RuntimeError("start_workflow opens one root task: create a new one")
        self._used = True

    def _open(self, runtime: Runtime | None) -> RequestContext | None:
        """Make the root task current, in the caller's context (not a worker thread's)."""
        if runtime is None:
            return None
        task = runtime.begin_root(self._exec_act)
        ctx = RequestContext(task)
        self._task = task
        self._scope = request_scope(ctx)
        self._scope.__enter__()
        log.info(
            "ect.workflow_started",
            workflow_id=task.workflow_id,
            task_id=task.task_id,
            exec_act=self._exec_act,
        )
        return ctx

    def _resolve_runtime(self) -> Runtime | None:
        if self._runtime is not None:
            return self._runtime
        if self._settings is None and not self._overrides:
            return _runtime_from_env()
        if self._settings is None:
            settings = Settings.from_env(serving=False, **self._overrides)
        else:
            settings = self._settings.replace(serving=False, **self._overrides)
        if settings.mode == "off":
            return None
        self._runtime = Runtime(settings)
        self._owned = True
        return self._runtime

    def _ledger_failed(self, error: LedgerError, *, raising: bool) -> None:
        if raising:
            raise error
        log.error("ect.ledger_failed", reason=str(error))

    def _close_scope(self) -> None:
        if self._scope is not None:
            self._scope.__exit__(None, None, None)
            self._scope = None

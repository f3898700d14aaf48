"""The per-request context: what was verified, and what this service has done since.

It lives in a ContextVar, so async handlers, Starlette's thread pool and Flask views all
see it. Threads and executors the application starts itself do not inherit ContextVars:
wrap their callables with ``bind_context``.
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from ..errors import ECTError
from ..ledger.base import NewEntry
from ..tokens.ect import ECTClaims

if TYPE_CHECKING:
    from ..runtime import Runtime

P = ParamSpec("P")
R = TypeVar("R")

_current: ContextVar[RequestContext | None] = ContextVar("ect_request_context", default=None)


class RequestContext:
    """The verified context of the request being handled (CONTRACT §4)."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        workflow_id: str,
        task_id: str,
        caller: str | None,
        parents: tuple[ECTClaims, ...],
        default_exec_act: Callable[[], str],
        rejection: ECTError | None = None,
    ) -> None:
        self.runtime = runtime
        self.workflow_id = workflow_id
        #: jti of this request's completion ECT, known from the start so logs can name it
        self.task_id = task_id
        self.caller = caller
        self.parents = parents
        #: in observe mode, why the request would have been rejected
        self.rejection = rejection
        #: the OpenTelemetry trace id current when the request began (``otel``), recorded
        #: with each of its ledger entries
        self.trace_id: str | None = None
        self._default_exec_act = default_exec_act
        self._exec_act: str | None = None
        self._lock = threading.Lock()
        self._minted: list[str] = []
        self._later_parents: list[str] = []  # checkpoints and completions received back
        self._completion: ECTClaims | None = None
        self.completion_wit: str | None = None
        self._completing = False
        self._injected: weakref.WeakSet[object] = weakref.WeakSet()
        self._issued_wpts: set[str] = set()
        #: entries not yet handed to the ledger; ``pending_lock`` keeps hand-overs in order
        self._pending: list[NewEntry] = []
        self.pending_lock = threading.Lock()
        #: the last hand-over's write: once it is done, so are the earlier ones (in order)
        self.last_write: Future[Any] | None = None

    @property
    def exec_act(self) -> str:
        """The action minted ECTs record; defaults to the route, e.g. ``POST /delegate``."""
        return self._exec_act or self._default_exec_act()

    @exec_act.setter
    def exec_act(self, value: str) -> None:
        if not isinstance(value, str) or not value:
            raise ValueError("exec_act must be a non-empty string")
        self._exec_act = value

    @property
    def minted(self) -> tuple[str, ...]:
        """The jti of every ECT this service minted while handling the request."""
        with self._lock:
            return tuple(self._minted)

    @property
    def completion(self) -> ECTClaims | None:
        return self._completion

    def next_parents(self) -> list[str]:
        """Parents of the next ECT minted here: the verified inbound ECTs, then every
        checkpoint made and completion ECT received back on this request so far."""
        with self._lock:
            return list(dict.fromkeys([p.jti for p in self.parents] + self._later_parents))

    def record_minted(self, claims: ECTClaims, *, is_parent_of_later: bool = False) -> None:
        with self._lock:
            self._minted.append(claims.jti)
            if is_parent_of_later:
                self._later_parents.append(claims.jti)

    def record_received(self, claims: ECTClaims) -> None:
        with self._lock:
            self._later_parents.append(claims.jti)

    def defer(self, entries: list[NewEntry]) -> None:
        """Record ``entries`` with the next hand-over to the ledger (``Runtime.flush``)."""
        with self._lock:
            self._pending.extend(entries)

    def take_pending(self) -> list[NewEntry]:
        with self._lock:
            entries, self._pending = self._pending, []
            return entries

    def restore_pending(self, entries: list[NewEntry]) -> None:
        """Put back entries whose hand-over failed, ahead of any deferred since."""
        with self._lock:
            self._pending[:0] = entries

    def withdraw_minted(self, jti: str) -> None:
        """Forget ECT ``jti`` minted here, which will never be sent (the flush before its
        call failed): it is neither recorded nor listed as minted."""
        with self._lock:
            self._pending = [e for e in self._pending if e.jti != jti or e.direction != "minted"]
            if jti in self._minted:
                self._minted.remove(jti)

    def claim_completion(self) -> bool:
        """True exactly once: the caller then mints the completion ECT."""
        with self._lock:
            if self._completing:
                return False
            self._completing = True
            return True

    def set_completion(self, claims: ECTClaims, wit: str) -> None:
        """The completion ECT, and the WIT of the key that signed it (sent with it)."""
        self._completion = claims
        self.completion_wit = wit

    def remember_issued(self, wpt: str) -> None:
        with self._lock:
            self._issued_wpts.add(wpt)

    def issued(self, wpt: str) -> bool:
        """Whether this request's hooks attached ``wpt`` (so a redirect may replace it)."""
        with self._lock:
            return wpt in self._issued_wpts

    def mark_injected(self, request: object) -> bool:
        """Remember an outbound request object; False if it was already given tokens."""
        with self._lock:
            if request in self._injected:
                return False
            self._injected.add(request)
            return True


def current_context() -> RequestContext | None:
    """The context of the request being handled, or None outside a request."""
    return _current.get()


class use_context:
    """Make ``ctx`` current for the block (``with use_context(ctx):``); always restored,
    in the same Context.

    A class rather than a ``@contextmanager`` generator, which costs more to enter: every
    request enters it, as ``logging.request_scope``, several times.
    """

    __slots__ = ("_ctx", "_token")

    def __init__(self, ctx: RequestContext | None) -> None:
        self._ctx = ctx

    def __enter__(self) -> None:
        self._token = _current.set(self._ctx)

    def __exit__(self, *exc_info: object) -> None:
        _current.reset(self._token)


def bind_context(fn: Callable[P, R]) -> Callable[P, R]:
    """Wrap ``fn`` so that it runs in the current request's context, in any thread.

    Use it for ``threading.Thread(target=...)`` and ``executor.submit(...)``, which do not
    carry ContextVars; the wrapped callable may run several times, concurrently.
    """
    ctx = _current.get()

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with use_context(ctx):
            return fn(*args, **kwargs)

    return run

"""One request's work, and the read-only view of it the application gets.

A ``Task`` is what this service does for one inbound request (or for the root task of a
workflow it starts itself, ``start_workflow``): it holds what was verified, mints and
records every ECT issued on the request's behalf (outbound calls, checkpoints, the
completion), absorbs the completion ECTs peers return (fan-in), and hands its ledger
entries to the writer when the request flushes. ``Runtime`` (one per service) opens it;
nothing here knows ``Runtime`` beyond the ``Service`` it is given.

``RequestContext`` is the application's window on a task (``current_context()``): its
documented fields, read-only, and the ``exec_act`` setter. It lives in a ContextVar, so
async handlers, Starlette's thread pool and Flask views all see it. Threads and executors
the application starts itself do not inherit ContextVars: wrap their callables with
``bind_context``.

Ownership: a view refers to its task, never the other way, so a finished request is freed
by reference counting alone, without waiting for the cycle collector.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, ParamSpec, Protocol, TypeVar
from urllib.parse import urlsplit, urlunsplit

from .. import otel
from ..config import Draft, Peer, Settings
from ..diagnostics import NonPeerHosts
from ..errors import ECTError, LedgerError
from ..ledger.base import NewEntry
from ..ledger.writer import LedgerWriter
from ..limits import Clock, Limits
from ..logs import log
from ..rejection_budget import RejectionBudget
from ..replay import ReplayCache
from ..tokens.ect import ECTClaims, Policy, mint_own_ect, verify_ect
from ..tokens.encoding import sha256_b64url
from ..tokens.keys import SigningKey
from ..tokens.wit import WITVerifier
from ..tokens.wpt import Bindings, mint_wpt
from ..verification.dag import TaskStore, check_dag
from ..verification.request import ECT_HEADER, WIT_HEADER, InboundRequest

P = ParamSpec("P")
R = TypeVar("R")

#: The policy under which the middleware records its own decision on each inbound request.
INBOUND_POLICY = "ect-middleware/inbound"
#: The headers an outbound call to a peer carries, in this order.
OUTBOUND_HEADERS = ("Workload-Identity-Token", "Workload-Proof-Token", "Execution-Context")


@dataclass(frozen=True)
class Identity:
    """This service's signing key and the WIT that confirms it: always used together, so
    that nothing goes out signed by one key with a WIT that names another."""

    key: SigningKey = field(repr=False)
    wit: str = field(repr=False)


@dataclass(frozen=True)
class OutboundCall:
    """The tokens attached to one outbound request, and who it goes to."""

    peer: str
    #: the URL the WPT is bound to (no query or fragment)
    target: str
    ect: ECTClaims
    headers: Mapping[str, str]


class Service(Protocol):
    """What a task uses of the service it runs in (``Runtime``), read once per use."""

    @property
    def workload_id(self) -> str: ...
    @property
    def settings(self) -> Settings: ...
    @property
    def limits(self) -> Limits: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def identity(self) -> Identity: ...
    @property
    def wits(self) -> WITVerifier: ...
    @property
    def replay(self) -> ReplayCache: ...
    @property
    def store(self) -> TaskStore: ...
    @property
    def writer(self) -> LedgerWriter: ...
    @property
    def rejections(self) -> RejectionBudget: ...
    @property
    def non_peers(self) -> NonPeerHosts: ...
    def peer_settings_for(self, url: str) -> Peer | None: ...
    def draft_for(self, workload: str | None) -> Draft: ...


class Task:
    """This service's work on one request: its state, and everything done on its behalf.

    Every ECT minted is deferred to the task's next flush, which must come before the ECT
    leaves this service; flushes reach the ledger writer in order (``_pending_lock``).
    """

    __slots__ = (
        "_completing",
        "_default_exec_act",
        "_exec_act",
        "_injected",
        "_issued_wpts",
        "_last_write",
        "_later_parents",
        "_lock",
        "_minted",
        "_pending",
        "_pending_lock",
        "_records",
        "caller",
        "completion",
        "completion_wit",
        "parents",
        "rejection",
        "service",
        "task_id",
        "trace_id",
        "workflow_id",
    )

    def __init__(
        self,
        service: Service,
        *,
        workflow_id: str,
        task_id: str,
        caller: str | None,
        parents: tuple[ECTClaims, ...],
        exec_act: Callable[[], str],
        rejection: ECTError | None = None,
    ) -> None:
        self.service = service
        self.workflow_id = workflow_id
        #: jti of this task's completion ECT, known from the start so logs can name it
        self.task_id = task_id
        self.caller = caller
        self.parents = parents
        #: why the request would have been rejected (observe mode) or was (enforce mode)
        self.rejection = rejection
        #: the OpenTelemetry trace id current when the task began, recorded with each of
        #: its ledger entries
        self.trace_id = otel.request_started(workflow_id, task_id, caller, parents)
        self._default_exec_act = exec_act
        self._exec_act: str | None = None
        self._lock = threading.Lock()
        self._minted: list[str] = []
        self._later_parents: list[str] = []  # checkpoints and completions received back
        self.completion: ECTClaims | None = None
        #: the WIT of the key that signed the completion (sent with it)
        self.completion_wit: str | None = None
        self._completing = False
        # Made on the first outbound call: most requests make none.
        self._injected: weakref.WeakSet[object] | None = None
        self._issued_wpts: set[str] | None = None
        #: entries not yet handed to the ledger
        self._pending: list[NewEntry] = []
        self._pending_lock = threading.Lock()
        #: False when the ledger keeps nothing: then no entry is built, deferred or flushed
        self._records = service.writer.records
        #: the last hand-over's write: once it is done, so are the earlier ones (in order)
        self._last_write: Future[Any] | None = None

    # -- what the view shows -----------------------------------------------------------------

    @property
    def exec_act(self) -> str:
        return self._exec_act or self._default_exec_act()

    @exec_act.setter
    def exec_act(self, value: str) -> None:
        if not isinstance(value, str) or not value:
            raise ValueError("exec_act must be a non-empty string")
        self._exec_act = value

    @property
    def minted(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(self._minted)

    # -- the inbound decision ----------------------------------------------------------------

    def log_checkpoint(self, policy: str, decision: str, **details: Any) -> None:
        """Log a checkpoint with the task's ids bound explicitly, so they are there even
        before the request scope is entered and whatever the app's structlog pipeline."""
        workload_id = self.service.workload_id
        code = details.get("code")
        otel.checkpoint(
            policy,
            decision,
            workload_id,
            jti=details.get("checkpoint"),
            code=code if isinstance(code, str) else None,
        )
        level = log.info if decision == "approved" else log.warning
        level(
            "ect.checkpoint",
            workflow_id=self.workflow_id,
            task_id=self.task_id,
            caller=self.caller,
            policy=policy,
            decision=decision,
            enforcer=workload_id,
            **details,
        )

    def record_rejection(self, status: int) -> bool:
        """Mint the signed record of this task's enforced rejection, if the rejection
        budget allows (True; flush then); otherwise only count it (False)."""
        assert self.rejection is not None
        unrecorded = self.service.rejections.admit(self.rejection.code)
        if unrecorded is None:
            return False
        self.complete(status, unrecorded=unrecorded)
        return True

    def record_received(
        self, ects: Sequence[ECTClaims], wit: str, unresolved: Mapping[str, tuple[str, ...]]
    ) -> None:
        """Defer the record of verified ECTs that arrived (inbound, or back from a peer)."""
        if not self._records:
            return
        recorder = self.service.workload_id
        self._defer(
            [
                NewEntry.from_claims(
                    e,
                    wit=wit,
                    direction="received",
                    recorder=recorder,
                    unresolved=unresolved.get(e.jti, ()),
                    trace_id=self.trace_id,
                )
                for e in _parents_first(ects)
            ]
        )

    # -- completion --------------------------------------------------------------------------

    def complete(
        self, status: int, *, unrecorded: Mapping[str, int] | None = None
    ) -> list[tuple[str, str]]:
        """Mint the request's completion ECT; the headers that return it. Flush before
        sending them. ``unrecorded``: rejections counted but not recorded since the last
        recorded one, by code."""
        if not self._claim_completion():
            done, wit = self.completion, self.completion_wit
            return [] if done is None or wit is None else _completion_headers(done, wit)
        service = self.service
        identity = service.identity
        ext: dict[str, Any] = {"http_status": status}
        # The caller reads the completion: in the form its ECTs used, else its peer setting.
        drafts = {p.draft for p in self.parents}
        draft = drafts.pop() if len(drafts) == 1 else service.draft_for(self.caller)
        if self.rejection is not None:
            ext["code"] = self.rejection.code
        if unrecorded:
            ext["unrecorded_rejections"] = dict(unrecorded)
        decision = "approved" if self.rejection is None else "rejected"
        claims = self.mint(
            aud=self.caller or service.workload_id,
            jti=self.task_id,
            policy=Policy(INBOUND_POLICY, decision, service.workload_id),
            ext=ext,
            draft=draft,
            identity=identity,
        )
        self.completion, self.completion_wit = claims, identity.wit
        return _completion_headers(claims, identity.wit)

    def fail(self) -> None:
        """The application raised before responding: its completion (status 500) still
        goes in the ledger with the next flush. A completion that cannot be minted is
        logged: the application's own error is the one that matters."""
        try:
            self.complete(500)
        except ECTError as exc:
            log.error("ect.completion_failed", reason=str(exc))

    def complete_root(self, *, failed: bool) -> ECTClaims | None:
        """Mint the completion ECT of a root task (``Runtime.begin_root``); flush afterwards.

        It is addressed to this service (there is no caller) and carries no inbound
        policy decision; ``ext.outcome`` says whether the block it closes raised.
        """
        if not self._claim_completion():
            return self.completion
        identity = self.service.identity
        ext = {"outcome": "failed" if failed else "completed"}
        claims = self.mint(
            aud=self.service.workload_id, jti=self.task_id, ext=ext, identity=identity
        )
        self.completion, self.completion_wit = claims, identity.wit
        return claims

    def _claim_completion(self) -> bool:
        """True exactly once: the caller then mints the completion ECT."""
        with self._lock:
            if self._completing:
                return False
            self._completing = True
            return True

    # -- minting -----------------------------------------------------------------------------

    def mint(
        self,
        *,
        aud: str,
        jti: str | None = None,
        inp_hash: str | None = None,
        policy: Policy | None = None,
        ext: Mapping[str, Any] | None = None,
        is_parent_of_later: bool = False,
        draft: Draft | None = None,
        identity: Identity | None = None,
    ) -> ECTClaims:
        """Mint an ECT for work done on this task, with ``identity`` (by default the
        current one); its record goes with the next flush, which must come before the ECT
        leaves this service."""
        service = self.service
        limits = service.limits
        identity = identity or service.identity
        with self._lock:
            parents = list(dict.fromkeys([p.jti for p in self.parents] + self._later_parents))
        if len(parents) > limits.max_parents:
            log.warning("ect.parents_truncated", kept=limits.max_parents, had=len(parents))
            parents = parents[: limits.max_parents]
        claims = mint_own_ect(
            identity.key,
            iss=service.workload_id,
            aud=aud,
            par=parents,
            exec_act=self.exec_act,
            wid=self.workflow_id,
            limits=limits,
            clock=service.clock,
            jti=jti,
            inp_hash=inp_hash,
            ext=ext,
            policy=policy,
            draft=draft or service.settings.ect_draft,
        )
        # Every parent (verified inbound ECTs, checkpoints, completions received back) was
        # deferred on this task before it could become a parent, so it is recorded first,
        # in the same flush or an earlier one: none is unresolved.
        entry = (
            NewEntry.from_claims(
                claims,
                wit=identity.wit,
                direction="minted",
                recorder=service.workload_id,
                trace_id=self.trace_id,
            )
            if self._records
            else None
        )
        with self._lock:
            self._minted.append(claims.jti)
            if is_parent_of_later:
                self._later_parents.append(claims.jti)
            if entry is not None:
                self._pending.append(entry)
        if entry is not None and self.completion is not None:
            self._write_behind()
        return claims

    def checkpoint(self, policy: str, decision: str, details: Mapping[str, Any]) -> ECTClaims:
        """Record an application policy checkpoint as an ECT of its own, which becomes a
        parent of everything this task does afterwards."""
        workload_id = self.service.workload_id
        claims = self.mint(
            aud=workload_id,
            policy=Policy(policy, decision, workload_id),
            ext=dict(details) or None,
            is_parent_of_later=True,
        )
        self.log_checkpoint(policy, decision, checkpoint=claims.jti, **details)
        return claims

    # -- outbound ----------------------------------------------------------------------------

    def claim_outbound(self, request: object, wpt: str | None) -> bool:
        """Whether outbound ``request`` is due this task's tokens: not given them already
        (a wrapper and the global patch both see it), and carrying no WPT of the
        application's own (``wpt``: the one it carries, if any; one this task attached
        earlier, on a redirect's previous hop, is replaced)."""
        with self._lock:
            if self._injected is None:
                self._injected = weakref.WeakSet()
            elif request in self._injected:
                return False
            self._injected.add(request)
            return wpt is None or (self._issued_wpts is not None and wpt in self._issued_wpts)

    def prepare_outbound(
        self, url: str, *, body: bytes | None, authorization: str | None, txn_token: str | None
    ) -> OutboundCall | None:
        """Mint the ECT and WPT for a call to ``url``; None for non-peers, which never see
        this service's tokens. Flush before sending them (``sent`` once attached)."""
        service = self.service
        peer = service.peer_settings_for(url)
        if peer is None:
            service.non_peers.report(url)
            return None
        identity = service.identity  # one pair for the ECT, the WPT and the WIT sent with them
        ect = self.mint(
            aud=peer.workload,
            inp_hash=sha256_b64url(body) if body else None,
            draft=peer.ect_draft,
            identity=identity,
        )
        wit = identity.wit
        parts = urlsplit(url)
        target = urlunsplit((parts.scheme, parts.netloc, parts.path or "/", "", ""))
        wpt = mint_wpt(
            identity.key,
            wit,
            target,
            Bindings(
                Bindings.bearer_from(authorization),
                txn_token,
                ect.token if peer.bind_ect else None,
            ),
            lifetime=service.limits.wpt_lifetime,
            clock=service.clock,
        )
        headers = dict(zip(OUTBOUND_HEADERS, (wit, wpt, ect.token), strict=True))
        return OutboundCall(peer.workload, target, ect, headers)

    def sent(self, call: OutboundCall) -> None:
        """``call``'s tokens are on their request: a redirect may replace its WPT."""
        with self._lock:
            if self._issued_wpts is None:
                self._issued_wpts = set()
            self._issued_wpts.add(call.headers["Workload-Proof-Token"])

    def unsent(self, call: OutboundCall) -> None:
        """The flush before ``call`` failed, so it goes out without tokens: its ECT, never
        sent, is neither recorded nor listed as minted (what it descends from still is)."""
        jti = call.ect.jti
        with self._lock:
            self._pending = [e for e in self._pending if e.jti != jti or e.direction != "minted"]
            if jti in self._minted:
                self._minted.remove(jti)

    def absorb_response(self, peer: str, headers: Sequence[tuple[str, str]]) -> list[ECTClaims]:
        """Verify and record the completion ECTs a peer returned (fan-in), which become
        parents of later work. A response ECT that does not verify is logged and ignored:
        it never fails the call."""
        request = InboundRequest.from_pairs("", "", headers)
        values = request.get_all(ECT_HEADER)
        if not values:
            return []
        service = self.service
        limits = service.limits
        try:
            wit_values = request.get_all(WIT_HEADER)
            if len(wit_values) != 1:
                raise ECTError("wit.missing", "a response ECT needs exactly one WIT")
            wit = service.wits.verify(wit_values[0].strip())
            if wit.sub != peer:
                raise ECTError("wit.unexpected_subject", "response WIT is not the called peer's")
            tokens = [t.strip() for v in values for t in v.split(",")]
            if len(tokens) > limits.max_ects_per_request:
                raise ECTError("ect.too_many", "too many response ECTs")
            audiences = {service.workload_id}
            ects = [verify_ect(t, wit, audiences, limits, service.clock) for t in tokens]
            if any(e.wid not in (None, self.workflow_id) for e in ects):
                raise ECTError("ect.wid_mismatch", "response ECT of another workflow")
            for e in ects:
                key = f"ect|{service.workload_id}|{e.jti}"
                if not service.replay.first_use(key, e.exp + limits.leeway, peer):
                    raise ECTError("ect.replayed", "response ECT already seen")
            unresolved = check_dag(ects, service.store, limits, service.settings.dag_mode)
        except ECTError as exc:
            log.warning("ect.response_ignored", peer=peer, code=exc.code, reason=exc.detail)
            return []
        self.record_received(ects, wit.token, unresolved)
        with self._lock:
            self._later_parents.extend(e.jti for e in ects)
        return ects

    # -- the ledger --------------------------------------------------------------------------

    def flush(self, *, raising: bool = True) -> None:
        """Make every entry this task deferred durable; blocks until it is (threads only).
        ``raising=False``: for a record no response waits for (a rejection, a failure), a
        ledger failure is logged and the answer still goes out."""
        try:
            entries, written = self._hand_over()
            if written is None:
                return
            try:
                written.result()
            except Exception:
                self._restore(entries)
                raise
        except LedgerError as exc:
            if raising:
                raise
            log.error("ect.ledger_failed", reason=str(exc))

    async def flush_async(self, *, raising: bool = True) -> None:
        """``flush`` for an event loop, which goes on serving while the writer writes."""
        try:
            entries, written = self._hand_over()
            if written is None:
                return
            try:
                if not written.done():  # written at once (the usual case): no hand-off
                    await asyncio.wrap_future(written)
                written.result()
            except Exception:  # not on cancellation: the writer records them anyway
                self._restore(entries)
                raise
        except LedgerError as exc:
            if raising:
                raise
            log.error("ect.ledger_failed", reason=str(exc))

    def _hand_over(self) -> tuple[list[NewEntry], Future[Any] | None]:
        """Hand the deferred entries to the writer; the write to wait for (this one, or
        the task's last one still in flight), and the entries to put back if it fails."""
        with self._pending_lock:  # the flushes of one task reach the writer in order
            with self._lock:
                entries, self._pending = self._pending, []
            if not entries:
                return entries, self._last_write
            try:
                self._last_write = self.service.writer.submit(entries)
            except Exception:
                self._restore(entries)
                raise
            return entries, self._last_write

    def _restore(self, entries: list[NewEntry]) -> None:
        """Put back entries whose hand-over failed, ahead of any deferred since."""
        with self._lock:
            self._pending[:0] = entries

    def _defer(self, entries: list[NewEntry]) -> None:
        """Record ``entries`` with the next flush."""
        with self._lock:
            self._pending.extend(entries)
        if self.completion is not None:
            self._write_behind()

    def _write_behind(self) -> None:
        """After the response (a background task, a streaming body) nothing flushes
        again: what is deferred then is handed over at once, and not waited for."""
        try:
            _, written = self._hand_over()
        except LedgerError as exc:
            log.error("ect.ledger_failed", reason=str(exc))
            return
        if written is not None:
            written.add_done_callback(_log_failed_write)


class RequestContext:
    """The verified context of the request being handled (``current_context()``): who
    called, in which workflow, from which parent ECTs, and what this service has minted
    since. Read-only, except ``exec_act``."""

    __slots__ = ("_task",)

    def __init__(self, task: Task) -> None:
        self._task = task

    @property
    def workflow_id(self) -> str:
        return self._task.workflow_id

    @property
    def task_id(self) -> str:
        """The jti of this request's completion ECT, known from the start."""
        return self._task.task_id

    @property
    def caller(self) -> str | None:
        """The caller's workload identifier; None for a request that starts a workflow."""
        return self._task.caller

    @property
    def parents(self) -> tuple[ECTClaims, ...]:
        """The verified inbound ECTs (their claims)."""
        return self._task.parents

    @property
    def minted(self) -> tuple[str, ...]:
        """The jti of every ECT this service minted while handling the request."""
        return self._task.minted

    @property
    def completion(self) -> ECTClaims | None:
        """The completion ECT, once minted (when the response starts)."""
        return self._task.completion

    @property
    def rejection(self) -> ECTError | None:
        """In observe mode, why the request would have been rejected."""
        return self._task.rejection

    @property
    def trace_id(self) -> str | None:
        """The OpenTelemetry trace id current when the request began, if any."""
        return self._task.trace_id

    @property
    def exec_act(self) -> str:
        """The action minted ECTs record; defaults to the route, e.g. ``POST /delegate``."""
        return self._task.exec_act

    @exec_act.setter
    def exec_act(self, value: str) -> None:
        self._task.exec_act = value

    def peer_for(self, url: str) -> str | None:
        """The workload a call to ``url`` is addressed to (ECT_PEERS), or None: calls to
        any other host carry none of this service's tokens."""
        peer = self._task.service.peer_settings_for(url)
        return None if peer is None else peer.workload


_current: ContextVar[RequestContext | None] = ContextVar("ect_request_context", default=None)


def current_context() -> RequestContext | None:
    """The context of the request being handled, or None outside a request."""
    return _current.get()


def current_task() -> Task | None:
    """The task of the request being handled, for the library's own hooks."""
    ctx = _current.get()
    return None if ctx is None else ctx._task


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


def _completion_headers(claims: ECTClaims, wit: str) -> list[tuple[str, str]]:
    return [("Execution-Context", claims.token), ("Workload-Identity-Token", wit)]


def _log_failed_write(written: Future[Any]) -> None:
    exc = written.exception()
    if exc is not None:
        log.error("ect.ledger_failed", reason=str(exc))


def _parents_first(ects: Sequence[ECTClaims]) -> list[ECTClaims]:
    """Order the ECTs of one request so that a parent is recorded before its child."""
    pending = {e.jti: e for e in ects}
    ordered: list[ECTClaims] = []
    while pending:
        ready = [e for e in pending.values() if not any(p in pending for p in e.par)]
        for e in ready or list(pending.values()):  # a cycle was already rejected by the DAG
            ordered.append(pending.pop(e.jti))
    return ordered

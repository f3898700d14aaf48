"""One service's assembled pipeline, built once from ``Settings`` and shared by the ASGI and
WSGI middlewares and the outbound hooks.

Per request it: verifies what arrived (or starts a workflow, or records a rejection), mints
and records every ECT this service issues (outbound calls, checkpoints, the completion), and
verifies and records the completion ECTs that come back (fan-in).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from . import otel
from .config import Draft, Peer, Settings, setting
from .context.request_context import RequestContext
from .diagnostics import NonPeerHosts, OwnWITExpiry, log_audience_mismatch
from .errors import ConfigurationError, ECTError, LedgerError
from .ledger import Ledger, NewEntry, open_ledger
from .ledger.writer import LedgerWriter
from .limits import Limits
from .logs import log
from .rejection_budget import RejectionBudget
from .tokens import jws
from .tokens.ect import ECTClaims, Policy, mint_ect, verify_ect
from .tokens.encoding import sha256_b64url
from .tokens.identifiers import new_uuid
from .tokens.keys import InvalidKey, SigningKey, jwk_thumbprint, load_signing_key, shown_path
from .tokens.trust import TrustBundle, is_inline
from .tokens.wit import WITVerifier
from .tokens.wpt import Bindings, mint_wpt
from .verification import (
    InboundRequest,
    ReplayCache,
    RequestVerifier,
    check_dag,
)
from .verification.replay_open import open_replay_cache
from .verification.request import ECT_HEADER, WIT_HEADER
from .verification.store import LedgerTaskStore
from .watched import WatchedFile

#: The policy under which the middleware records its own decision on each inbound request.
INBOUND_POLICY = "ect-middleware/inbound"
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


class Runtime:
    def __init__(
        self, settings: Settings, *, ledger: Ledger | None = None, replay: ReplayCache | None = None
    ) -> None:
        self.settings = settings
        self.workload_id: str = str(settings.workload_id)
        self.limits: Limits = settings.limits
        self.clock = settings.clock
        self._key_file = str(settings.key_file)
        with setting("ECT_KEY_FILE"):
            load_signing_key(self._key_file)  # named at startup; the pair is read below
        # The key and the WIT rotate together: both files are re-read when either changes,
        # and the pair is swapped only once the new WIT confirms the new key.
        with setting("ECT_WIT_FILE"):
            self._identity = WatchedFile(
                str(settings.wit_file), self._read_identity, settings.clock, also=(self._key_file,)
            )
        trust: Callable[[], TrustBundle]
        with setting("ECT_TRUST_BUNDLE"):
            if is_inline(str(settings.trust_bundle)):  # given as JSON: fixed for the process
                inline = TrustBundle.from_setting(str(settings.trust_bundle))
                trust = lambda: inline  # noqa: E731
            else:
                self._trust = WatchedFile(str(settings.trust_bundle), TrustBundle.load, self.clock)
                trust = self._trust.get
        # A WIT that carries an ``aud`` must name this workload or one of its base URLs.
        wit_audiences = {self.workload_id}
        for base in settings.audience:
            wit_audiences.update((base, base.rstrip("/"), base.rstrip("/") + "/"))
        self.wits = WITVerifier(trust, self.limits, self.clock, audiences=frozenset(wit_audiences))
        with setting("ECT_LEDGER"):
            self.ledger = ledger or open_ledger(settings.ledger, clock=self.clock)
        self._writer = LedgerWriter(
            self.ledger, background=self.settings.ledger_write == "background"
        )
        with setting("ECT_REPLAY"):
            self.replay = (
                replay
                if replay is not None
                else open_replay_cache(
                    settings.replay, self.clock, max_per_caller=self.limits.replay_max_per_caller
                )
            )
        self._store = LedgerTaskStore(self.ledger, self.workload_id)
        self.verifier = RequestVerifier(
            workload_id=self.workload_id,
            base_urls=settings.audience,
            wits=self.wits,
            replay=self.replay,
            store=lambda: self._store,
            limits=self.limits,
            clock=self.clock,
            dag_mode=settings.dag_mode,
            require_ect_binding=settings.require_ect_binding,
        )
        self._rejections = RejectionBudget(
            self.clock,
            self.limits.rejections_recorded_burst,
            self.limits.rejections_recorded_per_second,
        )
        # Longest prefix first, so a more specific peer entry wins.
        self._peers = sorted(settings.peers.items(), key=lambda kv: len(kv[0]), reverse=True)
        self._non_peers = NonPeerHosts(settings.peers)
        self._wit_expiry = OwnWITExpiry(settings.wit_expiry_warning, self.clock)
        self._wit_expiry.check(self._identity.get().wit)

    @property
    def identity(self) -> Identity:
        """This service's current key and WIT (re-read when either file is replaced). Take
        it once per use: ``key`` and ``wit`` read separately may straddle a rotation."""
        identity = self._identity.get()
        self._wit_expiry.check(identity.wit)
        return identity

    @property
    def key(self) -> SigningKey:
        return self.identity.key

    @property
    def wit(self) -> str:
        return self.identity.wit

    # -- inbound ---------------------------------------------------------------------------

    def is_excluded(self, path: str) -> bool:
        return _has_prefix(path, self.settings.exclude_paths)

    def is_jsonrpc(self, path: str) -> bool:
        """Whether POSTs to ``path`` carry JSON-RPC, whose method names the task
        (ECT_JSONRPC_PATHS)."""
        return _has_prefix(path, self.settings.jsonrpc_paths)

    def begin(self, request: InboundRequest, exec_act: Callable[[], str]) -> RequestContext:
        """Verify ``request``, and defer the record of its ECTs to the request's first
        flush; raise ``ECTError`` to reject it.

        A request on an entry path without WIMSE headers starts a new workflow.
        """
        if not request.has_wimse_headers() and _has_prefix(request.path, self.settings.entry_paths):
            return self._new_context(None, (), None, exec_act)
        try:
            verified = self.verifier.verify(request)
        except ECTError as error:
            if error.code.endswith(".audience_mismatch"):
                bases = (b.rstrip("/") + request.path for b in self.settings.audience)
                log_audience_mismatch(error, request, bases, {self.workload_id})
            raise
        ctx = self._new_context(verified.caller.sub, verified.parents, verified.wid, exec_act)
        self._record_received(ctx, verified.parents, verified.caller.token, verified.unresolved)
        return ctx

    def begin_root(self, exec_act: str) -> RequestContext:
        """The root task of a new workflow that this service starts itself, outside any
        request: no caller, no parents. End it with ``complete_root``."""
        return self._new_context(None, (), None, lambda: exec_act)

    def begin_unverified(self, error: ECTError, exec_act: Callable[[], str]) -> RequestContext:
        """A context for a request that failed verification (observe mode, or to record the
        rejection): no caller, no parents, a workflow of its own."""
        return self._new_context(None, (), None, exec_act, rejection=error)

    def record_rejection(self, ctx: RequestContext, status: int) -> bool:
        """Mint the signed record of ``ctx``'s enforced rejection, if the rejection budget
        allows (True; flush ``ctx`` then); otherwise only count it (False)."""
        assert ctx.rejection is not None
        unrecorded = self._rejections.admit(ctx.rejection.code)
        if unrecorded is None:
            return False
        self.complete(ctx, status, unrecorded=unrecorded)
        return True

    def complete(
        self, ctx: RequestContext, status: int, *, unrecorded: Mapping[str, int] | None = None
    ) -> list[tuple[str, str]]:
        """Mint the request's completion ECT; the headers that return it. Flush before
        sending them. ``unrecorded``: rejections counted but not recorded since the last
        recorded one, by code."""
        if not ctx.claim_completion():
            done, wit = ctx.completion, ctx.completion_wit
            return [] if done is None or wit is None else self._completion_headers(done, wit)
        identity = self.identity
        ext: dict[str, Any] = {"http_status": status}
        # The caller reads the completion: in the form its ECTs used, else its peer setting.
        drafts = {p.draft for p in ctx.parents}
        draft = drafts.pop() if len(drafts) == 1 else self._draft_for_workload(ctx.caller)
        if ctx.rejection is not None:
            ext["code"] = ctx.rejection.code
        if unrecorded:
            ext["unrecorded_rejections"] = dict(unrecorded)
        decision = "approved" if ctx.rejection is None else "rejected"
        claims = self.mint(
            ctx,
            aud=ctx.caller or self.workload_id,
            jti=ctx.task_id,
            policy=Policy(INBOUND_POLICY, decision, self.workload_id),
            ext=ext,
            draft=draft,
            identity=identity,
        )
        ctx.set_completion(claims, identity.wit)
        return self._completion_headers(claims, identity.wit)

    def complete_root(self, ctx: RequestContext, *, failed: bool) -> ECTClaims | None:
        """Mint the completion ECT of a root task (``begin_root``); flush afterwards.

        It is addressed to this service (there is no caller) and carries no inbound
        policy decision; ``ext.outcome`` says whether the block it closes raised.
        """
        if not ctx.claim_completion():
            return ctx.completion
        identity = self.identity
        ext = {"outcome": "failed" if failed else "completed"}
        claims = self.mint(ctx, aud=self.workload_id, jti=ctx.task_id, ext=ext, identity=identity)
        ctx.set_completion(claims, identity.wit)
        return claims

    def _completion_headers(self, claims: ECTClaims, wit: str) -> list[tuple[str, str]]:
        return [("Execution-Context", claims.token), ("Workload-Identity-Token", wit)]

    # -- minting ---------------------------------------------------------------------------

    def mint(
        self,
        ctx: RequestContext,
        *,
        aud: str,
        jti: str | None = None,
        inp_hash: str | None = None,
        policy: Policy | None = None,
        ext: Mapping[str, Any] | None = None,
        exec_act: str | None = None,
        is_parent_of_later: bool = False,
        draft: Draft | None = None,
        identity: Identity | None = None,
    ) -> ECTClaims:
        """Mint an ECT for work done on ``ctx``, with ``identity`` (by default the current
        one); its record goes with the request's next flush, which must come before the ECT
        leaves this service."""
        identity = identity or self.identity
        parents = ctx.next_parents()
        if len(parents) > self.limits.max_parents:
            log.warning("ect.parents_truncated", kept=self.limits.max_parents, had=len(parents))
            parents = parents[: self.limits.max_parents]
        claims = mint_ect(
            identity.key,
            iss=self.workload_id,
            aud=aud,
            par=parents,
            exec_act=exec_act or ctx.exec_act,
            wid=ctx.workflow_id,
            limits=self.limits,
            clock=self.clock,
            jti=jti,
            inp_hash=inp_hash,
            ext=ext,
            policy=policy,
            draft=draft or self.settings.ect_draft,
        )
        # Every parent (verified inbound ECTs, checkpoints, completions received back) was
        # deferred on this request before it could become a parent, so it is recorded
        # first, in the same flush or an earlier one: none is unresolved.
        self._defer(
            ctx,
            [
                NewEntry.from_claims(
                    claims,
                    wit=identity.wit,
                    direction="minted",
                    recorder=self.workload_id,
                    trace_id=ctx.trace_id,
                )
            ],
        )
        ctx.record_minted(claims, is_parent_of_later=is_parent_of_later)
        return claims

    def checkpoint(
        self, ctx: RequestContext, policy: str, decision: str, details: Mapping[str, Any]
    ) -> ECTClaims:
        """Record an application policy checkpoint as an ECT of its own, which becomes a
        parent of everything this request does afterwards."""
        claims = self.mint(
            ctx,
            aud=self.workload_id,
            policy=Policy(policy, decision, self.workload_id),
            ext=dict(details) or None,
            is_parent_of_later=True,
        )
        self.checkpoint_logged(ctx, policy, decision, checkpoint=claims.jti, **details)
        return claims

    def checkpoint_logged(
        self, ctx: RequestContext, policy: str, decision: str, **details: Any
    ) -> None:
        """Log a checkpoint with the request's ids bound explicitly, so they are there even
        before the request scope is entered and whatever the app's structlog pipeline."""
        code = details.get("code")
        otel.checkpoint(
            policy,
            decision,
            self.workload_id,
            jti=details.get("checkpoint"),
            code=code if isinstance(code, str) else None,
        )
        level = log.info if decision == "approved" else log.warning
        level(
            "ect.checkpoint",
            workflow_id=ctx.workflow_id,
            task_id=ctx.task_id,
            caller=ctx.caller,
            policy=policy,
            decision=decision,
            enforcer=self.workload_id,
            **details,
        )

    # -- outbound --------------------------------------------------------------------------

    def peer_for(self, url: str) -> str | None:
        """The workload identifier configured for ``url`` (ECT_PEERS), if any."""
        peer = self.peer_settings_for(url)
        return None if peer is None else peer.workload

    def peer_settings_for(self, url: str) -> Peer | None:
        """The ECT_PEERS entry for ``url`` (longest matching prefix), if any."""
        for prefix, peer in self._peers:
            if url.startswith(prefix) and (
                len(url) == len(prefix) or prefix.endswith("/") or url[len(prefix)] in "/?#"
            ):
                return peer
        return None

    def _draft_for_workload(self, workload: str | None) -> Draft:
        for _, peer in self._peers:
            if peer.workload == workload and peer.ect_draft is not None:
                return peer.ect_draft
        return self.settings.ect_draft

    def prepare_outbound(
        self,
        ctx: RequestContext,
        url: str,
        *,
        body: bytes | None,
        authorization: str | None,
        txn_token: str | None,
    ) -> OutboundCall | None:
        """Mint the ECT and WPT for a call to ``url``; None for non-peers, which never see
        this service's tokens. Flush before sending them."""
        peer = self.peer_settings_for(url)
        if peer is None:
            self._non_peers.report(url)
            return None
        identity = self.identity  # one pair for the ECT, the WPT and the WIT sent with them
        ect = self.mint(
            ctx,
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
            lifetime=self.limits.wpt_lifetime,
            clock=self.clock,
        )
        headers = dict(zip(OUTBOUND_HEADERS, (wit, wpt, ect.token), strict=True))
        return OutboundCall(peer.workload, target, ect, headers)

    def absorb_response(
        self, ctx: RequestContext, peer: str, headers: Sequence[tuple[str, str]]
    ) -> list[ECTClaims]:
        """Verify and record the completion ECTs a peer returned (fan-in). A response ECT
        that does not verify is logged and ignored: it never fails the call."""
        request = InboundRequest.from_pairs("", "", headers)
        values = request.get_all(ECT_HEADER)
        if not values:
            return []
        try:
            wit_values = request.get_all(WIT_HEADER)
            if len(wit_values) != 1:
                raise ECTError("wit.missing", "a response ECT needs exactly one WIT")
            wit = self.wits.verify(wit_values[0].strip())
            if wit.sub != peer:
                raise ECTError("wit.unexpected_subject", "response WIT is not the called peer's")
            tokens = [t.strip() for v in values for t in v.split(",")]
            if len(tokens) > self.limits.max_ects_per_request:
                raise ECTError("ect.too_many", "too many response ECTs")
            audiences = {self.workload_id}
            ects = [verify_ect(t, wit, audiences, self.limits, self.clock) for t in tokens]
            if any(e.wid not in (None, ctx.workflow_id) for e in ects):
                raise ECTError("ect.wid_mismatch", "response ECT of another workflow")
            for e in ects:
                key = f"ect|{self.workload_id}|{e.jti}"
                if not self.replay.first_use(key, e.exp + self.limits.leeway, peer):
                    raise ECTError("ect.replayed", "response ECT already seen")
            unresolved = check_dag(ects, self._store, self.limits, self.settings.dag_mode)
        except ECTError as exc:
            log.warning("ect.response_ignored", peer=peer, code=exc.code, reason=exc.detail)
            return []
        self._record_received(ctx, ects, wit.token, unresolved)
        for e in ects:
            ctx.record_received(e)
        return ects

    # -- the ledger ------------------------------------------------------------------------

    def flush(self, ctx: RequestContext) -> None:
        """Make every entry ``ctx`` deferred durable; blocks until it is (threads only)."""
        entries, written = self._hand_over(ctx)
        if written is None:
            return
        try:
            written.result()
        except Exception:
            ctx.restore_pending(entries)
            raise

    async def flush_async(self, ctx: RequestContext) -> None:
        """``flush`` for an event loop, which goes on serving while the writer writes."""
        entries, written = self._hand_over(ctx)
        if written is None:
            return
        try:
            if not written.done():  # written at once (the usual case): no hand-off
                await asyncio.wrap_future(written)
            written.result()
        except Exception:  # not on cancellation: the writer records them anyway
            ctx.restore_pending(entries)
            raise

    def _hand_over(self, ctx: RequestContext) -> tuple[list[NewEntry], Future[Any] | None]:
        """Hand the deferred entries to the writer; the write to wait for (this one, or
        the request's last one still in flight), and the entries to put back if it fails."""
        with ctx.pending_lock:  # the flushes of one request reach the writer in order
            entries = ctx.take_pending()
            if not entries:
                return entries, ctx.last_write
            try:
                ctx.last_write = self._writer.submit(entries)
            except Exception:
                ctx.restore_pending(entries)
                raise
            return entries, ctx.last_write

    def _defer(self, ctx: RequestContext, entries: list[NewEntry]) -> None:
        """Record ``entries`` with the request's next flush; after its response (a
        background task, a streaming body) nothing flushes again: write them behind."""
        ctx.defer(entries)
        if ctx.completion is None:
            return
        try:
            _, written = self._hand_over(ctx)
        except LedgerError as exc:
            log.error("ect.ledger_failed", reason=str(exc))
            return
        if written is not None:
            written.add_done_callback(_log_failed_write)

    # -- helpers ---------------------------------------------------------------------------

    def _new_context(
        self,
        caller: str | None,
        parents: tuple[ECTClaims, ...],
        wid: str | None,
        exec_act: Callable[[], str],
        rejection: ECTError | None = None,
    ) -> RequestContext:
        ctx = RequestContext(
            self,
            workflow_id=wid or new_uuid(),
            task_id=new_uuid(),
            caller=caller,
            parents=parents,
            default_exec_act=exec_act,
            rejection=rejection,
        )
        ctx.trace_id = otel.request_started(ctx)
        return ctx

    def _record_received(
        self,
        ctx: RequestContext,
        ects: Sequence[ECTClaims],
        wit: str,
        unresolved: Mapping[str, tuple[str, ...]],
    ) -> None:
        self._defer(
            ctx,
            [
                NewEntry.from_claims(
                    e,
                    wit=wit,
                    direction="received",
                    recorder=self.workload_id,
                    unresolved=unresolved.get(e.jti, ()),
                    trace_id=ctx.trace_id,
                )
                for e in _parents_first(ects)
            ],
        )

    def close(self) -> None:
        self._record_unrecorded_rejections()
        self._writer.close()
        self.ledger.close()
        self.replay.close()

    def _record_unrecorded_rejections(self) -> None:
        """The rejections counted but not yet recorded get a signed record of their own."""
        counted = self._rejections.drain()
        if not counted:
            return
        ctx = self._new_context(None, (), None, lambda: "ect-middleware rejections")
        try:
            self.mint(
                ctx,
                aud=self.workload_id,
                policy=Policy(INBOUND_POLICY, "rejected", self.workload_id),
                ext={"unrecorded_rejections": counted},
            )
            self.flush(ctx)
        except (LedgerError, ECTError, ValueError) as exc:
            log.error("ect.ledger_failed", reason=str(exc), unrecorded_rejections=counted)

    def _read_identity(self, path: str) -> Identity:
        """Read this service's key (``ECT_KEY_FILE``) and WIT (``path``); the WIT must name
        this workload and confirm this key (its ``cnf.jwk``). A mismatch (for example a
        rotation half done: the new key, the old WIT) raises, so the last good pair is
        kept until both files agree."""
        key = load_signing_key(self._key_file)
        try:
            with open(path, encoding="ascii") as handle:
                token = handle.read().strip()
        except (OSError, UnicodeDecodeError) as exc:
            # not str(exc): an OSError's message holds the file name, which may be a token
            reason = exc.strerror if isinstance(exc, OSError) else exc
            raise ConfigurationError(f"cannot read WIT file {shown_path(path)}: {reason}") from None
        payload = jws.read_payload(token) or {}
        cnf = payload.get("cnf")
        try:
            thumbprint = jwk_thumbprint(cnf["jwk"]) if isinstance(cnf, dict) else None
        except (InvalidKey, KeyError, TypeError):
            thumbprint = None
        if payload.get("sub") != self.workload_id:
            raise ConfigurationError(f"WIT file {path} is not a WIT for {self.workload_id}")
        if thumbprint != key.public.thumbprint:
            raise ConfigurationError(f"WIT file {path} does not confirm ECT_KEY_FILE's key")
        return Identity(key, token)


def _log_failed_write(written: Future[Any]) -> None:
    exc = written.exception()
    if exc is not None:
        log.error("ect.ledger_failed", reason=str(exc))


def _has_prefix(path: str, prefixes: Sequence[str]) -> bool:
    return any(path == p or path.startswith(p if p.endswith("/") else p + "/") for p in prefixes)


def _parents_first(ects: Sequence[ECTClaims]) -> list[ECTClaims]:
    """Order the ECTs of one request so that a parent is recorded before its child."""
    pending = {e.jti: e for e in ects}
    ordered: list[ECTClaims] = []
    while pending:
        ready = [e for e in pending.values() if not any(p in pending for p in e.par)]
        for e in ready or list(pending.values()):  # a cycle was already rejected by the DAG
            ordered.append(pending.pop(e.jti))
    return ordered

"""One service's assembled pipeline, built once from ``Settings`` and shared by the ASGI and
WSGI middlewares, ``start_workflow`` and the outbound hooks.

It holds what lives as long as the service: its identity (key and WIT, re-read on
rotation), the trust bundle and WIT verifier, the request verifier, the ledger and its
writer, the replay cache, the peers and the rejection budget. Per request it opens a
``Task`` (``begin``: verify what arrived; ``begin_unverified``: a rejection to record;
``begin_root``: a workflow this service starts), which does the request's work.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .config import Draft, Peer, Settings, setting
from .context.task import INBOUND_POLICY, Identity, Task
from .diagnostics import NonPeerHosts, OwnWITExpiry, log_audience_mismatch
from .errors import ConfigurationError, ECTError, LedgerError
from .ledger import Ledger, open_ledger
from .ledger.writer import LedgerWriter
from .limits import Limits
from .logs import log
from .rejection_budget import RejectionBudget
from .replay import open_replay_cache
from .tokens import jws
from .tokens.ect import ECTClaims, Policy
from .tokens.identifiers import new_uuid
from .tokens.keys import InvalidKey, SigningKey, jwk_thumbprint, load_signing_key, shown_path
from .tokens.trust import TrustBundle, is_inline
from .tokens.wit import WITVerifier
from .verification import InboundRequest, ReplayCache, RequestVerifier
from .verification.store import LedgerTaskStore
from .watched import WatchedFile

__all__ = ["INBOUND_POLICY", "Identity", "Runtime"]


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
        self.writer = LedgerWriter(
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
        self.store = LedgerTaskStore(self.ledger, self.workload_id)
        self.verifier = RequestVerifier(
            workload_id=self.workload_id,
            base_urls=settings.audience,
            wits=self.wits,
            replay=self.replay,
            store=lambda: self.store,
            limits=self.limits,
            clock=self.clock,
            dag_mode=settings.dag_mode,
            require_ect_binding=settings.require_ect_binding,
        )
        self.rejections = RejectionBudget(
            self.clock,
            self.limits.rejections_recorded_burst,
            self.limits.rejections_recorded_per_second,
        )
        # Longest prefix first, so a more specific peer entry wins.
        self._peers = sorted(settings.peers.items(), key=lambda kv: len(kv[0]), reverse=True)
        self.non_peers = NonPeerHosts(settings.peers)
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

    # -- requests ----------------------------------------------------------------------------

    def is_excluded(self, path: str) -> bool:
        return _has_prefix(path, self.settings.exclude_paths)

    def is_jsonrpc(self, path: str) -> bool:
        """Whether POSTs to ``path`` carry JSON-RPC, whose method names the task
        (ECT_JSONRPC_PATHS)."""
        return _has_prefix(path, self.settings.jsonrpc_paths)

    def begin(self, request: InboundRequest, exec_act: Callable[[], str]) -> Task:
        """Verify ``request``: the task this service performs for it, whose first flush
        records the ECTs it carried; raise ``ECTError`` to reject it.

        A request on an entry path without WIMSE headers starts a new workflow.
        """
        if not request.has_wimse_headers() and _has_prefix(request.path, self.settings.entry_paths):
            return self._task(None, (), None, exec_act)
        try:
            verified = self.verifier.verify(request)
        except ECTError as error:
            if error.code.endswith(".audience_mismatch"):
                bases = (b.rstrip("/") + request.path for b in self.settings.audience)
                log_audience_mismatch(error, request, bases, {self.workload_id})
            raise
        task = self._task(verified.caller.sub, verified.parents, verified.wid, exec_act)
        task.record_received(verified.parents, verified.caller.token, verified.unresolved)
        return task

    def begin_root(self, exec_act: str) -> Task:
        """The root task of a new workflow that this service starts itself, outside any
        request: no caller, no parents. End it with ``Task.complete_root``."""
        return self._task(None, (), None, lambda: exec_act)

    def begin_unverified(self, error: ECTError, exec_act: Callable[[], str]) -> Task:
        """The task of a request that failed verification (observe mode, or to record the
        rejection): no caller, no parents, a workflow of its own."""
        return self._task(None, (), None, exec_act, rejection=error)

    def _task(
        self,
        caller: str | None,
        parents: tuple[ECTClaims, ...],
        wid: str | None,
        exec_act: Callable[[], str],
        rejection: ECTError | None = None,
    ) -> Task:
        return Task(
            self,
            workflow_id=wid or new_uuid(),
            task_id=new_uuid(),
            caller=caller,
            parents=parents,
            exec_act=exec_act,
            rejection=rejection,
        )

    # -- peers -------------------------------------------------------------------------------

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

    def draft_for(self, workload: str | None) -> Draft:
        """The ECT form ``workload`` reads: its peer setting, else ECT_DRAFT."""
        for _, peer in self._peers:
            if peer.workload == workload and peer.ect_draft is not None:
                return peer.ect_draft
        return self.settings.ect_draft

    def close(self) -> None:
        self._record_unrecorded_rejections()
        self.writer.close()
        self.ledger.close()
        self.replay.close()

    def _record_unrecorded_rejections(self) -> None:
        """The rejections counted but not yet recorded get a signed record of their own."""
        counted = self.rejections.drain()
        if not counted:
            return
        task = self.begin_root("ect-middleware rejections")
        try:
            task.mint(
                aud=self.workload_id,
                policy=Policy(INBOUND_POLICY, "rejected", self.workload_id),
                ext={"unrecorded_rejections": counted},
            )
            task.flush()
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


def _has_prefix(path: str, prefixes: Sequence[str]) -> bool:
    return any(path == p or path.startswith(p if p.endswith("/") else p + "/") for p in prefixes)

"""The verification pipeline: one framework-free entry point for an inbound request.

Order (PROFILE §3-§6): WIT against the trust bundle; WPT with the WIT's key, bound to this
service's URI for the request and to the other tokens; every ECT with the caller's key;
replay of the WPT and ECTs; the DAG rules. The first failure raises an ``ECTError`` with a
stable code; nothing is recorded here (the caller records what it accepts).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ..errors import ECTError
from ..limits import Clock, Limits
from ..replay import ReplayCache
from ..tokens.ect import ECTClaims, verify_ect
from ..tokens.wit import VerifiedWIT, WITVerifier
from ..tokens.wpt import Bindings, VerifiedWPT, verify_wpt
from .dag import DagMode, TaskStore, check_dag
from .request import InboundRequest, RequestTokens


@dataclass(frozen=True)
class VerifiedRequest:
    caller: VerifiedWIT
    wpt: VerifiedWPT = field(repr=False)
    parents: tuple[ECTClaims, ...]
    #: jti -> parents of that ECT that are not in the store (partial mode only)
    unresolved: Mapping[str, tuple[str, ...]]
    wid: str | None


class RequestVerifier:
    def __init__(
        self,
        *,
        workload_id: str,
        base_urls: tuple[str, ...],
        wits: WITVerifier,
        replay: ReplayCache,
        store: Callable[[], TaskStore],
        limits: Limits,
        clock: Clock,
        dag_mode: DagMode = "partial",
        extra_audiences: tuple[str, ...] = (),
        require_ect_binding: bool = False,
    ) -> None:
        self._require_ect_binding = require_ect_binding
        self._workload_id = workload_id
        self._bases = tuple(b.rstrip("/") for b in base_urls)
        self._ect_audiences = frozenset((workload_id, *extra_audiences))
        self._wits = wits
        self._replay = replay
        self._store = store
        self._limits = limits
        self._clock = clock
        self._dag_mode = dag_mode

    def verify(self, request: InboundRequest) -> VerifiedRequest:
        limits, clock = self._limits, self._clock
        tokens = RequestTokens.extract(request, limits)
        caller = self._wits.verify(tokens.wit)
        bindings = Bindings(
            bearer=Bindings.bearer_from(request.get("authorization")),
            txn_token=request.get("txn-token"),
            execution_context=tokens.execution_context,
        )
        audiences = [base + request.path for base in self._bases]
        wpt = verify_wpt(
            tokens.wpt,
            caller,
            audiences,
            bindings,
            limits,
            clock,
            require_ect_binding=self._require_ect_binding,
        )
        ects = tuple(verify_ect(t, caller, self._ect_audiences, limits, clock) for t in tokens.ects)
        wids = {e.wid for e in ects}  # one workflow, or none for all (PROFILE §6)
        if len(wids) > 1:
            raise ECTError("ect.wid_mismatch", "ECTs of several workflows (or none) on one request")
        me = self._workload_id
        replay, who = self._replay, caller.sub
        if not replay.first_use(f"wpt|{me}|{who}|{wpt.jti}", wpt.exp + limits.leeway, who):
            raise ECTError("wpt.replayed", "this WPT was already used")
        for ect in ects:
            if not replay.first_use(f"ect|{me}|{ect.jti}", ect.exp + limits.leeway, who):
                raise ECTError("ect.replayed", "this ECT was already presented")
        unresolved = check_dag(ects, self._store(), limits, self._dag_mode)
        return VerifiedRequest(caller, wpt, ects, unresolved, wids.pop() if wids else None)

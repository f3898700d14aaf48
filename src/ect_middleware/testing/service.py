"""The service under test: its identity, an in-memory ledger its middleware records into,
and assertions on what it recorded and checkpointed."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import SplitResult

from ..config import Settings
from ..ledger import LedgerEntry, verify_chain
from ..ledger.base import Direction, Ledger
from ..ledger.memory import MemoryLedger
from ..ledger.open import ENGINES
from ..limits import Clock
from ..runtime import Runtime
from ..tokens.ect import model_view
from ..tokens.jws import read_payload
from .identities import BASE_URL, Identity

#: ``ECT_LEDGER=ecttest://N`` opens the in-memory ledger of the N-th service under test, so
#: that a middleware configured from the environment records where the test can read.
SCHEME = "ecttest"
_ledgers: dict[str, MemoryLedger] = {}
_numbers = itertools.count(1)
_lock = threading.Lock()


def _open_test_ledger(url: SplitResult, clock: Clock, create: bool) -> Ledger:
    ledger = _ledgers.get(url.netloc)
    if ledger is None:
        raise ValueError("this test ledger is closed: its service under test has ended")
    return ledger


@dataclass(frozen=True)
class Checkpoint:
    """A policy decision recorded as an ECT (``pol``, ``pol_decision``, ``pol_enforcer``, at
    the top level in draft -00, inside ``ect_ext`` in draft -01)."""

    policy: str
    decision: str
    enforcer: str | None
    jti: str
    wid: str | None
    #: the checkpoint's details (the ECT's extension: ``ext``, or ``ect_ext`` less the policy)
    details: Mapping[str, Any] = field(default_factory=dict)


class ServiceUnderTest:
    """A service identity with an in-memory ledger. Configure the app under test with
    ``env`` (what ``ECTMiddleware()`` reads), ``settings()`` or ``runtime``; then read
    what its middleware recorded with ``entries``, ``checkpoints`` and the ``assert_*``
    helpers."""

    def __init__(self, identity: Identity, *, base_url: str = BASE_URL, **settings: Any) -> None:
        self.identity = identity
        self.base_url = base_url
        self.ledger = MemoryLedger(clock=identity.clock)
        with _lock:
            self._name = str(next(_numbers))
            _ledgers[self._name] = self.ledger
            ENGINES.setdefault(SCHEME, _open_test_ledger)
        self.ledger_url = f"{SCHEME}://{self._name}"
        self._settings = settings
        self._runtime: Runtime | None = None

    @property
    def workload_id(self) -> str:
        return self.identity.workload_id

    @property
    def env(self) -> dict[str, str]:
        """``ECT_*`` variables for this service; its ledger is ``self.ledger``."""
        return self.identity.env(audience=self.base_url, ledger=self.ledger_url)

    def settings(self, **overrides: Any) -> Settings:
        """``Settings`` for this service, recording into ``self.ledger``."""
        values = {"ledger": self.ledger_url, **self._settings, **overrides}
        return self.identity.settings(audience=self.base_url, **values)

    @property
    def runtime(self) -> Runtime:
        """One runtime for this service (``ECTMiddleware(app, runtime=...)``), built once."""
        if self._runtime is None:
            self._runtime = Runtime(self.settings(), ledger=self.ledger)
        return self._runtime

    def close(self) -> None:
        if self._runtime is not None:
            self._runtime.close()
        with _lock:
            _ledgers.pop(self._name, None)

    # -- reading the ledger ----------------------------------------------------------------

    def entries(
        self, *, wid: str | None = None, direction: Direction | None = None
    ) -> list[LedgerEntry]:
        """What the service recorded, in order; only workflow ``wid`` or one direction
        (``received`` from callers and peers, ``minted`` here) if asked."""
        return [
            e for e in self.ledger.entries(wid=wid) if direction is None or e.direction == direction
        ]

    def claims(self, entry: LedgerEntry) -> dict[str, Any]:
        """The claims of a recorded ECT (verified when it was recorded)."""
        return read_payload(entry.ect) or {}

    def checkpoints(self, policy: str | None = None, *, wid: str | None = None) -> list[Checkpoint]:
        """Every policy decision this service minted, its own inbound decisions
        (``ect-middleware/inbound``) included; only ``policy``'s if given."""
        found = []
        for entry in self.entries(wid=wid, direction="minted"):
            # the model, not the wire claims: draft -01 keeps the policy inside ect_ext
            _, ext, decided = model_view(self.claims(entry))
            if decided is None or (policy is not None and decided.policy != policy):
                continue
            found.append(
                Checkpoint(
                    decided.policy,
                    decided.decision,
                    decided.enforcer,
                    entry.jti,
                    entry.wid,
                    ext or {},
                )
            )
        return found

    # -- assertions --------------------------------------------------------------------------

    def assert_checkpoint(
        self, policy: str, decision: str, *, wid: str | None = None, **details: Any
    ) -> Checkpoint:
        """The checkpoint of ``policy`` that decided ``decision`` (with these details, if
        given); fails listing the checkpoints there are."""
        __tracebackhide__ = True  # pytest: the failure is shown at the caller's line
        candidates = self.checkpoints(policy, wid=wid)
        for checkpoint in candidates:
            if checkpoint.decision == decision and all(
                checkpoint.details.get(k) == v for k, v in details.items()
            ):
                return checkpoint
        seen = [(c.policy, c.decision, dict(c.details)) for c in self.checkpoints(wid=wid)]
        wanted = f"{policy!r} -> {decision!r}" + (f" with {details}" if details else "")
        raise AssertionError(f"no checkpoint {wanted} was recorded; recorded: {seen}")

    def assert_no_checkpoint(self, policy: str, *, wid: str | None = None) -> None:
        __tracebackhide__ = True
        found = self.checkpoints(policy, wid=wid)
        if found:
            decisions = [c.decision for c in found]
            raise AssertionError(f"checkpoint {policy!r} was recorded: {decisions}")

    def assert_recorded(self, jti: str, *, direction: Direction | None = None) -> LedgerEntry:
        """The entry recording ECT ``jti`` (in ``direction``, if given)."""
        __tracebackhide__ = True
        for entry in self.ledger.find(jti):
            if direction is None or entry.direction == direction:
                return entry
        where = f" as {direction}" if direction else ""
        raise AssertionError(f"ECT {jti} is not recorded{where} in {self.workload_id}'s ledger")

    def assert_chain_intact(self) -> int:
        """The number of entries, after checking the hash chain from the first to the head."""
        __tracebackhide__ = True
        report = verify_chain(self.ledger.entries(), self.ledger.head())
        if not report.ok:
            raise AssertionError(
                f"the ledger chain breaks at entry {report.broken_seq}: {report.reason}"
            )
        return report.entries

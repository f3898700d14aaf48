"""What the fuzzers share: their size, their hypothesis profile, the in-process services
they hit, the oracle every response is judged by, and the tally they report.

Size: ``ECT_FUZZ_EXAMPLES`` (default 20,000) inputs in all, shared among the fuzz tests by
``share``. Runs are derandomized (the same inputs every time, so CI is reproducible)
unless ``ECT_FUZZ_RANDOM=1``. See docs/SECURITY.md for the longer run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from hypothesis import HealthCheck, Phase, settings

from ect_middleware.ledger import verify_chain

from ..support.clock import NOW, MovableClock
from ..support.mesh import Mesh
from ._figures import FIGURES
from ._hostile import Forger, Header, jti_of
from ._inprocess import ASGIDriver, Driver, RawHeaders, WSGIDriver

__all__ = ["EXAMPLES", "FIGURES", "RawHeaders", "Target", "ects_in", "raw", "share", "target"]

EXAMPLES = int(os.environ.get("ECT_FUZZ_EXAMPLES", "20000"))
RANDOM = os.environ.get("ECT_FUZZ_RANDOM", "") not in ("", "0")

settings.register_profile(
    "ect-fuzz",
    derandomize=not RANDOM,
    database=None,
    deadline=None,
    phases=(Phase.explicit, Phase.generate, Phase.shrink),
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)


def share(weight: float) -> settings:
    """The profile with ``weight`` of ``EXAMPLES`` (weights of all fuzz tests sum to 1)."""
    return settings(settings.get_profile("ect-fuzz"), max_examples=max(1, int(EXAMPLES * weight)))


@dataclass
class Target:
    """Service ``b`` behind one in-process middleware, at the fixed instant ``NOW``; the
    fuzzers call it as ``mallory`` (Ed25519: the cheapest signatures to mint)."""

    driver: Driver
    forger: Forger
    url: str = "http://testserver/context"
    caller: str = "mallory"
    accepted_ects: int = 0

    def call(self, headers: Sequence[tuple[bytes, bytes]]) -> tuple[int, bytes]:
        FIGURES["fuzz inputs"] += 1
        status, body = self.driver.call("/context", headers)
        if status >= 500:
            FIGURES["fuzz 5xx"] += 1
        assert status < 500, body
        assert status in (200, 400), (status, body)
        assert b"eyJ" not in body  # no token echoed
        return status, body

    def check_ledger(self) -> None:
        """The chain verifies, and holds exactly the ECTs of the accepted requests."""
        ledger = self.driver.runtime.ledger
        entries = list(ledger.entries())
        report = verify_chain(entries, ledger.head())
        assert report.ok, report
        assert sum(e.direction == "received" for e in entries) == self.accepted_ects


@contextmanager
def target(kind: str, mesh: Mesh) -> Iterator[Target]:
    FIGURES.update({"fuzz 5xx": 0, "fuzz accepted mutations": 0})  # reported even when 0
    settings_ = mesh.settings("b", "http://testserver", clock=MovableClock(NOW))
    driver: Driver = WSGIDriver(settings_) if kind == "wsgi" else ASGIDriver(settings_)
    try:
        yield Target(driver, Forger(mesh))
    finally:
        driver.close()


def raw(headers: Sequence[Header]) -> RawHeaders:
    return [
        (k.encode("latin-1"), v.encode("latin-1") if isinstance(v, str) else v) for k, v in headers
    ]


def ects_in(headers: RawHeaders) -> list[str | None]:
    return [
        jti_of(t.strip())
        for k, v in headers
        if k.lower() == b"execution-context"
        for t in v.decode("latin-1").split(",")
    ]

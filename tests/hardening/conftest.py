"""Fixtures of the hardening suites: a mesh whose tokens are minted at ``NOW``, a service
``b`` whose clock stands at ``NOW`` (tests may move it), and that service behind each of
the three stacks (uvicorn, in-process WSGI, waitress), started once per session."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from ect_middleware import Settings
from ect_middleware.limits import Clock

from ..support.apps import flask_app
from ..support.clock import NOW, MovableClock
from ..support.mesh import Mesh
from ..support.stacks import Stack, open_stack
from ._hostile import Forger
from ._inprocess import Pep3333Transport

STACKS = ("uvicorn", "wsgi", "waitress")
#: uvicorn's h11 parser refuses requests whose head exceeds 16 KiB by default; the profile
#: allows 64 KiB of Execution-Context, so the hostile stack lets the middleware judge.
H11_MAX_HEAD = 256 * 1024


@pytest.fixture(scope="session")
def hostile_mesh(tmp_path_factory: pytest.TempPathFactory) -> Mesh:
    return Mesh(tmp_path_factory.mktemp("hostile-identities"), clock=lambda: float(NOW))


@pytest.fixture(scope="session")
def forger(hostile_mesh: Mesh) -> Forger:
    return Forger(hostile_mesh)


@pytest.fixture(scope="session")
def server_clock() -> MovableClock:
    return MovableClock(NOW)


@contextmanager
def open_stack_b(
    kind: str, mesh: Mesh, clock: Clock, ledger: str, **overrides: object
) -> Iterator[Stack]:
    """Service ``b`` (SQLite ledger ``ledger``, clock ``clock``) behind one stack: uvicorn,
    in-process WSGI (``wsgi``) or waitress."""

    def settings(base: str) -> Settings:
        return mesh.settings("b", base, ledger=ledger, clock=clock, **overrides)

    if kind == "wsgi":  # in-process, with header octets and repeated lines as servers pass them
        base = "http://testserver"
        transport = Pep3333Transport(flask_app(settings(base)))
        with httpx.Client(transport=transport, base_url=base) as client:
            yield Stack(kind, client, settings(base), None)
        return
    options = {"h11_max_incomplete_event_size": H11_MAX_HEAD} if kind == "uvicorn" else {}
    with open_stack(kind, settings, **options) as stack:
        yield stack


@pytest.fixture(scope="session", params=STACKS)
def hostile_stack(
    request: pytest.FixtureRequest,
    hostile_mesh: Mesh,
    server_clock: MovableClock,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    """Service ``b`` (partial DAG mode) behind one stack, for the whole session."""
    kind = str(request.param)
    ledger = f"sqlite:///{tmp_path_factory.mktemp(f'hostile-{kind}') / 'b.db'}"
    with open_stack_b(kind, hostile_mesh, server_clock, ledger) as stack:
        yield stack


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The hardening figures (inputs tried, requests served, faults, entries lost)."""
    from ._figures import FIGURES

    if FIGURES:
        terminalreporter.write_line(
            "hardening: " + ", ".join(f"{name} {FIGURES[name]}" for name in sorted(FIGURES))
        )

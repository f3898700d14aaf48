"""The pytest plugin (entry point ``pytest11``): fixtures for testing a service that runs
the ECT middleware, from ``ect_middleware.testing``.

Loaded into every pytest run where ect-middleware is installed, so it imports nothing but
pytest at load time: it is a module of its own, outside the ``ect_middleware`` package (a
submodule would import the whole package first), and the helpers, httpx and the
middleware are imported by the fixtures that use them.
Override ``ect_service_id``, ``ect_caller_id`` or ``ect_base_url`` in a ``conftest.py`` to
name your own workloads.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import httpx

    from ect_middleware.ledger.memory import MemoryLedger
    from ect_middleware.testing import DevTrust, Identity, ServiceUnderTest

SERVICE_ID = "spiffe://example.test/service"
CALLER_ID = "spiffe://example.test/caller"
#: the ECT_* variables of the environment pytest was started in (a service's ect.env loaded
#: into the shell, say): not the configuration of the service under test, so its fixture
#: removes them while they still hold these values; a test or fixture that sets one of
#: them keeps what it set
_INHERITED = {k: v for k, v in os.environ.items() if k.startswith("ECT_")}


@pytest.fixture
def ect_service_id() -> str:
    """The workload id of the service under test."""
    return SERVICE_ID


@pytest.fixture
def ect_caller_id() -> str:
    """The workload id ``ect_caller`` and ``ect_client`` call as."""
    return CALLER_ID


@pytest.fixture
def ect_base_url() -> str:
    """The URL the clients call, and so the service's ``ECT_AUDIENCE``."""
    from ect_middleware.testing.identities import BASE_URL

    return BASE_URL


@pytest.fixture
def ect_trust(tmp_path_factory: pytest.TempPathFactory) -> DevTrust:
    """Development trust domains (issuers, workload keys, WITs, one trust bundle)."""
    from ect_middleware.testing.identities import DevTrust

    return DevTrust(Path(tmp_path_factory.mktemp("ect-identities")))


@pytest.fixture
def ect_service(
    ect_trust: DevTrust, ect_service_id: str, ect_base_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ServiceUnderTest]:
    """The service under test, its ``ECT_*`` environment set for this test (an
    ``ECTMiddleware()`` built during the test runs as it, recording into ``ect_ledger``)."""
    from ect_middleware.testing.service import ServiceUnderTest

    service = ServiceUnderTest(ect_trust.identity(ect_service_id), base_url=ect_base_url)
    for name, value in _INHERITED.items():
        if os.environ.get(name) == value:
            monkeypatch.delenv(name)
    for name, value in service.env.items():
        monkeypatch.setenv(name, value)
    try:
        yield service
    finally:
        service.close()


@pytest.fixture
def ect_ledger(ect_service: ServiceUnderTest) -> MemoryLedger:
    """The in-memory ledger the service under test records into."""
    return ect_service.ledger


@pytest.fixture
def ect_caller(ect_trust: DevTrust, ect_caller_id: str) -> Identity:
    """A workload of the development trust domain that calls the service under test."""
    return ect_trust.identity(ect_caller_id)


@pytest.fixture
def ect_client(
    ect_service: ServiceUnderTest, ect_caller: Identity
) -> Iterator[Callable[..., httpx.Client]]:
    """``ect_client(app, caller=None, *, signed=True, **ECTAuth options)``: a client of
    ``app`` (ASGI or WSGI) sending ``caller``'s (default ``ect_caller``) WIT, WPT and ECT
    for the service under test with every request; with ``signed=False``, none. Closed
    after the test."""
    from ect_middleware.testing.clients import client

    made: list[httpx.Client] = []

    def make(
        app: Any, caller: Identity | None = None, *, signed: bool = True, **auth: Any
    ) -> httpx.Client:
        made.append(
            client(
                app,
                (caller or ect_caller) if signed else None,
                ect_service.workload_id,
                base_url=ect_service.base_url,
                **auth,
            )
        )
        return made[-1]

    try:
        yield make
    finally:
        for each in made:
            each.close()

"""Test helpers for services that run the ECT middleware (needs the ``testing`` extra).

With ect-middleware installed, pytest loads the plugin (``ect_middleware.testing.plugin``)
and these fixtures are there in every test:

- ``ect_trust``: development trust domains in a temporary folder (``DevTrust``);
- ``ect_service``: the service under test (``ServiceUnderTest``): its identity
  (``ect_service_id``), its ``ECT_*`` environment already set, an in-memory ledger
  (``ect_ledger``) and the assertions on what it recorded and checkpointed;
- ``ect_caller``: a calling workload (``ect_caller_id``);
- ``ect_client``: ``ect_client(app)`` is a client of the app under test that sends the
  caller's valid WIT, WPT and ECT with every request.

Outside pytest, the same objects work on their own: ``DevTrust(folder)``,
``ServiceUnderTest(identity)``, ``client(app, caller, service_id)``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .clients import ECTAuth, async_client, client, is_asgi
    from .identities import BASE_URL, DevTrust, Identity
    from .service import Checkpoint, ServiceUnderTest

#: Where each name lives. Imported on first use, so that loading the pytest plugin (a
#: submodule, which imports this package first) costs nothing and needs no httpx.
_EXPORTS = {
    "BASE_URL": "identities",
    "Checkpoint": "service",
    "DevTrust": "identities",
    "ECTAuth": "clients",
    "Identity": "identities",
    "ServiceUnderTest": "service",
    "async_client": "clients",
    "client": "clients",
    "is_asgi": "clients",
}

__all__ = [
    "BASE_URL",
    "Checkpoint",
    "DevTrust",
    "ECTAuth",
    "Identity",
    "ServiceUnderTest",
    "async_client",
    "client",
    "is_asgi",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)

"""Test helpers for services that run the ECT middleware (needs the ``testing`` extra).

With ect-middleware installed, pytest loads the plugin (``ect_middleware_pytest``)
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

from .clients import ECTAuth, SyncASGITransport, async_client, client, is_asgi
from .identities import BASE_URL, DevTrust, Identity
from .service import Checkpoint, ServiceUnderTest

__all__ = [
    "BASE_URL",
    "Checkpoint",
    "DevTrust",
    "ECTAuth",
    "Identity",
    "ServiceUnderTest",
    "SyncASGITransport",
    "async_client",
    "client",
    "is_asgi",
]

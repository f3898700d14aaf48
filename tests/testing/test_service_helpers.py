"""The service-under-test helpers read what was recorded through the one ECT model, whatever
draft's wire form the service mints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ect_middleware import ECTMiddleware, checkpoint
from ect_middleware.testing import DevTrust, ServiceUnderTest, client


def _orders(service: ServiceUnderTest) -> Starlette:
    async def order(request: Request) -> JSONResponse:
        amount = (await request.json())["amount"]
        checkpoint("order-limit", "approved" if amount <= 100 else "rejected", amount=amount)
        return JSONResponse({})

    app = Starlette(routes=[Route("/orders", order, methods=["POST"])])
    app.add_middleware(ECTMiddleware, settings=service.settings())
    return app


def test_checkpoints_minted_in_the_draft_01_form_are_found(tmp_path: Path) -> None:
    trust = DevTrust(tmp_path)
    service = ServiceUnderTest(trust.identity("spiffe://example.test/service"), ect_draft="01")
    caller = trust.identity("spiffe://example.test/caller")
    try:
        with client(_orders(service), caller, service.workload_id) as http:
            assert http.post("/orders", json={"amount": 120}).status_code == 200
        found = service.assert_checkpoint("order-limit", "rejected", amount=120)
        assert found.enforcer == service.workload_id
        assert "pol" not in found.details
        # the wire form is -01 indeed: the policy is inside ect_ext
        assert "ect_ext" in service.claims(service.assert_recorded(found.jti))
    finally:
        service.close()


def test_without_the_testing_extra_the_error_names_it() -> None:
    script = (
        "import sys\n"
        "sys.modules['httpx'] = None\n"
        "try:\n"
        "    import ect_middleware.testing\n"
        "except ModuleNotFoundError as e:\n"
        "    print(e)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert "pip install 'ect-middleware[testing]'" in done.stdout, done.stdout

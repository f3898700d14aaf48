"""The pytest plugin as a user meets it: pytest (in a fresh process) finds it through its
entry point, and a user's test file uses its fixtures against a small FastAPI service and a
small Flask service of its own."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest_plugins = ["pytester"]

USER_TESTS = """
import pytest
from fastapi import FastAPI
from flask import Flask, jsonify, request

from ect_middleware import ECTWSGIMiddleware, checkpoint, current_context, instrument_app


def orders_api() -> FastAPI:
    app = FastAPI()

    @app.post("/orders")
    def order(body: dict) -> dict:
        ctx = current_context()
        decision = "approved" if body["amount"] <= 100 else "rejected"
        checkpoint("order-limit", decision, amount=body["amount"])
        return {"caller": ctx.caller, "workflow": ctx.workflow_id}

    instrument_app(app)  # configured from the environment the fixtures set
    return app


def stock_service(**config) -> Flask:
    app = Flask("stock")

    @app.post("/reserve")
    def reserve():
        checkpoint("stock-check", "approved", sku=request.json["sku"])
        return jsonify(parents=[p.jti for p in current_context().parents])

    app.wsgi_app = ECTWSGIMiddleware(app.wsgi_app, **config)
    return app


def test_fastapi_records_the_call_and_the_checkpoint(ect_service, ect_client, ect_caller):
    client = ect_client(orders_api())
    response = client.post("/orders", json={"amount": 120})
    assert response.status_code == 200
    assert response.json()["caller"] == ect_caller.workload_id

    sent = client.auth.sent[-1]
    assert response.json()["workflow"] == sent.wid
    ect_service.assert_recorded(sent.jti, direction="received")
    ect_service.assert_checkpoint("order-limit", "rejected", amount=120)
    ect_service.assert_checkpoint("ect-middleware/inbound", "approved")
    ect_service.assert_no_checkpoint("stock-check")
    assert ect_service.assert_chain_intact() == 3  # received, checkpoint, completion
    assert client.auth.completions[-1]["iss"] == ect_service.workload_id


def test_an_unsigned_call_is_refused_and_recorded(ect_service, ect_client):
    response = ect_client(orders_api(), signed=False).post("/orders", json={"amount": 1})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    ect_service.assert_checkpoint("ect-middleware/inbound", "rejected")


def test_flask_sees_the_workflow_it_is_called_in(ect_service, ect_client, ect_ledger):
    first = ect_client(stock_service())
    first.post("/reserve", json={"sku": "A-1"})
    earlier = first.auth.sent[-1]
    # A second call in the same workflow, after the first task.
    later = ect_client(stock_service(), workflow_id=earlier.wid, parents=[earlier.jti])
    response = later.post("/reserve", json={"sku": "B-2"})
    assert response.status_code == 200
    assert response.json() == {"parents": [later.auth.sent[-1].jti]}
    assert {e.wid for e in ect_ledger.entries()} == {earlier.wid}
    assert [c.details["sku"] for c in ect_service.checkpoints("stock-check")] == ["A-1", "B-2"]


def test_settings_given_in_code(ect_service, ect_client, monkeypatch):
    monkeypatch.delenv("ECT_WORKLOAD_ID")  # nothing read from the environment
    client = ect_client(stock_service(settings=ect_service.settings()))
    assert client.post("/reserve", json={"sku": "C-3"}).status_code == 200
    ect_service.assert_checkpoint("stock-check", "approved", sku="C-3")


def test_a_failed_assertion_says_what_was_recorded(ect_service, ect_client):
    ect_client(stock_service()).post("/reserve", json={"sku": "A-1"})
    ect_service.assert_checkpoint("stock-check", "rejected")


@pytest.fixture
def ect_caller_id():
    return "spiffe://partner.example/agent/buyer"


@pytest.mark.anyio
async def test_an_async_client(ect_service, ect_caller):
    from ect_middleware.testing import async_client

    async with async_client(orders_api(), ect_caller, ect_service.workload_id) as client:
        response = await client.post("/orders", json={"amount": 7})
    assert response.status_code == 200
    ect_service.assert_checkpoint("order-limit", "approved", amount=7)


def test_the_caller_can_be_named(ect_client, ect_caller):
    body = ect_client(orders_api()).post("/orders", json={"amount": 5}).json()
    assert body["caller"] == "spiffe://partner.example/agent/buyer"
"""


def test_a_users_suite_runs_with_the_plugin(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_service=USER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=6, failed=1)
    # The failure names what was recorded instead.
    result.stdout.fnmatch_lines(
        ["*no checkpoint 'stock-check' -> 'rejected'*recorded: *('stock-check', 'approved'*"]
    )


def test_a_suite_that_does_not_use_it_is_untouched(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_one():\n    assert 1 + 1 == 2\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=1)
    listed = pytester.runpytest_subprocess("--fixtures", "-p", "no:cacheprovider")
    listed.stdout.fnmatch_lines(["*ect_client*", "*ect_service*"])  # found by entry point


def test_loading_the_plugin_imports_nothing_of_ours() -> None:
    """pytest loads the plugin in every run where ect-middleware is installed: it must not
    import the package (nor httpx, a framework, OpenTelemetry) until a fixture is used."""
    script = (
        "import sys, ect_middleware_pytest\n"
        "loaded = [m for m in ('ect_middleware', 'httpx', 'flask', 'starlette',"
        " 'opentelemetry') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    plain = subprocess.run(
        [sys.executable, "-c", "import sys, ect_middleware; assert 'pytest' not in sys.modules"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert plain.returncode == 0, plain.stderr


def test_the_shells_ect_variables_do_not_configure_the_service_under_test(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A developer who loaded a service's ect.env into the shell (``set -a; . ect.env``)
    runs the same tests as CI; what a test itself sets is kept."""
    for name, value in {
        "ECT_MODE": "off",
        "ECT_EXCLUDE_PATHS": "/",
        "ECT_DRAFT": "01",
        "ECT_REPLAY": "redis://127.0.0.1:1/0",
    }.items():
        monkeypatch.setenv(name, value)
    pytester.makepyfile(
        test_env="""
import os
import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from ect_middleware import ECTMiddleware, checkpoint


def app():
    async def order(request):
        checkpoint("order-limit", "approved")
        return JSONResponse({})

    built = Starlette(routes=[Route("/orders", order, methods=["POST"])])
    built.add_middleware(ECTMiddleware)
    return built


def test_verified_and_recorded(ect_service, ect_client):
    assert os.environ.get("ECT_MODE") is None
    assert ect_client(app(), signed=False).post("/orders").status_code == 400
    assert ect_client(app()).post("/orders").status_code == 200
    assert "pol" in ect_service.claims(ect_service.entries(direction="minted")[0])


@pytest.fixture
def excluded(monkeypatch):
    monkeypatch.setenv("ECT_EXCLUDE_PATHS", "/orders")


def test_what_a_fixture_sets_is_kept(excluded, ect_service, ect_client):
    assert ect_client(app(), signed=False).post("/orders").status_code == 200
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=2)

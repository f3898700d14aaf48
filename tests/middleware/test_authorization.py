"""Routes restricted to given callers, through real apps: FastAPI under uvicorn (with the
middleware added either way), a Starlette endpoint, a Flask view."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from flask import Flask, jsonify
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ect_middleware import ECTMiddleware, ECTWSGIMiddleware, instrument_app, require_caller
from ect_middleware.testing import SyncASGITransport

from ..support.mesh import ORG_A, Mesh

Build = Callable[[Mesh, str], Any]


def _rules(mesh: Mesh) -> tuple[Any, Any]:
    return require_caller(workload_ids=[mesh["a"].id]), require_caller(trust_domains=[ORG_A])


def fastapi_added(mesh: Mesh, base: str) -> Any:
    only_a, org_a = _rules(mesh)
    app = FastAPI()
    app.add_middleware(ECTMiddleware, settings=_settings(mesh, base))
    app.get("/only-a", dependencies=[Depends(only_a)])(lambda: {"ok": True})
    app.get("/org-a", dependencies=[Depends(org_a)])(lambda: {"ok": True})
    app.get("/open", dependencies=[Depends(org_a)])(lambda: {"ok": True})
    return app


def fastapi_instrumented(mesh: Mesh, base: str) -> Any:
    only_a, org_a = _rules(mesh)
    app = FastAPI()
    app.get("/only-a", dependencies=[Depends(only_a)])(lambda: {"ok": True})
    app.get("/org-a", dependencies=[Depends(org_a)])(lambda: {"ok": True})
    app.get("/open", dependencies=[Depends(org_a)])(lambda: {"ok": True})
    return instrument_app(app, settings=_settings(mesh, base))


def starlette_app(mesh: Mesh, base: str) -> Any:
    only_a, org_a = _rules(mesh)

    @only_a.starlette
    async def a(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    @org_a.starlette
    def org(request: Request) -> JSONResponse:  # a sync endpoint (thread pool)
        return JSONResponse({"ok": True})

    app = Starlette(
        routes=[
            Route("/only-a", a),
            Route("/org-a", org),
            Route("/open", org_a.starlette(lambda r: JSONResponse({"ok": True}))),
        ]
    )
    return instrument_app(app, settings=_settings(mesh, base))


def flask_app(mesh: Mesh, base: str) -> Any:
    only_a, org_a = _rules(mesh)
    app = Flask(__name__)

    @app.get("/only-a")
    @only_a.flask
    def a() -> Any:
        return jsonify(ok=True)

    @app.get("/org-a")
    @org_a.flask
    def org() -> Any:
        return jsonify(ok=True)

    @app.get("/open")
    @org_a.flask
    def open_() -> Any:
        return jsonify(ok=True)

    app.wsgi_app = ECTWSGIMiddleware(app.wsgi_app, settings=_settings(mesh, base))  # type: ignore[method-assign]
    return app


def _settings(mesh: Mesh, base: str) -> Any:
    return mesh.settings("b", base, entry_paths=("/open",))


@contextmanager
def _serve(build: Build, mesh: Mesh) -> Iterator[tuple[httpx.Client, str]]:
    if build is flask_app:
        base = "http://testserver"
        transport = httpx.WSGITransport(app=flask_app(mesh, base))
        with httpx.Client(transport=transport, base_url=base) as client:
            yield client, base
        return
    base = "http://testserver"
    transport = SyncASGITransport(build(mesh, base))
    with httpx.Client(transport=transport, base_url=base) as client:
        yield client, base


@pytest.mark.parametrize(
    "build",
    [fastapi_added, fastapi_instrumented, starlette_app, flask_app],
    ids=lambda b: b.__name__,
)
def test_only_the_authenticated_callers_allowed_get_through(build: Build, mesh: Mesh) -> None:
    def call(caller: str, path: str) -> httpx.Response:
        ect = mesh.ect(caller, mesh["b"].id)
        return client.get(path, headers=mesh.headers(caller, base + path, [ect.token]))

    with _serve(build, mesh) as (client, base):
        allowed = [call("a", "/only-a"), call("a", "/org-a"), call("c", "/org-a")]
        refused = [call("c", "/only-a"), call("mallory", "/org-a"), client.get("/open")]
    assert [r.status_code for r in allowed] == [200, 200, 200]
    for response in refused:
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["code"] == "caller.not_allowed"
        assert problem["status"] == 403
        assert mesh["a"].id not in response.text  # who would be allowed is not disclosed
        # The refusal is this hop's recorded outcome: its completion ECT goes back.
        if response.request.headers.get("workload-identity-token"):
            assert response.headers.get("execution-context")


def test_a_rule_names_workloads_or_trust_domains() -> None:
    from ect_middleware import ConfigurationError

    with pytest.raises(ConfigurationError):
        require_caller()
    with pytest.raises(ConfigurationError):
        require_caller(workload_ids=["not an id"])
    rule = require_caller(trust_domains=["org-a.example"])
    assert rule.allows("spiffe://org-a.example/agent/x")
    assert not rule.allows("spiffe://org-a.example.evil/agent/x")
    assert not rule.allows(None)

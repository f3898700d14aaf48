"""Wiring mistakes show in the log (never in the response): audiences, calls to hosts that
are not peers, this service's own WIT expiring."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from structlog.testing import capture_logs

from ect_middleware import instrument_app
from ect_middleware.diagnostics import OwnWITExpiry
from ect_middleware.propagation.httpx_transport import AsyncECTTransport
from ect_middleware.tokens.jws import read_payload

from ..support.mesh import Mesh
from ..support.servers import free_port, uvicorn_server
from ..support.stacks import open_stack


def test_a_wpt_for_another_url_logs_both_audiences_and_answers_without_them(
    mesh: Mesh,
) -> None:
    with open_stack("wsgi", lambda base: mesh.settings("b", base)) as stack:
        ect = mesh.ect("a", mesh["b"].id)
        headers = mesh.headers("a", "http://localhost:9999/context", [ect.token])
        with capture_logs() as logs:
            response = stack.client.get("/context", headers=headers)
    assert response.status_code == 400
    assert response.json()["code"] == "wpt.audience_mismatch"
    assert "localhost:9999" not in response.text
    assert "testserver" not in response.text
    (logged,) = [e for e in logs if e["event"] == "ect.audience_mismatch"]
    assert logged["log_level"] == "warning"
    assert logged["received"] == ["http://localhost:9999/context"]
    assert logged["configured"] == ["http://testserver/context"]
    assert logged["setting"] == "ECT_AUDIENCE"


def test_an_ect_for_another_workload_logs_both_audiences(mesh: Mesh) -> None:
    with open_stack("wsgi", lambda base: mesh.settings("b", base)) as stack:
        ect = mesh.ect("a", mesh["c"].id)
        headers = mesh.headers("a", stack.url("/context"), [ect.token])
        with capture_logs() as logs:
            response = stack.client.get("/context", headers=headers)
    assert response.json()["code"] == "ect.audience_mismatch"
    assert mesh["c"].id not in response.text
    (logged,) = [e for e in logs if e["event"] == "ect.audience_mismatch"]
    assert logged["received"] == [mesh["c"].id]
    assert logged["configured"] == [mesh["b"].id]


class _Plain(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_a_call_to_a_host_that_is_not_a_peer_is_logged_once_per_host(mesh: Mesh) -> None:
    other = ThreadingHTTPServer(("127.0.0.1", 0), _Plain)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    other_port = other.server_address[1]
    targets = [f"http://localhost:{other_port}/x", f"http://127.0.0.1:{other_port}/y"]

    async def call(request: Request) -> JSONResponse:
        async with httpx.AsyncClient(transport=AsyncECTTransport()) as client:
            for url in targets * 2:
                sent = (await client.get(url)).request.headers.get("execution-context")
                assert sent is None  # no tokens for hosts that are not peers
        return JSONResponse({})

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    peers = {"http://127.0.0.1:1/": mesh["c"].id}
    app = instrument_app(
        Starlette(routes=[Route("/call", call)]),
        settings=mesh.settings("b", base, peers=peers, entry_paths=("/call",)),
    )
    try:
        with uvicorn_server(app, port), capture_logs() as logs:
            for _ in range(2):
                assert httpx.get(f"{base}/call", timeout=10).status_code == 200
    finally:
        other.shutdown()
    reported = [e for e in logs if e["event"] == "ect.outbound_not_a_peer"]
    assert [e["host"] for e in reported] == [
        f"http://localhost:{other_port}",
        f"http://127.0.0.1:{other_port}",
    ]
    assert all(e["log_level"] == "warning" and e["workflow_id"] for e in reported)


def test_the_own_wit_warns_before_and_after_it_expires(mesh: Mesh, tmp_path: Path) -> None:
    token = mesh["b"].wit
    exp = float((read_payload(token) or {})["exp"])
    now = [exp - 3600.0]
    expiry = OwnWITExpiry(600, lambda: now[0])
    with capture_logs() as logs:
        expiry.check(token)  # an hour left: quiet
        now[0] = exp - 599
        expiry.check(token)
        expiry.check(token)  # once
        now[0] = exp + 5
        expiry.check(token)
        expiry.check(token)  # once
    assert [(e["event"], e["log_level"]) for e in logs] == [
        ("ect.own_wit_expiring", "warning"),
        ("ect.own_wit_expired", "error"),
    ]
    assert logs[0]["expires_in_seconds"] == 599
    assert logs[1]["setting"] == "ECT_WIT_FILE"


def test_a_service_started_near_its_wit_expiry_warns_at_once(mesh: Mesh) -> None:
    from ect_middleware.runtime import Runtime

    exp = float((read_payload(mesh["b"].wit) or {})["exp"])
    settings = mesh.settings("b", "http://b.example", clock=lambda: exp - 60)
    with capture_logs() as logs:
        Runtime(settings).close()
    assert [e["event"] for e in logs] == ["ect.own_wit_expiring"]

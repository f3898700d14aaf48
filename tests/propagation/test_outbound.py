"""Outbound calls made while handling a request carry this hop's tokens to peers, and only
to peers; responses' completion ECTs come back as parents (fan-in)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from structlog.testing import capture_logs

import ect_middleware
from ect_middleware import current_context, instrument_app, sent_task_id
from ect_middleware.ledger import LedgerEntry, open_ledger
from ect_middleware.propagation.httpx_transport import AsyncECTTransport, ECTTransport
from ect_middleware.propagation.requests_adapter import instrument_session
from ect_middleware.tokens.encoding import sha256_b64url
from ect_middleware.tokens.jws import read_payload

from ..support.apps import starlette_app
from ..support.mesh import Mesh
from ..support.servers import free_port, uvicorn_server

WIMSE = {"workload-identity-token", "workload-proof-token", "execution-context"}


@dataclass
class Clients:
    sync: Any = None  # an httpx.Client or a requests.Session
    asynchronous: httpx.AsyncClient | None = None


def upstream_app(settings: Any, clients: Clients) -> Starlette:
    """Agent A: /call-async and /call-sync call ?url= and report what happened."""

    def report(status: int, body: Any, sent: str | None) -> dict[str, Any]:
        ctx = current_context()
        assert ctx is not None
        return {"status": status, "body": body, "sent": sent, "minted": list(ctx.minted)}

    async def call_async(request: Request) -> JSONResponse:
        assert clients.asynchronous is not None
        response = await clients.asynchronous.get(request.query_params["url"], **_kw(request))
        return JSONResponse(
            report(response.status_code, _json(response), sent_task_id(response.request.headers))
        )

    def call_sync(request: Request) -> JSONResponse:  # Starlette's thread pool
        headers = {k[4:]: v for k, v in request.query_params.items() if k.startswith("hdr-")}
        if isinstance(clients.sync, requests.Session):
            response = clients.sync.get(request.query_params["url"], headers=headers, timeout=10)
            return JSONResponse(
                report(
                    response.status_code, _json(response), sent_task_id(response.request.headers)
                )
            )
        response = clients.sync.get(request.query_params["url"], headers=headers, **_kw(request))
        return JSONResponse(
            report(response.status_code, _json(response), sent_task_id(response.request.headers))
        )

    async def post_async(request: Request) -> JSONResponse:
        """POST ?url= with this request's body, under an action named by ?act=."""
        assert clients.asynchronous is not None
        ctx = current_context()
        assert ctx is not None
        ctx.exec_act = request.query_params["act"]
        body = await request.body()
        response = await clients.asynchronous.post(request.query_params["url"], content=body)
        return JSONResponse(
            report(response.status_code, _json(response), sent_task_id(response.request.headers))
        )

    routes = [Route("/call-async", call_async), Route("/call-sync", call_sync)]
    app = Starlette(routes=[*routes, Route("/post-async", post_async, methods=["POST"])])
    return instrument_app(app, settings=settings)


def _kw(request: Request) -> dict[str, Any]:
    return {"follow_redirects": request.query_params.get("follow") == "1"}


def _json(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def echo_app() -> Starlette:
    """A plain service with no middleware: shows what arrived; can forge a response ECT."""

    async def echo(request: Request) -> JSONResponse:
        return JSONResponse({"headers": dict(request.headers)})

    async def forge(request: Request) -> JSONResponse:
        forged = {
            "Execution-Context": "eyJhbGciOiJub25lIn0.e30.x",
            "Workload-Identity-Token": "x.y.z",
        }
        return JSONResponse({"forged": True}, headers=forged)

    routes = [
        Route(f"{prefix}/{name}", fn)
        for prefix in ("", "/peer")
        for name, fn in (("echo", echo), ("forge", forge))
    ]
    return Starlette(routes=routes)


@dataclass
class World:
    a: str
    b: str
    echo: str
    mesh: Mesh
    ledgers: dict[str, str]

    def call(self, route: str, url: str, **params: str) -> dict[str, Any]:
        response = httpx.get(f"{self.a}{route}", params={"url": url, **params}, timeout=20)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        result["completion"] = read_payload(response.headers["execution-context"])
        return result

    def entries(self, name: str) -> list[LedgerEntry]:
        ledger = open_ledger(self.ledgers[name])
        try:
            return list(ledger.entries())
        finally:
            ledger.close()


@contextmanager
def world(mesh: Mesh, tmp_path: Path, clients: Clients) -> Iterator[World]:
    ports = {name: free_port() for name in ("a", "b", "echo")}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    ledgers = {name: f"sqlite:///{tmp_path / f'{name}.db'}" for name in ("a", "b")}
    settings_a = mesh.settings(
        "a",
        urls["a"],
        ledger=ledgers["a"],
        entry_paths=("/call-async", "/call-sync", "/post-async"),
        # The echo service is configured as peer c, so calls to it are due tokens.
        peers={urls["b"]: mesh["b"].id, f"{urls['echo']}/peer": mesh["c"].id},
    )
    settings_b = mesh.settings("b", urls["b"], ledger=ledgers["b"], peers={urls["a"]: mesh["a"].id})
    app_b, _ = starlette_app(settings_b)
    with ExitStack() as stack:
        stack.enter_context(uvicorn_server(upstream_app(settings_a, clients), ports["a"]))
        stack.enter_context(uvicorn_server(app_b, ports["b"]))
        stack.enter_context(uvicorn_server(echo_app(), ports["echo"]))
        yield World(urls["a"], urls["b"], urls["echo"], mesh, ledgers)


@pytest.mark.parametrize("route", ["/call-async", "/call-sync"])
def test_wrapped_transports_propagate_and_fan_in(route: str, mesh: Mesh, tmp_path: Path) -> None:
    clients = Clients(
        httpx.Client(transport=ECTTransport()), httpx.AsyncClient(transport=AsyncECTTransport())
    )
    with world(mesh, tmp_path, clients) as w:
        result = w.call(route, f"{w.b}/context")
    seen_by_b = result["body"]
    assert result["status"] == 200
    assert seen_by_b["caller"] == mesh["a"].id
    assert seen_by_b["parents"] == [result["sent"]]
    assert result["minted"] == [result["sent"]]
    # B's completion came back and is a parent of A's completion.
    b_completion = [e for e in w.entries("a") if e.direction == "received"]
    assert [e.iss for e in b_completion] == [mesh["b"].id]
    assert b_completion[0].par == (result["sent"],)
    assert result["completion"]["par"] == [b_completion[0].jti]
    outbound = read_payload(next(e.ect for e in w.entries("a") if e.jti == result["sent"])) or {}
    assert outbound["aud"] == mesh["b"].id
    assert outbound["exec_act"] == f"GET {route}"


def test_requests_session_propagates(mesh: Mesh, tmp_path: Path) -> None:
    with world(mesh, tmp_path, Clients(sync=instrument_session(requests.Session()))) as w:
        result = w.call("/call-sync", f"{w.b}/context")
    assert result["body"]["caller"] == mesh["a"].id
    assert result["body"]["parents"] == [result["sent"]]


def test_global_instrument_is_idempotent_and_injects_once(mesh: Mesh, tmp_path: Path) -> None:
    ect_middleware.instrument()
    ect_middleware.instrument()
    # A wrapper around a (patched) stock transport: the request still gets one set of tokens.
    clients = Clients(httpx.Client(transport=ECTTransport()), httpx.AsyncClient())
    with world(mesh, tmp_path, clients) as w:
        wrapped = w.call("/call-sync", f"{w.b}/context")
        plain = w.call("/call-async", f"{w.b}/context")
        ect_middleware.uninstrument()
        ect_middleware.uninstrument()
        after = w.call("/call-async", f"{w.b}/context")
    for result in (wrapped, plain):
        assert result["body"]["caller"] == mesh["a"].id
        assert result["minted"] == [result["sent"]]  # one ECT minted for one call
    assert after["status"] == 400
    assert after["body"]["code"] == "wit.missing"
    assert after["minted"] == []


def test_calls_outside_a_request_are_untouched(mesh: Mesh, tmp_path: Path) -> None:
    ect_middleware.instrument()
    with world(mesh, tmp_path, Clients()) as w:
        seen = httpx.get(f"{w.echo}/echo").json()["headers"]
        seen_requests = requests.get(f"{w.echo}/echo", timeout=10).json()["headers"]
    assert WIMSE.isdisjoint(seen)
    assert WIMSE.isdisjoint(seen_requests)


def test_hosts_not_in_peers_never_see_our_tokens(mesh: Mesh, tmp_path: Path) -> None:
    clients = Clients(
        httpx.Client(transport=ECTTransport()), httpx.AsyncClient(transport=AsyncECTTransport())
    )
    with world(mesh, tmp_path, clients) as w:
        result = w.call("/call-async", f"{w.echo}/echo")
    assert WIMSE.isdisjoint(result["body"]["headers"])
    assert result["minted"] == []
    assert result["sent"] is None


def test_redirects_get_fresh_tokens_or_none(mesh: Mesh, tmp_path: Path) -> None:
    clients = Clients(
        httpx.Client(transport=ECTTransport()), httpx.AsyncClient(transport=AsyncECTTransport())
    )
    with world(mesh, tmp_path, clients) as w:
        to_peer = w.call("/call-async", f"{w.b}/redirect?to={w.b}/context", follow="1")
        to_stranger = w.call("/call-async", f"{w.b}/redirect?to={w.echo}/echo", follow="1")
        b_entries = w.entries("b")
    # Peer to peer: each hop was verified by B with its own fresh tokens.
    assert to_peer["body"]["caller"] == mesh["a"].id
    assert len(to_peer["minted"]) == 2
    assert to_peer["body"]["parents"] == [to_peer["sent"]]
    received = [e.jti for e in b_entries if e.direction == "received" and e.iss == mesh["a"].id]
    assert set(to_peer["minted"]) <= set(received)
    # Peer to a stranger: our tokens were stripped on the way out.
    assert WIMSE.isdisjoint(to_stranger["body"]["headers"])


def test_unverifiable_response_ect_is_logged_and_ignored(mesh: Mesh, tmp_path: Path) -> None:
    clients = Clients(
        httpx.Client(transport=ECTTransport()), httpx.AsyncClient(transport=AsyncECTTransport())
    )
    with world(mesh, tmp_path, clients) as w, capture_logs() as logs:
        result = w.call("/call-async", f"{w.echo}/peer/forge")
    assert result["status"] == 200
    assert result["body"] == {"forged": True}
    ignored = [e for e in logs if e["event"] == "ect.response_ignored"]
    assert [e["code"] for e in ignored] == ["wit.malformed"]
    assert result["completion"]["par"] == []  # nothing unverified became a parent
    assert [e.direction for e in w.entries("a")] == ["minted", "minted"]


def test_tokens_set_by_the_application_are_left_alone(mesh: Mesh, tmp_path: Path) -> None:
    clients = Clients(sync=httpx.Client(transport=ECTTransport()))
    with world(mesh, tmp_path, clients) as w:
        result = w.call("/call-sync", f"{w.echo}/peer/echo", **{"hdr-Workload-Proof-Token": "mine"})
    seen = result["body"]["headers"]
    assert seen["workload-proof-token"] == "mine"
    assert "execution-context" not in seen
    assert result["minted"] == []


def test_outbound_ect_hashes_the_body_and_names_the_action(mesh: Mesh, tmp_path: Path) -> None:
    clients = Clients(asynchronous=httpx.AsyncClient(transport=AsyncECTTransport()))
    payload = b'{"invoice": 42}'
    with world(mesh, tmp_path, clients) as w:
        response = httpx.post(
            f"{w.a}/post-async", params={"url": f"{w.b}/policy", "act": "refund.review"},
            content=payload, timeout=20,
        )  # fmt: skip
        sent = response.json()["sent"]
        recorded = {e.jti: read_payload(e.ect) or {} for e in w.entries("b")}
    assert response.status_code == 200
    assert recorded[sent]["exec_act"] == "refund.review"
    assert recorded[sent]["inp_hash"] == sha256_b64url(payload)

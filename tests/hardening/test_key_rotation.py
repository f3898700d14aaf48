"""Rotating this service's own key with its WIT, while requests flow.

Service ``a`` runs behind both middlewares (Starlette under uvicorn, Flask under
waitress) and calls peer ``b`` with both clients (httpx, requests) on every request. The
test rotates ``a``'s key every step, the way an operator's tooling does: first the new key
file, then the WIT that confirms it. The service's clock is the test's (real time plus an
offset the test moves), so when the service re-reads its files is decided by the test,
not by sleeps racing requests: after each file change the clock moves past the re-read
interval and a probe goes through every middleware and client.

What must hold, whatever the interleaving: no request ever fails (background threads call
throughout); with the new key but the old WIT on disk the service keeps the last good pair
and says so in the log; once both agree it uses the new pair; every outbound call and
every completion carries a WIT that confirms the key that signed it; and every key
generation was used.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import requests
from flask import Flask, jsonify
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from structlog.testing import capture_logs

from ect_middleware import ECTMiddleware, ECTWSGIMiddleware, Settings
from ect_middleware.devkit import reissue_wit
from ect_middleware.limits import Limits
from ect_middleware.propagation.httpx_transport import ECTTransport
from ect_middleware.propagation.requests_adapter import instrument_session
from ect_middleware.tokens.ect import verify_ect
from ect_middleware.tokens.jws import read_payload
from ect_middleware.tokens.keys import generate_signing_key, jwk_thumbprint
from ect_middleware.tokens.trust import TrustBundle
from ect_middleware.tokens.wit import WITVerifier

from ..support.apps import starlette_app
from ..support.mesh import Mesh
from ..support.servers import free_port, uvicorn_server, waitress_server

ROTATIONS = 3
#: More than watched.py's re-read interval (1 s): the next use of the identity re-reads it.
STEP = 1.1
COMBOS = [(stack, client) for stack in ("asgi", "wsgi") for client in ("httpx", "requests")]


class OffsetClock:
    """Real time plus an offset that only the test moves."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def _caller(peer: str) -> Callable[[str], dict[str, Any]]:
    """GET peer /context with the named client, from inside a request of ``a``."""
    httpx_client = httpx.Client(transport=ECTTransport(), timeout=10)
    session = instrument_session(requests.Session())

    def call(client: str) -> dict[str, Any]:
        if client == "httpx":
            response: Any = httpx_client.get(f"{peer}/context")
        else:
            response = session.get(f"{peer}/context", timeout=10)
        return {
            "status": response.status_code,
            "sent_wit": response.request.headers.get("Workload-Identity-Token"),
        }

    return call


def _asgi_a(settings: Settings, peer: str) -> Starlette:
    call = _caller(peer)

    def handler(request: Request) -> JSONResponse:  # sync: Starlette's thread pool
        return JSONResponse(call(request.query_params["client"]))

    app = Starlette(routes=[Route("/call", handler)])
    app.add_middleware(ECTMiddleware, settings=settings)
    return app


def _wsgi_a(settings: Settings, peer: str) -> Flask:
    call = _caller(peer)
    app = Flask("rotating-a")

    @app.get("/call")
    def handler() -> Any:
        from flask import request

        return jsonify(call(request.args["client"]))

    app.wsgi_app = ECTWSGIMiddleware(app.wsgi_app, settings=settings)  # type: ignore[method-assign]
    return app


@contextmanager
def services(mesh: Mesh, tmp_path: Path, clock: OffsetClock) -> Iterator[dict[str, str]]:
    ports = {name: free_port() for name in ("b", "asgi", "wsgi")}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    settings_b = mesh.settings("b", urls["b"], ledger=f"sqlite:///{tmp_path / 'b.db'}")
    app_b, _ = starlette_app(settings_b)

    def settings_a(kind: str) -> Settings:
        return mesh.settings(
            "a",
            urls[kind],
            ledger=f"sqlite:///{tmp_path / f'a-{kind}.db'}",
            entry_paths=("/call",),
            peers={urls["b"]: mesh["b"].id},
            clock=clock,
        )

    with ExitStack() as stack:
        stack.enter_context(uvicorn_server(app_b, ports["b"]))
        stack.enter_context(uvicorn_server(_asgi_a(settings_a("asgi"), urls["b"]), ports["asgi"]))
        stack.enter_context(waitress_server(_wsgi_a(settings_a("wsgi"), urls["b"]), ports["wsgi"]))
        yield urls


class Calls:
    """Requests to ``a`` through every middleware and client; each one checked."""

    def __init__(self, mesh: Mesh, urls: dict[str, str]) -> None:
        self.mesh, self.urls = mesh, urls
        trust = TrustBundle.load(mesh.trust_bundle)  # the issuers do not rotate here
        self.wits = WITVerifier(lambda: trust, Limits(), time.time)
        self.failures: list[str] = []
        self.generations_sent: set[str] = set()
        self.lock = threading.Lock()
        #: by middleware and client, the generations (call, completion) of the last probe's
        #: calls: the test's own, never the background's
        self.probed: dict[tuple[str, str], tuple[str, str]] = {}

    def one(self, stack: str, client: str) -> tuple[str, str]:
        """One call; the key generations (cnf thumbprints) of the pairs it used, for the
        outbound call and for the completion."""
        response = httpx.get(f"{self.urls[stack]}/call", params={"client": client}, timeout=20)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == 200, f"peer b refused {stack}/{client}: {body}"
        returned = response.headers["workload-identity-token"]
        # The completion verifies with the WIT returned with it: a matching pair.
        wit = self.wits.verify(returned)
        completion = response.headers["execution-context"]
        verify_ect(completion, wit, {self.mesh["a"].id}, Limits(), time.time)
        # The outbound call was accepted by b, so its WIT confirmed the key of its WPT and
        # ECT. (Across a rotation the call and the completion may use successive pairs,
        # each matching.)
        sent = _generation(body["sent_wit"])
        with self.lock:
            self.generations_sent.add(sent)
        return sent, _generation(returned)

    def probe(self) -> set[str]:
        """Every middleware and client once; the generations they used (call and
        completion). The test rotates nothing during a probe."""
        self.probed = {(stack, client): self.one(stack, client) for stack, client in COMBOS}
        return {g for pair in self.probed.values() for g in pair}

    def shown(self) -> dict[str, tuple[str, str]]:
        """The last probe, short enough for a failure message."""
        return {"/".join(combo): (s[:8], r[:8]) for combo, (s, r) in self.probed.items()}

    def background(self, stop: threading.Event) -> None:
        while not stop.is_set():
            for stack, client in COMBOS:
                try:
                    self.one(stack, client)
                except Exception as exc:  # every failure is kept, none stops the traffic
                    with self.lock:
                        self.failures.append(f"{stack}/{client}: {exc!r}"[:300])


def _generation(wit: str) -> str:
    payload = read_payload(wit) or {}
    return jwk_thumbprint(payload["cnf"]["jwk"])


def _replace_key(path: Path) -> str:
    key = generate_signing_key("ES256")
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(key.to_private_jwk()))
    os.replace(tmp, path)
    return key.public.thumbprint


def test_the_service_key_rotates_with_its_wit_under_traffic(tmp_path: Path) -> None:
    mesh = Mesh(tmp_path / "ids")
    a = mesh["a"]
    clock = OffsetClock()
    generations = [a.key.public.thumbprint]
    stop = threading.Event()
    with services(mesh, tmp_path, clock) as urls, capture_logs() as logs:
        calls = Calls(mesh, urls)
        threads = [threading.Thread(target=calls.background, args=(stop,)) for _ in range(2)]
        for thread in threads:
            thread.start()
        try:
            assert calls.probe() == {generations[0]}
            for _ in range(ROTATIONS):
                new = _replace_key(a.key_file)  # 1. the new key, the old WIT still on disk
                clock.offset += STEP
                assert calls.probe() == {generations[-1]}  # the last good pair is kept
                reissue_wit(mesh.identities, a.id)  # 2. the WIT that confirms the new key
                clock.offset += STEP
                used = calls.probe()
                assert used == {new}, f"expected {new[:8]}; (call, completion): {calls.shown()}"
                generations.append(new)
        finally:
            stop.set()
            for thread in threads:
                thread.join(60)
    assert calls.failures == []
    assert calls.generations_sent == set(generations)  # every generation was used
    refused = [e for e in logs if e["event"] == "ect.config.reload_failed"]
    assert refused
    assert all("does not confirm" in e["reason"] for e in refused)

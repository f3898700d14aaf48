"""When the middleware writes the ledger: before anything depends on an entry, and never
on the event loop."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ect_middleware import ECTMiddleware
from ect_middleware.ledger import LedgerEntry, NewEntry, open_ledger
from ect_middleware.ledger.sqlite import SQLiteLedger
from ect_middleware.propagation.httpx_transport import AsyncECTTransport
from ect_middleware.runtime import Runtime
from ect_middleware.tokens.jws import read_payload

from ..support.mesh import Mesh
from ..support.servers import free_port, uvicorn_server


class SlowLedger(SQLiteLedger):
    """A real SQLite ledger whose appends take 0.6 s, as when another process holds the
    write lock: the thread that appends is blocked for that long."""

    def append(self, entries: Sequence[NewEntry]) -> list[LedgerEntry]:
        time.sleep(0.6)
        return super().append(entries)


def test_the_event_loop_serves_other_requests_while_the_ledger_writes(
    mesh: Mesh, tmp_path: Path
) -> None:
    async def work(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    async def ping(request: Request) -> JSONResponse:
        return JSONResponse({"pong": True})

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = mesh.settings("b", base, exclude_paths=("/ping",))
    runtime = Runtime(settings, ledger=SlowLedger(tmp_path / "b.db"))
    app = Starlette(routes=[Route("/work", work), Route("/ping", ping)])
    app.add_middleware(ECTMiddleware, runtime=runtime)
    done: dict[str, float] = {}

    def verified_call() -> None:
        ect = mesh.ect("a", mesh["b"].id).token
        response = httpx.get(base + "/work", headers=mesh.headers("a", base + "/work", [ect]))
        assert response.status_code == 200
        done["work"] = time.monotonic()

    with uvicorn_server(app, port):
        slow = threading.Thread(target=verified_call)
        slow.start()
        time.sleep(0.2)  # the verified request is now waiting for its ledger write
        started = time.monotonic()
        assert httpx.get(base + "/ping").json() == {"pong": True}
        done["ping"] = time.monotonic()
        slow.join(10)

    assert done["ping"] - started < 0.3  # served during the write, not after it
    assert done["ping"] < done["work"]
    runtime.close()


def test_an_outbound_ect_and_its_ancestry_are_durable_before_the_peer_sees_them(
    mesh: Mesh, tmp_path: Path
) -> None:
    service_ledger = tmp_path / "b.db"

    async def peer(request: Request) -> JSONResponse:
        """Reads the calling service's ledger file with a connection of its own."""
        claims = read_payload(request.headers["execution-context"]) or {}
        ledger = open_ledger(f"sqlite:///{service_ledger}")
        try:
            recorded = {e.jti: e.direction for e in ledger.entries()}
        finally:
            ledger.close()
        return JSONResponse(
            {
                "self": recorded.get(claims["jti"]),
                "parents": [recorded.get(p) for p in claims["par"]],
            }
        )

    peer_port, port = free_port(), free_port()
    peer_base, base = f"http://127.0.0.1:{peer_port}", f"http://127.0.0.1:{port}"
    client = httpx.AsyncClient(transport=AsyncECTTransport())

    async def delegate(request: Request) -> JSONResponse:
        reply = await client.post(peer_base + "/task", json={"n": 1})
        return JSONResponse(reply.json())

    service = Starlette(routes=[Route("/delegate", delegate, methods=["POST"])])
    service.add_middleware(
        ECTMiddleware,
        settings=mesh.settings(
            "b",
            base,
            ledger=f"sqlite:///{service_ledger}",
            peers={peer_base: mesh["c"].id},
        ),
    )
    peer_app = Starlette(routes=[Route("/task", peer, methods=["POST"])])
    with uvicorn_server(peer_app, peer_port), uvicorn_server(service, port):
        ect = mesh.ect("a", mesh["b"].id)
        response = httpx.post(
            base + "/delegate", headers=mesh.headers("a", base + "/delegate", [ect.token])
        )

    assert response.status_code == 200
    assert response.json() == {"self": "minted", "parents": ["received"]}

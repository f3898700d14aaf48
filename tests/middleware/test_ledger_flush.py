"""When the middleware writes the ledger: before anything depends on an entry, and never
on the event loop."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ect_middleware import ECTMiddleware, checkpoint
from ect_middleware.ledger import open_ledger
from ect_middleware.ledger.base import verify_chain
from ect_middleware.propagation.httpx_transport import AsyncECTTransport, ECTTransport
from ect_middleware.tokens.jws import read_payload

from ..support.mesh import Mesh
from ..support.servers import free_port, uvicorn_server


def test_the_event_loop_serves_other_requests_while_an_append_waits_for_the_lock(
    mesh: Mesh, tmp_path: Path
) -> None:
    """Another connection holds the SQLite write lock until the test has been served a
    ping: the verified request's records wait for the lock on the writer's thread, so
    the loop goes on serving. Were the append waiting on the loop, the ping could not be
    answered before the lock is released, which happens only after it is answered."""
    handled = threading.Event()

    async def work(request: Request) -> JSONResponse:
        handled.set()  # its records are flushed as the response starts, right after this
        return JSONResponse({"ok": True})

    async def ping(request: Request) -> JSONResponse:
        return JSONResponse({"pong": True})

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    path = tmp_path / "b.db"
    settings = mesh.settings("b", base, ledger=f"sqlite:///{path}", exclude_paths=("/ping",))
    app = Starlette(routes=[Route("/work", work), Route("/ping", ping)])
    app.add_middleware(ECTMiddleware, settings=settings)
    answered: list[int] = []

    def verified_call() -> None:
        ect = mesh.ect("a", mesh["b"].id).token
        response = httpx.get(base + "/work", headers=mesh.headers("a", base + "/work", [ect]))
        answered.append(response.status_code)

    open_ledger(settings.ledger).close()  # the file exists, in WAL mode
    with uvicorn_server(app, port):
        assert httpx.get(base + "/ping").status_code == 200  # the app is built
        other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")  # another writer holds the lock until released
        try:
            slow = threading.Thread(target=verified_call)
            slow.start()
            assert handled.wait(30)
            time.sleep(0.2)  # let the flush reach the lock: it cannot pass it
            assert httpx.get(base + "/ping", timeout=20).json() == {"pong": True}
            assert answered == []  # the verified response still waits for its records
        finally:
            other.execute("ROLLBACK")
            other.close()
        slow.join(30)

    assert answered == [200]
    ledger = open_ledger(settings.ledger)
    assert [e.direction for e in ledger.entries()] == ["received", "minted"]
    ledger.close()


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


def test_a_checkpoint_after_the_response_is_still_recorded(mesh: Mesh, tmp_path: Path) -> None:
    """A background task runs after the response (and its flush): its checkpoint is
    written behind, not left waiting for a flush that never comes."""
    recorded = threading.Event()
    made: list[str] = []

    def audit() -> None:
        jti = checkpoint("post-processing", "approved", step="archive")
        assert jti is not None
        made.append(jti)
        recorded.set()

    async def work(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True}, background=BackgroundTask(audit))

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = mesh.settings("b", base, ledger=f"sqlite:///{tmp_path / 'b.db'}")
    app = Starlette(routes=[Route("/work", work)])
    app.add_middleware(ECTMiddleware, settings=settings)
    with uvicorn_server(app, port):
        ect = mesh.ect("a", mesh["b"].id).token
        response = httpx.get(base + "/work", headers=mesh.headers("a", base + "/work", [ect]))
        assert response.status_code == 200
        assert recorded.wait(10)

    ledger = open_ledger(settings.ledger)
    entries = {e.jti: e for e in ledger.entries()}
    ledger.close()
    (jti,) = made
    assert entries[jti].direction == "minted"
    completion = read_payload(response.headers["execution-context"]) or {}
    assert list(entries)[-1] == jti  # after the completion, which does not descend from it
    assert completion["jti"] in entries


@pytest.mark.parametrize("handler", ["async", "sync"])
def test_an_ect_whose_record_failed_is_not_sent_and_not_recorded(
    mesh: Mesh, tmp_path: Path, handler: str
) -> None:
    """The flush before an outbound call fails (SQLite aborts the insert): the call goes
    out without tokens, and the ECT minted for it is left out of the ledger, while what the
    request received and its completion are recorded once the ledger works again. From an
    async handler (httpx.AsyncClient) and from a sync one in the thread pool (httpx.Client,
    whose hook flushes blocking)."""
    service_ledger = tmp_path / "b.db"
    open_ledger(f"sqlite:///{service_ledger}").close()
    admin = sqlite3.connect(service_ledger, isolation_level=None, check_same_thread=False)
    admin.execute("CREATE TABLE fail_inserts (on_ INTEGER)")
    admin.execute(
        "CREATE TRIGGER injected_failure BEFORE INSERT ON entries"
        " WHEN EXISTS (SELECT 1 FROM fail_inserts)"
        " BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
    )
    admin.execute("INSERT INTO fail_inserts VALUES (1)")

    async def peer(request: Request) -> JSONResponse:
        admin.execute("DELETE FROM fail_inserts")  # the ledger works again from here
        return JSONResponse({"ect": request.headers.get("execution-context")})

    peer_port, port = free_port(), free_port()
    peer_base, base = f"http://127.0.0.1:{peer_port}", f"http://127.0.0.1:{port}"
    async_client = httpx.AsyncClient(transport=AsyncECTTransport())
    sync_client = httpx.Client(transport=ECTTransport())

    async def delegate_async(request: Request) -> JSONResponse:
        reply = await async_client.post(peer_base + "/task", json={"n": 1})
        return JSONResponse(reply.json())

    def delegate_sync(request: Request) -> JSONResponse:
        return JSONResponse(sync_client.post(peer_base + "/task", json={"n": 1}).json())

    delegate = delegate_async if handler == "async" else delegate_sync
    service = Starlette(routes=[Route("/delegate", delegate, methods=["POST"])])
    settings = mesh.settings(
        "b", base, ledger=f"sqlite:///{service_ledger}", peers={peer_base: mesh["c"].id}
    )
    service.add_middleware(ECTMiddleware, settings=settings)
    peer_app = Starlette(routes=[Route("/task", peer, methods=["POST"])])
    with uvicorn_server(peer_app, peer_port), uvicorn_server(service, port):
        ect = mesh.ect("a", mesh["b"].id)
        response = httpx.post(
            base + "/delegate", headers=mesh.headers("a", base + "/delegate", [ect.token])
        )
    admin.close()

    assert response.status_code == 200
    assert response.json() == {"ect": None}  # sent without tokens
    completion = read_payload(response.headers["execution-context"]) or {}
    ledger = open_ledger(settings.ledger)
    recorded = [(e.jti, e.direction) for e in ledger.entries()]
    report = verify_chain(ledger.entries(), ledger.head())
    ledger.close()
    assert recorded == [(ect.jti, "received"), (completion["jti"], "minted")]
    assert report.ok

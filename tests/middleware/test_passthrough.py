"""What the middleware leaves alone, and the header forms it must accept."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from ect_middleware import ECTMiddleware, ECTWSGIMiddleware, current_context

from ..support.apps import flask_app
from ..support.mesh import Mesh
from ..support.servers import free_port
from ..support.stacks import open_stack


def test_lifespan_and_websocket_pass_through(mesh: Mesh, tmp_path: Path) -> None:
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        events.append("startup")
        yield
        events.append("shutdown")

    async def socket(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_text(f"context={current_context()}")
        await ws.close()

    async def health(request: Any) -> PlainTextResponse:
        return PlainTextResponse("ok")

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = mesh.settings("b", base, ledger=f"sqlite:///{tmp_path / 'b.db'}")
    app = Starlette(
        routes=[WebSocketRoute("/ws", socket), Route("/health", health)], lifespan=lifespan
    )
    app.add_middleware(ECTMiddleware, settings=settings, exclude_paths=("/health",))

    import uvicorn
    import websockets.sync.client as ws_client

    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)

    async def run() -> tuple[str, int]:
        task = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
            await asyncio.sleep(0.01)
        message = await asyncio.to_thread(_ws_roundtrip, ws_client, f"ws://127.0.0.1:{port}/ws")
        async with httpx.AsyncClient() as client:
            health_status = (await client.get(f"{base}/health")).status_code
        server.should_exit = True
        await task
        return message, health_status

    message, health_status = asyncio.run(run())
    assert events == ["startup", "shutdown"]
    assert message == "context=None"  # websockets are not verified, nor given a context
    assert health_status == 200  # excluded: no tokens needed


def _ws_roundtrip(client: Any, url: str) -> str:
    with client.connect(url) as ws:
        return str(ws.recv())


def test_off_mode_needs_no_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ECT_WORKLOAD_ID", "ECT_KEY_FILE", "ECT_WIT_FILE", "ECT_TRUST_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ECT_MODE", "off")

    def app(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("content-type", "text/plain")])
        return [str(current_context()).encode()]

    wrapped = ECTWSGIMiddleware(app)
    assert wrapped.runtime is None
    with httpx.Client(transport=httpx.WSGITransport(app=wrapped)) as client:
        response = client.get("http://testserver/anything")
    assert response.text == "None"
    assert "execution-context" not in response.headers


@pytest.mark.parametrize(
    ("kind", "form"),
    [
        ("asgi", "two lines"),
        ("asgi", "one comma-joined line"),
        # httpx's in-process WSGI transport keeps only the last of repeated lines (a real
        # WSGI server joins them: see the waitress test below), so only the joined form.
        ("wsgi", "one comma-joined line"),
    ],
)
def test_several_ects_in_one_request(kind: str, form: str, mesh: Mesh, tmp_path: Path) -> None:
    ledger = f"sqlite:///{tmp_path / 'b.db'}"
    with open_stack(kind, lambda base: mesh.settings("b", base, ledger=ledger)) as stack:
        first = mesh.ect("a", mesh["b"].id)
        second = mesh.ect("a", mesh["b"].id, wid=first.wid, par=[first.jti])
        headers = mesh.headers("a", stack.url("/context"), [first.token, second.token])
        del headers["Execution-Context"]
        pairs = list(headers.items())
        if form == "two lines":
            pairs += [("Execution-Context", first.token), ("Execution-Context", second.token)]
        else:
            pairs += [("Execution-Context", f"{first.token},{second.token}")]
        response = stack.client.get("/context", headers=pairs)
        entries = stack.entries()
    assert response.status_code == 200, response.text
    assert response.json()["parents"] == [first.jti, second.jti]
    received = [e for e in entries if e.direction == "received"]
    assert [(e.jti, e.unresolved) for e in received] == [(first.jti, ()), (second.jti, ())]


def test_flask_app_runs_under_a_wsgi_server_with_joined_headers(mesh: Mesh, tmp_path: Path) -> None:
    """waitress joins repeated header lines with ", ": the WPT binding still holds."""
    from ..support.servers import waitress_server

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = mesh.settings("b", base, ledger=f"sqlite:///{tmp_path / 'b.db'}")
    first = mesh.ect("a", mesh["b"].id)
    second = mesh.ect("a", mesh["b"].id, wid=first.wid)
    headers = mesh.headers("a", f"{base}/context", [first.token, second.token])
    del headers["Execution-Context"]
    pairs = [
        *headers.items(),
        ("Execution-Context", first.token),
        ("Execution-Context", second.token),
    ]
    with waitress_server(flask_app(settings), port):
        response = httpx.get(f"{base}/context", headers=pairs)
    assert response.status_code == 200, response.text
    assert sorted(response.json()["parents"]) == sorted([first.jti, second.jti])
    assert json.loads(json.dumps(response.json()))["caller"] == mesh["a"].id

"""Tasks named by the JSON-RPC call they handle (ECT_JSONRPC_PATHS), not by the route."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from ect_middleware import ConfigurationError, ECTMiddleware, ECTWSGIMiddleware, current_context
from ect_middleware.ledger import open_ledger
from ect_middleware.middleware.jsonrpc import MAX_BODY, MAX_NAME, task_name
from ect_middleware.tokens.jws import read_payload

from ..support.mesh import Mesh
from ..support.servers import free_port, uvicorn_server


def _rpc(method: str, **params: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}


@pytest.mark.parametrize(
    ("message", "name"),
    [
        (_rpc("tools/call", name="search", arguments={}), "tools/call search"),
        (_rpc("prompts/get", name="summary"), "prompts/get summary"),
        (_rpc("initialize", name="ignored"), "initialize"),
        (_rpc("SendMessage", message={}), "SendMessage"),
        ({"jsonrpc": "2.0", "method": "notifications/initialized"}, "notifications/initialized"),
        ([_rpc("tools/list"), _rpc("tools/list"), _rpc("ping")], "tools/list, ping"),
        (_rpc("tools/call", name=7), "tools/call"),
        (_rpc("tools/call", name="a\nb"), "tools/call"),
        (_rpc("tools/call", name="x" * (MAX_NAME + 1)), "tools/call"),
        ({"jsonrpc": "2.0", "id": 1, "result": {}}, None),  # a response: no method
        ({"jsonrpc": "1.0", "method": "old"}, None),
        ({"method": "no version"}, None),
        (_rpc(" padded"), None),
        (_rpc(""), None),
        ([_rpc("ping"), {"not": "rpc"}], None),
        ([], None),
        ("just a string", None),
    ],
)
def test_task_name_of_a_jsonrpc_body(message: object, name: str | None) -> None:
    assert task_name(json.dumps(message).encode()) == name


@pytest.mark.parametrize("body", [b"", b"{", b"\xff\xfe", b"[" * 100_000 + b"]" * 100_000])
def test_a_body_that_is_not_json_has_no_task_name(body: bytes) -> None:
    assert task_name(body) is None


async def _rpc_endpoint(request: Request) -> JSONResponse:
    message = await request.json()
    ctx = current_context()
    assert ctx is not None
    if isinstance(message, dict) and message.get("params", {}).get("rename"):
        ctx.exec_act = message["params"]["rename"]
    return JSONResponse({"jsonrpc": "2.0", "id": 1, "result": {"seen": ctx.exec_act}})


async def _stream_endpoint(request: Request) -> StreamingResponse:
    await request.body()

    async def events() -> Any:
        ctx = current_context()
        assert ctx is not None
        yield b"data: first\n\n"
        ctx.exec_act = "renamed too late"  # after the headers (and the completion) went out
        yield f"data: {ctx.exec_act}\n\n".encode()

    return StreamingResponse(events(), media_type="text/event-stream")


@pytest.fixture
def server(mesh: Mesh, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = Starlette(
        routes=[
            Route("/rpc", _rpc_endpoint, methods=["POST"]),
            Route("/rpc/stream", _stream_endpoint, methods=["POST"]),
            Route("/other", _rpc_endpoint, methods=["POST"]),
        ]
    )
    settings = mesh.settings("b", base, ledger=f"sqlite:///{tmp_path / 'b.db'}")
    app.add_middleware(ECTMiddleware, settings=settings, jsonrpc_paths=("/rpc",))
    with uvicorn_server(app, port):
        yield base


def _post(mesh: Mesh, base: str, path: str, content: bytes) -> httpx.Response:
    ect = mesh.ect("a", mesh["b"].id).token
    headers = mesh.headers("a", base + path, [ect])
    return httpx.post(base + path, content=content, headers=headers, timeout=30)


def _completion_act(response: httpx.Response) -> str:
    claims = read_payload(response.headers["execution-context"]) or {}
    return str(claims["exec_act"])


def test_the_completion_names_the_call(mesh: Mesh, server: str) -> None:
    body = json.dumps(_rpc("tools/call", name="search")).encode()
    response = _post(mesh, server, "/rpc", body)
    assert response.status_code == 200
    assert response.json()["result"]["seen"] == "tools/call search"  # for the handler too
    assert _completion_act(response) == "tools/call search"


def test_a_name_the_handler_sets_before_answering_reaches_the_completion(
    mesh: Mesh, server: str
) -> None:
    body = json.dumps(_rpc("tools/call", name="search", rename="search the archive")).encode()
    response = _post(mesh, server, "/rpc", body)
    assert _completion_act(response) == "search the archive"


def test_a_streamed_answer_is_named_by_the_call_before_it_started(mesh: Mesh, server: str) -> None:
    body = json.dumps(_rpc("tools/call", name="watch")).encode()
    response = _post(mesh, server, "/rpc/stream", body)
    assert response.text == "data: first\n\ndata: renamed too late\n\n"
    assert _completion_act(response) == "tools/call watch"


def test_paths_not_configured_and_oversized_bodies_keep_the_route(mesh: Mesh, server: str) -> None:
    body = json.dumps(_rpc("tools/call", name="search")).encode()
    assert _completion_act(_post(mesh, server, "/other", body)) == "POST /other"
    huge = json.dumps(_rpc("tools/call", name="search", pad="x" * MAX_BODY)).encode()
    response = _post(mesh, server, "/rpc", huge)
    assert response.status_code == 200  # the application still got the whole body
    assert _completion_act(response) == "POST /rpc"


def test_a_refused_call_is_named_by_the_route_its_body_unread(
    mesh: Mesh, server: str, tmp_path: Path
) -> None:
    body = json.dumps(_rpc("tools/call", name="search")).encode()
    response = httpx.post(server + "/rpc", content=body, timeout=30)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    ledger = open_ledger(f"sqlite:///{tmp_path / 'b.db'}", create=False)
    try:
        (refusal,) = list(ledger.entries())
    finally:
        ledger.close()
    claims = read_payload(refusal.ect) or {}
    assert claims["exec_act"] == "POST /rpc"
    assert claims["pol_decision"] == "rejected"


def test_the_wsgi_middleware_refuses_jsonrpc_paths_at_startup(mesh: Mesh, tmp_path: Path) -> None:
    settings = mesh.settings("b", "http://127.0.0.1:1", ledger=f"sqlite:///{tmp_path / 'b.db'}")

    def app(environ: Any, start_response: Any) -> list[bytes]:
        return []

    with pytest.raises(ConfigurationError, match="ECT_JSONRPC_PATHS"):
        ECTWSGIMiddleware(app, settings=settings, jsonrpc_paths=("/rpc",))

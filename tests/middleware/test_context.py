"""The request context is there wherever the request's code runs, and only there."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from ect_middleware import bind_context, current_context
from ect_middleware.ledger import open_ledger, verify_chain
from ect_middleware.tokens.jws import read_payload

from ..support.apps import flask_app, starlette_app
from ..support.mesh import Mesh
from ..support.servers import free_port, uvicorn_server, waitress_server
from ..support.stacks import open_stack


def _settings(mesh: Mesh, tmp_path: Path, **overrides: object):  # type: ignore[no-untyped-def]
    ledger = f"sqlite:///{tmp_path / 'b.db'}"
    return lambda base: mesh.settings("b", base, ledger=ledger, **overrides)


def _call(mesh: Mesh, client: httpx.Client, base: str, path: str) -> httpx.Response:
    ect = mesh.ect("a", mesh["b"].id).token
    return client.get(path, headers=mesh.headers("a", base + path.split("?")[0], [ect]))


def test_streaming_body_keeps_the_context_to_the_last_chunk(
    kind: str, mesh: Mesh, tmp_path: Path
) -> None:
    with open_stack(kind, _settings(mesh, tmp_path)) as stack:
        response = _call(mesh, stack.client, stack.base, "/stream")
        entries = stack.entries()
    lines = response.text.splitlines()
    wids = {line.split(":", 1)[1] for line in lines}
    assert [line.split(":")[0] for line in lines] == ["0", "1", "2"]
    assert len(wids) == 1
    (wid,) = wids
    uuid.UUID(wid)  # a real workflow id, not "None"
    completion = read_payload(response.headers["execution-context"]) or {}
    assert completion["wid"] == wid
    assert completion["jti"] in {e.jti for e in entries if e.direction == "minted"}


def test_sync_endpoint_in_thread_pool_sees_the_context(mesh: Mesh, tmp_path: Path) -> None:
    with open_stack("asgi", _settings(mesh, tmp_path)) as stack:
        body = _call(mesh, stack.client, stack.base, "/sync").json()
    assert body["caller"] == mesh["a"].id
    assert len(body["parents"]) == 1


def test_background_task_sees_the_context(mesh: Mesh, tmp_path: Path) -> None:
    with open_stack("asgi", _settings(mesh, tmp_path)) as stack:
        response = _call(mesh, stack.client, stack.base, "/background")
        deadline = time.monotonic() + 30  # a hang guard, not a speed limit
        while not stack.extra and time.monotonic() < deadline:
            time.sleep(0.01)
    (seen,) = stack.extra
    completion = read_payload(response.headers["execution-context"]) or {}
    assert seen["caller"] == mesh["a"].id
    assert seen["wid"] == completion["wid"]
    assert seen["task"] == completion["jti"]


def test_exception_handler_sees_the_context_and_500_is_recorded(mesh: Mesh, tmp_path: Path) -> None:
    # Under a server: Starlette re-raises the error after sending its 500, and what the
    # client gets then is the server's doing (an in-process transport raises instead).
    with open_stack("uvicorn", _settings(mesh, tmp_path)) as stack:
        handled = _call(mesh, stack.client, stack.base, "/handled")
        boom = _call(mesh, stack.client, stack.base, "/boom")
        entries = stack.entries()
    assert handled.status_code == 409
    assert handled.json()["caller"] == mesh["a"].id  # the handler ran inside the context
    assert boom.status_code == 500
    # instrument_app sits outside ServerErrorMiddleware: the 500 carries its completion.
    completion = read_payload(boom.headers["execution-context"]) or {}
    assert completion["ext"] == {"http_status": 500}
    recorded = {e.jti: read_payload(e.ect) for e in entries}
    assert recorded[completion["jti"]] == completion


def test_add_middleware_still_records_a_500(mesh: Mesh, tmp_path: Path) -> None:
    """Inside ServerErrorMiddleware the 500 response bypasses us; the record must not."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = _settings(mesh, tmp_path)(base)
    app, _ = starlette_app(settings, outside_errors=False)
    with uvicorn_server(app, port), httpx.Client(base_url=base) as client:
        boom = _call(mesh, client, base, "/boom")
    assert boom.status_code == 500
    ledger = open_ledger(settings.ledger)
    statuses = [(read_payload(e.ect) or {}).get("ext") for e in ledger.entries()]
    ledger.close()
    assert {"http_status": 500} in statuses


def test_flask_error_is_recorded(mesh: Mesh, tmp_path: Path) -> None:
    with open_stack("wsgi", _settings(mesh, tmp_path)) as stack:
        boom = _call(mesh, stack.client, stack.base, "/boom")
    assert boom.status_code == 500
    completion = read_payload(boom.headers["execution-context"]) or {}
    assert completion["ext"] == {"http_status": 500}


@pytest.mark.parametrize("server", ["uvicorn", "waitress"])
def test_100_concurrent_requests_never_see_each_others_context(
    server: str, mesh: Mesh, tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = _settings(mesh, tmp_path)(base)
    if server == "uvicorn":
        app, run = starlette_app(settings)[0], uvicorn_server
    else:
        app, run = flask_app(settings), waitress_server
    requests = []
    for _ in range(100):
        ect = mesh.ect("a", mesh["b"].id, wid=str(uuid.uuid4()))
        requests.append((ect, mesh.headers("a", f"{base}/slow", [ect.token])))

    async def send_all() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=100)
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
            return await asyncio.gather(*(client.get("/slow", headers=h) for _, h in requests))

    with run(app, port):
        responses = asyncio.run(send_all())
    assert [r.status_code for r in responses] == [200] * 100
    for (ect, _), response in zip(requests, responses, strict=True):
        body = response.json()
        assert body["wid"] == ect.wid
        assert body["parents"] == [ect.jti]
    ledger = open_ledger(settings.ledger)
    entries = list(ledger.entries())
    assert verify_chain(entries, ledger.head()).ok
    ledger.close()
    assert len(entries) == 200  # each request: its received ECT and its completion


def test_bind_context_carries_the_context_into_threads(mesh: Mesh, tmp_path: Path) -> None:
    settings = _settings(mesh, tmp_path)("http://testserver")
    from flask import Flask, jsonify

    from ect_middleware import ECTWSGIMiddleware

    app = Flask("threads")

    def wid_or_none() -> str | None:
        ctx = current_context()
        return ctx.workflow_id if ctx else None

    @app.get("/threads")
    def threads() -> object:
        with ThreadPoolExecutor(2) as pool:
            bound = [pool.submit(bind_context(wid_or_none)).result() for _ in range(3)]
            unbound = pool.submit(wid_or_none).result()
        raw: list[str | None] = []
        thread = threading.Thread(target=bind_context(lambda: raw.append(wid_or_none())))
        thread.start()
        thread.join()
        return jsonify(bound=bound, unbound=unbound, thread=raw, here=wid_or_none())

    app.wsgi_app = ECTWSGIMiddleware(app.wsgi_app, settings=settings)  # type: ignore[method-assign]
    with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://testserver") as c:
        body = _call(mesh, c, "http://testserver", "/threads").json()
    assert body["here"] is not None
    assert body["bound"] == [body["here"]] * 3
    assert body["thread"] == [body["here"]]
    assert body["unbound"] is None
    assert current_context() is None  # nothing leaked into the test's own context


def test_no_context_outside_requests() -> None:
    assert current_context() is None
    assert json.loads(json.dumps({"ctx": current_context()})) == {"ctx": None}

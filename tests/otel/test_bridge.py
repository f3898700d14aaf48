"""The OpenTelemetry bridge, next to OpenTelemetry's own ASGI, WSGI and httpx
instrumentations: a Starlette agent under uvicorn calls a Flask agent under waitress over
real sockets; the SDK's in-memory exporter collects every span of both.

The server spans carry the execution context, the checkpoints are span events, the httpx
client span names the ECT it carried, and both ledgers record the one trace id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware as OTelASGI
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware as OTelWSGI
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ect_middleware import ECTWSGIMiddleware, checkpoint, instrument_app, otel, sent_task_id
from ect_middleware.ledger import verify_chain
from ect_middleware.ledger.memory import MemoryLedger
from ect_middleware.propagation.httpx_transport import AsyncECTTransport
from ect_middleware.runtime import INBOUND_POLICY, Runtime

from ..support.mesh import Mesh
from ..support.paths import ARTIFACTS
from ..support.servers import free_port, uvicorn_server, waitress_server


@pytest.fixture
def spans() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


def dump(spans: list[ReadableSpan]) -> str:
    """The spans with their ``ect.*`` attributes and events, for people to read."""
    lines = []
    for span in sorted(spans, key=lambda s: s.start_time or 0):
        context = span.get_span_context()
        assert context is not None
        lines.append(f"{span.name} [{span.kind.name}] trace={context.trace_id:032x}")
        for key, value in sorted((span.attributes or {}).items()):
            if key.startswith("ect."):
                lines.append(f"    {key} = {value!r}")
        for event in span.events:
            if event.name.startswith("ect."):
                lines.append(f"    event {event.name} {dict(event.attributes or {})}")
    return "\n".join(lines) + "\n"


def two_agents(
    mesh: Mesh,
    provider: TracerProvider,
    client_for: Callable[[], httpx.AsyncClient],
    url_a: str,
    url_b: str,
) -> tuple[Any, Any, Runtime, Runtime]:
    """Agent a (Starlette) checkpoints, then calls agent b (Flask), which checkpoints too.
    OpenTelemetry's middlewares wrap ours, as an application would put them."""
    runtime_a = Runtime(
        mesh.settings("a", url_a, peers={url_b: mesh["b"].id}, entry_paths=("/delegate",)),
        ledger=MemoryLedger(),
    )
    runtime_b = Runtime(mesh.settings("b", url_b), ledger=MemoryLedger())

    async def delegate(request: Request) -> JSONResponse:
        checkpoint("budget", "approved", amount=3)
        async with client_for() as client:
            response = await client.post(f"{url_b}/work", json={"item": 1})
        return JSONResponse(
            {"status": response.status_code, "sent": sent_task_id(response.request.headers)}
        )

    app_a = Starlette(routes=[Route("/delegate", delegate, methods=["POST"])])
    instrument_app(app_a, runtime=runtime_a)
    asgi = OTelASGI(app_a, tracer_provider=provider)

    app_b = Flask("agent_b")

    @app_b.post("/work")
    def work() -> Any:
        checkpoint("classification", "rejected", level="secret")
        return {"done": True}

    app_b.wsgi_app = ECTWSGIMiddleware(app_b.wsgi_app, runtime=runtime_b)  # type: ignore[method-assign]
    app_b.wsgi_app = OTelWSGI(app_b.wsgi_app, tracer_provider=provider)  # type: ignore[method-assign]
    return asgi, app_b, runtime_a, runtime_b


@pytest.mark.parametrize("httpx_instrumentation", ["global", "client"])
def test_spans_carry_the_execution_context(
    mesh: Mesh,
    spans: tuple[TracerProvider, InMemorySpanExporter],
    httpx_instrumentation: str,
    tmp_path: Path,
) -> None:
    provider, exporter = spans
    port_a, port_b = free_port(), free_port()
    url_a, url_b = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"
    instrumentor = HTTPXClientInstrumentor()

    if httpx_instrumentation == "global":
        # Patches httpx.HTTPTransport itself: its span starts inside our transport, so the
        # bridge's request hooks name the ECT from the request's header.
        instrumentor.instrument(
            tracer_provider=provider,
            request_hook=otel.request_hook,
            async_request_hook=otel.async_request_hook,
        )

        def client_for() -> httpx.AsyncClient:
            return httpx.AsyncClient(transport=AsyncECTTransport(), timeout=10)
    else:
        # Wraps this client's transport (ours): its span is current when we attach the ECT.
        def client_for() -> httpx.AsyncClient:
            client = httpx.AsyncClient(transport=AsyncECTTransport(), timeout=10)
            instrumentor.instrument_client(client, tracer_provider=provider)
            return client

    asgi, wsgi, runtime_a, runtime_b = two_agents(mesh, provider, client_for, url_a, url_b)
    try:
        with uvicorn_server(asgi, port_a), waitress_server(wsgi, port_b):
            response = httpx.post(f"{url_a}/delegate", json={}, timeout=10)
    finally:
        if httpx_instrumentation == "global":
            instrumentor.uninstrument()
    assert response.status_code == 200, response.text
    sent = response.json()["sent"]
    assert response.json()["status"] == 200

    finished = list(exporter.get_finished_spans())
    text = dump(finished)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"otel-spans-{httpx_instrumentation}.txt").write_text(text)

    servers = [s for s in finished if s.kind == SpanKind.SERVER]
    (server_a,) = [s for s in servers if (s.attributes or {}).get("ect.caller") is None]
    (server_b,) = [s for s in servers if (s.attributes or {}).get("ect.caller") == mesh["a"].id]
    (client,) = [
        s for s in finished if s.kind == SpanKind.CLIENT and "ect.jti" in (s.attributes or {})
    ]
    a, b, c = server_a.attributes or {}, server_b.attributes or {}, client.attributes or {}

    # One trace across both agents, through OpenTelemetry's own propagation.
    trace_ids = {s.get_span_context().trace_id for s in (server_a, server_b, client)}  # type: ignore[union-attr]
    assert len(trace_ids) == 1
    trace_id = f"{trace_ids.pop():032x}"

    # Agent a: the entry point of a new workflow, no caller, no parents.
    entries_a = list(runtime_a.ledger.entries())
    wid = entries_a[0].wid
    assert a["ect.workflow_id"] == wid
    assert a["ect.parent_ids"] == ()
    completion_a = [e for e in entries_a if e.jti == a["ect.task_id"]]
    assert completion_a, "the server span's task id is the request's completion ECT"

    # The client span names the ECT it carried, which b received.
    assert c["ect.jti"] == sent
    assert client.parent is not None
    assert client.parent.span_id in {s.context.span_id for s in finished}  # type: ignore[union-attr]

    # Agent b: called by a, after the ECT a sent.
    assert b["ect.workflow_id"] == wid
    assert b["ect.parent_ids"] == (sent,)
    entries_b = list(runtime_b.ledger.entries())
    assert any(e.jti == b["ect.task_id"] for e in entries_b)

    # Checkpoints are span events: the middleware's inbound decision and the app's own.
    def checkpoints(span: ReadableSpan) -> list[dict[str, Any]]:
        return [dict(e.attributes or {}) for e in span.events if e.name == "ect.checkpoint"]

    events_a = checkpoints(server_a)
    assert [(e["ect.policy"], e["ect.decision"]) for e in events_a] == [
        (INBOUND_POLICY, "approved"),
        ("budget", "approved"),
    ]
    budget = next(e for e in entries_a if e.jti == events_a[1]["ect.jti"])
    assert budget.direction == "minted"
    events_b = checkpoints(server_b)
    assert [(e["ect.policy"], e["ect.decision"]) for e in events_b] == [
        (INBOUND_POLICY, "approved"),
        ("classification", "rejected"),
    ]
    assert all(e["ect.enforcer"] == mesh["b"].id for e in events_b)

    # Every ledger entry of both agents names the trace; the chains verify.
    for runtime, entries in ((runtime_a, entries_a), (runtime_b, entries_b)):
        assert {e.trace_id for e in entries} == {trace_id}
        assert verify_chain(entries, runtime.ledger.head()).ok
        runtime.close()


def test_no_span_no_trace_id(mesh: Mesh) -> None:
    """Without a current span nothing is tagged and entries have no trace id."""
    runtime = Runtime(mesh.settings("a", "http://a.test"), ledger=MemoryLedger())
    task = runtime.begin_root("POST /x")
    assert task.trace_id is None
    task.checkpoint("p", "approved", {})
    task.flush()
    assert [e.trace_id for e in runtime.ledger.entries()] == [None]
    runtime.close()


def test_a_current_span_tags_entries_without_an_sdk_middleware(
    mesh: Mesh, spans: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    """Any current span will do: the application's own."""
    provider, exporter = spans
    tracer = provider.get_tracer("app")
    runtime = Runtime(mesh.settings("a", "http://a.test"), ledger=MemoryLedger())
    with tracer.start_as_current_span("job") as span:
        task = runtime.begin_root("job")
        task.checkpoint("p", "rejected", {"n": 1})
    task.flush()
    (finished,) = exporter.get_finished_spans()
    assert task.trace_id == f"{span.get_span_context().trace_id:032x}"
    assert (finished.attributes or {})["ect.task_id"] == task.task_id
    (event,) = finished.events
    assert event.name == "ect.checkpoint"
    assert dict(event.attributes or {})["ect.decision"] == "rejected"
    assert [e.trace_id for e in runtime.ledger.entries()] == [task.trace_id]
    runtime.close()


def test_the_request_hook_reads_the_sent_ect(mesh: Mesh) -> None:
    ect = mesh.ect("a", mesh["b"].id)
    headers = httpx.Headers({"Execution-Context": ect.token})
    assert otel._sent_jti(headers) == ect.jti
    assert otel._sent_jti([(b"execution-context", ect.token.encode())]) == ect.jti
    assert otel._sent_jti(httpx.Headers({})) is None
    assert otel._sent_jti(httpx.Headers({"Execution-Context": "not a token"})) is None


def test_without_opentelemetry_in_use_nothing_of_it_is_imported(mesh: Mesh) -> None:
    """The bridge never imports OpenTelemetry: a service that does not use it (even with it
    installed) handles requests without loading a module of it."""
    script = f"""
import sys
from ect_middleware import ECTWSGIMiddleware
from ect_middleware.testing import DevTrust, client
from ect_middleware.testing import ServiceUnderTest
trust = DevTrust({str(mesh.identities.folder / "no-otel")!r})
service = ServiceUnderTest(trust.identity("spiffe://example.test/service"))
caller = trust.identity("spiffe://example.test/caller")

def app(environ, start_response):
    start_response("200 OK", [("content-type", "text/plain")])
    return [b"ok"]

wrapped = ECTWSGIMiddleware(app, runtime=service.runtime)
with client(wrapped, caller, service.workload_id) as c:
    assert c.get("/").status_code == 200
assert len(service.entries()) == 2, service.entries()
loaded = sorted(m for m in sys.modules if m.startswith("opentelemetry"))
assert not loaded, loaded
"""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr


def test_fastapis_own_server_span_carries_the_execution_context(
    mesh: Mesh, spans: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    """FastAPI releases that trace requests themselves (a tracer provider set) need no
    OpenTelemetry ASGI middleware: their server span is current when ours runs."""
    import asyncio

    from fastapi import FastAPI

    provider, exporter = spans
    runtime = Runtime(
        mesh.settings("a", "http://a.test", entry_paths=("/start",)), ledger=MemoryLedger()
    )
    app = FastAPI(telemetry={"tracer_provider": provider})

    @app.post("/start")
    async def start() -> dict[str, str]:
        checkpoint("budget", "approved")
        return {}

    instrument_app(app, runtime=runtime)

    async def call() -> int:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://a.test") as client:
            return (await client.post("/start")).status_code

    assert asyncio.run(call()) == 200
    (server,) = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
    attributes = dict(server.attributes or {})
    assert attributes["ect.workflow_id"] == next(iter(runtime.ledger.entries())).wid
    assert "ect.task_id" in attributes
    trace_id = f"{server.get_span_context().trace_id:032x}"
    assert {e.trace_id for e in runtime.ledger.entries()} == {trace_id}
    runtime.close()

"""The MCP example server (``examples/mcp_server``, the official ``mcp`` SDK) with the
middleware, driven by the SDK's own streamable-HTTP client over real loopback servers.

Agent a (org A) is a client: it starts a workflow and calls tools on b (org B, the MCP
server) through ``httpx2`` with ``AsyncECTTransport``. b's ``research`` tool calls c (org A,
the FastAPI example), so a tool call is two hops. Every agent has its own SQLite ledger.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import Context, MCPServer

from ect_middleware import ECTMiddleware, current_context, start_workflow
from ect_middleware.propagation.httpx2_transport import AsyncECTTransport
from ect_middleware.tokens.jws import read_payload

from ..support.examples import example_env, load_example, load_example_app
from ..support.mesh import Mesh
from ..support.servers import free_port, uvicorn_server
from ._support import (
    by_issuer,
    client_settings,
    entries,
    named,
    sqlite_url,
    verify_with_cli,
    workflow,
)

TOKEN_HEADERS = ("workload-identity-token", "workload-proof-token", "execution-context")


@dataclass
class Agents:
    mesh: Mesh
    mcp_url: str  # b's MCP endpoint
    agent_url: str  # c
    ledgers: dict[str, Path]


@dataclass
class Exchange:
    method: str
    status: int
    content_type: str
    sent: dict[str, str]  # the request's headers, lower-case names
    received: dict[str, str]
    body: bytes = b""


@dataclass
class Recorder:
    """Every HTTP exchange the MCP client made, as an httpx2 response hook saw it."""

    exchanges: list[Exchange] = field(default_factory=list)

    async def __call__(self, response: httpx2.Response) -> None:
        body = b""
        if response.headers.get("content-type", "").startswith("application/problem+json"):
            body = await response.aread()
        self.exchanges.append(
            Exchange(
                response.request.method,
                response.status_code,
                response.headers.get("content-type", ""),
                {k.lower(): v for k, v in response.request.headers.items()},
                {k.lower(): v for k, v in response.headers.items()},
                body,
            )
        )


@pytest.fixture
def agents(mesh: Mesh, tmp_path: Path) -> Iterator[Agents]:
    port_b, port_c = free_port(), free_port()
    url_b, url_c = f"http://127.0.0.1:{port_b}", f"http://127.0.0.1:{port_c}"
    ledgers = {name: tmp_path / f"{name}.db" for name in ("a", "b", "c")}
    env_b = example_env(
        mesh,
        "b",
        url_b,
        {url_c: "c"},
        sqlite_url(ledgers["b"]),
        AGENT_MAX_CLASSIFICATION="internal",
    )
    env_c = example_env(mesh, "c", url_c, {}, sqlite_url(ledgers["c"]))
    app_b = load_example_app("mcp_server", env_b)
    app_c = load_example("fastapi", env_c)
    with uvicorn_server(app_c, port_c), uvicorn_server(app_b, port_b, lifespan="on"):
        yield Agents(mesh, f"{url_b}/mcp", url_c, ledgers)


def _http(recorder: Recorder, *, tokens: bool = True) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(
        transport=AsyncECTTransport() if tokens else None,
        timeout=httpx2.Timeout(30.0, read=300.0),
        event_hooks={"response": [recorder]},
    )


def _leaves(error: BaseException) -> list[type[BaseException]]:
    """The exception types inside ``error``'s (nested) groups."""
    inner = getattr(error, "exceptions", None)  # an ExceptionGroup (3.11+ or backport)
    if isinstance(inner, tuple):
        return [t for e in inner for t in _leaves(e)]
    return [type(error)]


def _result(call: Any) -> dict[str, Any]:
    assert not call.is_error, call
    content = call.structured_content
    assert isinstance(content, dict)
    return content


def test_initialize_list_and_call_tools_form_one_verified_dag(agents: Agents) -> None:
    recorder = Recorder()
    progress: list[str | None] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append(message)

    async def session() -> tuple[str, list[str], dict[str, Any], dict[str, Any], dict[str, Any]]:
        settings = client_settings(
            agents.mesh, "a", {agents.mcp_url: "b"}, sqlite_url(agents.ledgers["a"])
        )
        async with (
            _http(recorder) as http,
            start_workflow("assistant: plan a trip", settings) as ctx,
            Client(
                streamable_http_client(agents.mcp_url, http_client=http),
                mode="legacy",
            ) as mcp,
        ):
            assert ctx is not None
            tools = await mcp.list_tools()
            research = _result(
                await mcp.call_tool("research", {"url": f"{agents.agent_url}/context"})
            )
            review = _result(
                await mcp.call_tool(
                    "review", {"classification": "internal"}, progress_callback=on_progress
                )
            )
            whoami = _result(await mcp.call_tool("whoami", {}))
            return ctx.workflow_id, [t.name for t in tools.tools], research, review, whoami

    wid, tools, research, review, whoami = asyncio.run(session())
    a, b, c = (agents.mesh[n].id for n in ("a", "b", "c"))

    # The SDK's client worked through the middleware under ECT_MODE=enforce.
    assert {"research", "review", "whoami"} <= set(tools)
    assert research["status"] == 200
    assert research["downstream"]["caller"] == b  # the second hop was verified at c
    assert research["downstream"]["wid"] == wid
    assert review["decision"] == "approved"
    assert progress == ["data-classification approved for internal"]  # a notification
    assert whoami["caller"] == a
    assert whoami["wid"] == wid
    assert whoami["exec_act"] == "tools/call whoami"

    # The handshake: initialize, its notification, the GET stream, the tools, DELETE, each
    # a request of its own with fresh tokens; the session id travels on every later one.
    # (The GET stream opens while the handshake's notification is sent: only initialize's
    # place in the order is certain.)
    methods = [x.method for x in recorder.exchanges]
    assert methods[0] == "POST"
    assert sorted(methods) == ["DELETE", "GET"] + ["POST"] * 6  # + 1 list, 3 calls
    for exchange in recorder.exchanges:
        assert all(h in exchange.sent for h in TOKEN_HEADERS), exchange
        assert exchange.status in (200, 202), exchange
        assert "execution-context" in exchange.received  # b's completion came back
    proofs = [x.sent["workload-proof-token"] for x in recorder.exchanges]
    ects = [x.sent["execution-context"] for x in recorder.exchanges]
    assert len(set(proofs)) == len(proofs)
    assert len(set(ects)) == len(ects)
    session_id = recorder.exchanges[0].received["mcp-session-id"]
    assert all(x.sent.get("mcp-session-id") == session_id for x in recorder.exchanges[1:])
    streams = [x for x in recorder.exchanges if x.content_type.startswith("text/event-stream")]
    assert streams  # the tool calls' answers (and the GET stream) were SSE

    # The ledgers: intact, and together one workflow whose tasks are named by the calls.
    verify_with_cli(*agents.ledgers.values())
    flow = workflow(wid, *agents.ledgers.values())
    assert flow.unresolved == []
    for name in (
        "initialize",
        "notifications/initialized",
        "tools/list",
        "tools/call research",
        "tools/call review",
        "tools/call whoami",
        "GET /mcp",
        "DELETE /mcp",
    ):
        completions = [t for t in by_issuer(named(flow, name), b) if t.aud == (a,)]
        assert len(completions) == 1, name
        assert completions[0].http_status in (200, 202)
        assert completions[0].decision == "approved"  # the middleware's inbound policy

    # Two hops: b's call to c is named after the tool, descends from a's request to b, and
    # c's completion descends from it.
    # (b's completion went out with the SSE stream's headers, which the SDK sends while
    # the tool runs: whether c's answer is among its parents depends on scheduling.)
    (research_done,) = [
        t for t in by_issuer(named(flow, "tools/call research"), b) if t.aud == (a,)
    ]
    (request_to_b,) = [p for p in research_done.par if flow.tasks[p].iss == a]
    (call_to_c,) = [t for t in by_issuer(named(flow, "tools/call research"), b) if t.aud == (c,)]
    assert call_to_c.par == (request_to_b,)
    (done_at_c,) = by_issuer(flow.ordered(), c)
    assert done_at_c.par == (call_to_c.jti,)
    assert done_at_c.exec_act == "GET /context"

    # The policy checkpoint the review tool made is a signed node of its own.
    (check,) = [t for t in flow.ordered() if t.policy == "data-classification"]
    assert check.iss == b
    assert check.decision == "approved"
    assert check.exec_act == "tools/call review"
    assert check.jti == review["checkpoint"]

    # The workflow's root: a's completion, after every answer it received (fan-in).
    (root,) = [
        t
        for t in by_issuer(flow.ordered(), a)
        if t.jti not in {p for t2 in flow.ordered() for p in t2.par}
    ]
    assert root.exec_act == "assistant: plan a trip"
    assert root.claims["ext"] == {"outcome": "completed"}
    answered = {t.jti for t in by_issuer(flow.ordered(), b) if t.aud == (a,)}
    assert answered <= set(root.par)


def test_a_call_without_tokens_is_refused_and_the_client_raises(agents: Agents) -> None:
    recorder = Recorder()

    async def session() -> None:
        async with (
            _http(recorder, tokens=False) as http,
            Client(streamable_http_client(agents.mcp_url, http_client=http), mode="legacy"),
        ):
            pass

    with pytest.raises(BaseException) as raised:  # noqa: PT011 (anyio may group it)
        asyncio.run(session())
    assert _leaves(raised.value) == [MCPError], raised.value
    (refused,) = recorder.exchanges
    assert refused.method == "POST"
    assert refused.status == 400
    assert refused.content_type == "application/problem+json"
    assert json.loads(refused.body)["code"] == "wit.missing"
    assert not any(h in refused.sent for h in TOKEN_HEADERS)
    # b recorded its signed refusal, and nothing reached a tool.
    verify_with_cli(agents.ledgers["b"])
    (rejection,) = entries(agents.ledgers["b"])
    assert rejection.direction == "minted"
    assert not agents.ledgers["c"].exists() or entries(agents.ledgers["c"]) == []


def test_the_sessionless_2026_protocol_is_named_and_verified_too(agents: Agents) -> None:
    """``mode="auto"`` probes ``server/discover`` and speaks the 2026-07-28 protocol: no
    initialize, no session, every call a plain JSON answer."""
    recorder = Recorder()

    async def session() -> tuple[str, str, dict[str, Any]]:
        settings = client_settings(
            agents.mesh, "a", {agents.mcp_url: "b"}, sqlite_url(agents.ledgers["a"])
        )
        async with (
            _http(recorder) as http,
            start_workflow("assistant: who am I", settings) as ctx,
            Client(streamable_http_client(agents.mcp_url, http_client=http)) as mcp,
        ):
            assert ctx is not None
            whoami = _result(await mcp.call_tool("whoami", {}))
            return ctx.workflow_id, mcp.protocol_version, whoami

    wid, version, whoami = asyncio.run(session())
    assert version == "2026-07-28"
    assert whoami["caller"] == agents.mesh["a"].id
    assert whoami["exec_act"] == "tools/call whoami"
    assert all(all(h in x.sent for h in TOKEN_HEADERS) for x in recorder.exchanges)
    assert all(x.status == 200 for x in recorder.exchanges)
    verify_with_cli(agents.ledgers["a"], agents.ledgers["b"])
    flow = workflow(wid, agents.ledgers["a"], agents.ledgers["b"])
    b = agents.mesh["b"].id
    assert by_issuer(named(flow, "server/discover"), b)
    assert by_issuer(named(flow, "tools/call whoami"), b)
    assert not named(flow, "POST /mcp")


def test_a_notification_on_the_get_stream_reaches_the_client_under_enforce(
    mesh: Mesh, tmp_path: Path
) -> None:
    """A server-initiated message, unrelated to any call, travels on the session's GET
    stream: a request of its own, verified, recorded and kept open by the middleware."""
    server = MCPServer("announcer")

    @server.tool()
    async def announce(ctx: Context) -> str:
        await ctx.session.send_tool_list_changed()  # to the session, not to this call
        return "announced"

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = server.streamable_http_app()
    settings = mesh.settings("b", url, ledger=sqlite_url(tmp_path / "b.db"))
    app.add_middleware(ECTMiddleware, settings=settings, jsonrpc_paths=("/mcp",))
    recorder = Recorder()

    async def session() -> list[str]:
        stream_open = asyncio.Event()
        notified = asyncio.Event()
        received: list[str] = []

        async def watch(response: httpx2.Response) -> None:
            if response.request.method == "GET" and response.status_code == 200:
                stream_open.set()

        async def on_message(message: Any) -> None:
            received.append(type(message).__name__)
            notified.set()

        client_ledger = sqlite_url(tmp_path / "a.db")
        async with (
            httpx2.AsyncClient(
                transport=AsyncECTTransport(),
                timeout=httpx2.Timeout(30.0, read=300.0),
                event_hooks={"response": [recorder, watch]},
            ) as http,
            start_workflow("listen", client_settings(mesh, "a", {url: "b"}, client_ledger)),
            Client(
                streamable_http_client(f"{url}/mcp", http_client=http),
                mode="legacy",
                message_handler=on_message,
            ) as mcp,
        ):
            await asyncio.wait_for(stream_open.wait(), 30)
            assert _text(await mcp.call_tool("announce", {})) == "announced"
            await asyncio.wait_for(notified.wait(), 30)
            return received

    with uvicorn_server(app, port, lifespan="on"):
        received = asyncio.run(session())
    assert "ToolListChangedNotification" in received
    (stream,) = [x for x in recorder.exchanges if x.method == "GET"]
    assert stream.content_type.startswith("text/event-stream")
    assert all(h in stream.sent for h in TOKEN_HEADERS)
    verify_with_cli(tmp_path / "a.db", tmp_path / "b.db")
    recorded = [read_payload(e.ect) or {} for e in entries(tmp_path / "b.db")]
    (opened,) = [c for c in recorded if c["exec_act"] == "GET /mcp"]
    assert opened["ext"]["http_status"] == 200
    assert opened["aud"] == mesh["a"].id  # the stream's completion, returned to a


def _text(call: Any) -> str:
    assert not call.is_error, call
    (block,) = call.content
    return str(block.text)


def test_with_json_answers_a_name_the_tool_sets_reaches_its_completion(
    mesh: Mesh, tmp_path: Path
) -> None:
    """``json_response=True``: the answer (and the completion ECT) goes out after the tool
    has run, so a name the tool gives its task is the completion's; with SSE answers the
    completion leaves first and carries the JSON-RPC name (the tests above)."""
    server = MCPServer("renamer")

    @server.tool()
    async def lookup(city: str) -> str:
        ect = current_context()
        assert ect is not None
        assert ect.exec_act == "tools/call lookup"
        ect.exec_act = f"lookup weather in {city}"
        return "sunny"

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = server.streamable_http_app(json_response=True)
    settings = mesh.settings("b", url, ledger=sqlite_url(tmp_path / "b.db"))
    app.add_middleware(ECTMiddleware, settings=settings, jsonrpc_paths=("/mcp",))
    client_ledger = sqlite_url(tmp_path / "a.db")

    async def session() -> str:
        async with (
            _http(Recorder()) as http,
            start_workflow("ask", client_settings(mesh, "a", {url: "b"}, client_ledger)) as ctx,
            Client(streamable_http_client(f"{url}/mcp", http_client=http), mode="legacy") as mcp,
        ):
            assert ctx is not None
            assert _text(await mcp.call_tool("lookup", {"city": "Oslo"})) == "sunny"
            return ctx.workflow_id

    with uvicorn_server(app, port, lifespan="on"):
        wid = asyncio.run(session())
    flow = workflow(wid, tmp_path / "a.db", tmp_path / "b.db")
    (done,) = by_issuer(named(flow, "lookup weather in Oslo"), mesh["b"].id)
    assert done.aud == (mesh["a"].id,)
    assert done.http_status == 200
    assert not named(flow, "tools/call lookup")

"""The A2A example agent (``examples/a2a_agent``, ``a2a-sdk`` 1.x) with the middleware,
called by the SDK's own client through ``AsyncECTTransport`` over real loopback servers.

Agent a (org A) starts a workflow and sends b (org B, the A2A agent) a streaming message;
b asks c (org A, the FastAPI example), so the task is two hops.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from a2a.client import A2ACardResolver, A2AClientError, ClientConfig, ClientFactory
from a2a.helpers import get_artifact_text, new_message, new_text_part
from a2a.types import GetTaskRequest, Role, SendMessageRequest, TaskState
from a2a.utils.constants import AGENT_CARD_WELL_KNOWN_PATH

from ect_middleware import start_workflow
from ect_middleware.propagation.httpx_transport import AsyncECTTransport, ECTTransport

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


@dataclass
class Agents:
    mesh: Mesh
    agent_url: str  # b, the A2A agent
    peer_url: str  # c
    ledgers: dict[str, Path]


@pytest.fixture
def agents(mesh: Mesh, tmp_path: Path) -> Iterator[Agents]:
    port_b, port_c = free_port(), free_port()
    url_b, url_c = f"http://127.0.0.1:{port_b}", f"http://127.0.0.1:{port_c}"
    ledgers = {name: tmp_path / f"{name}.db" for name in ("a", "b", "c")}
    env_b = example_env(mesh, "b", url_b, {url_c: "c"}, sqlite_url(ledgers["b"]))
    env_c = example_env(mesh, "c", url_c, {}, sqlite_url(ledgers["c"]))
    app_b = load_example_app("a2a_agent", env_b)
    app_c = load_example("fastapi", env_c)
    with uvicorn_server(app_c, port_c), uvicorn_server(app_b, port_b):
        yield Agents(mesh, url_b, url_c, ledgers)


def _message(text: str) -> SendMessageRequest:
    return SendMessageRequest(message=new_message([new_text_part(text)], role=Role.ROLE_USER))


def test_a_streamed_message_and_a_task_lookup_form_one_verified_dag(agents: Agents) -> None:
    settings = client_settings(
        agents.mesh, "a", {agents.agent_url: "b"}, sqlite_url(agents.ledgers["a"])
    )
    question = f"{agents.peer_url}/context"

    async def conversation() -> tuple[str, list[str], str, int]:
        async with httpx.AsyncClient(transport=AsyncECTTransport(), timeout=30.0) as http:
            # Discovery needs no tokens (outside a workflow none are sent, and b lets the
            # card's path through).
            card = await A2ACardResolver(http, agents.agent_url).get_agent_card()
            factory = ClientFactory(ClientConfig(httpx_client=http, streaming=True))
            async with start_workflow("assistant: ask around", settings) as ctx:
                assert ctx is not None
                client = factory.create(card)
                kinds: list[str] = []
                answer = ""
                task_id = ""
                async for event in client.send_message(_message(question)):
                    kind = event.WhichOneof("payload")
                    assert kind is not None
                    kinds.append(kind)
                    if kind == "task":
                        task_id = event.task.id
                    if kind == "artifact_update":
                        answer = get_artifact_text(event.artifact_update.artifact)
                task = await client.get_task(GetTaskRequest(id=task_id))
                await client.close()
                return ctx.workflow_id, kinds, answer, task.status.state

    wid, kinds, answer, state = asyncio.run(conversation())
    a, b, c = (agents.mesh[n].id for n in ("a", "b", "c"))

    assert kinds[0] == "task"
    assert "artifact_update" in kinds
    assert kinds[-1] == "status_update"
    assert answer.startswith(f"{question} answered 200 to our ECT ")
    assert state == TaskState.TASK_STATE_COMPLETED

    verify_with_cli(*agents.ledgers.values())
    flow = workflow(wid, *agents.ledgers.values())
    assert flow.unresolved == []
    # b's tasks are named by the A2A method, not by the route.
    (streamed,) = [t for t in by_issuer(named(flow, "SendStreamingMessage"), b) if t.aud == (a,)]
    assert streamed.http_status == 200
    (looked_up,) = [t for t in by_issuer(named(flow, "GetTask"), b) if t.aud == (a,)]
    assert looked_up.http_status == 200
    assert not named(flow, "POST /a2a")
    # Two hops: b's call to c descends from a's request, c's completion from that call.
    # (b's completion went out with the stream's first bytes: whether the work it had done
    # by then is among its parents depends on scheduling, so only a's request is asserted.)
    (request_to_b,) = [p for p in streamed.par if flow.tasks[p].iss == a]
    (call_to_c,) = [t for t in by_issuer(flow.ordered(), b) if t.aud == (c,)]
    assert call_to_c.exec_act == "SendStreamingMessage"
    assert request_to_b in call_to_c.par
    (done_at_c,) = by_issuer(flow.ordered(), c)
    assert done_at_c.par == (call_to_c.jti,)
    # The agent's checkpoint came before its call: the call descends from it too.
    (check,) = [t for t in flow.ordered() if t.policy == "ask-known-peers"]
    assert check.decision == "approved"
    assert check.jti in call_to_c.par
    # The card fetch left no trace: the excluded path is not a task.
    assert all(AGENT_CARD_WELL_KNOWN_PATH not in t.exec_act for t in flow.ordered())


def test_a_message_without_tokens_is_refused_and_the_card_is_still_served(agents: Agents) -> None:
    async def conversation() -> None:
        async with httpx.AsyncClient(timeout=30.0) as http:
            card = await A2ACardResolver(http, agents.agent_url).get_agent_card()
            client = ClientFactory(ClientConfig(httpx_client=http, streaming=True)).create(card)
            async for _ in client.send_message(_message("hello")):
                pytest.fail("a message without tokens was answered")

    with pytest.raises(A2AClientError):
        asyncio.run(conversation())
    refused = httpx.post(
        f"{agents.agent_url}/a2a",
        json={"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": "x"}},
    )
    assert refused.status_code == 400
    assert refused.headers["content-type"] == "application/problem+json"
    assert json.loads(refused.content)["code"] == "wit.missing"
    assert httpx.get(agents.agent_url + AGENT_CARD_WELL_KNOWN_PATH).status_code == 200
    # b signed its two refusals; nothing reached c.
    verify_with_cli(agents.ledgers["b"])
    rejections = entries(agents.ledgers["b"])
    assert len(rejections) == 2
    assert all(e.direction == "minted" for e in rejections)
    assert not agents.ledgers["c"].exists() or entries(agents.ledgers["c"]) == []


def test_a_0_3_client_is_named_by_its_method_names(agents: Agents) -> None:
    """The 0.3 protocol's JSON-RPC methods (``message/send``, ``tasks/get``), sent as plain
    JSON-RPC through the instrumented httpx client, name their tasks as they are."""
    settings = client_settings(
        agents.mesh, "a", {agents.agent_url: "b"}, sqlite_url(agents.ledgers["a"])
    )
    send = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "message/send",
        "params": {
            "message": {
                "role": "user",
                "parts": [{"kind": "text", "text": "hello"}],
                "messageId": "9f0c5c9e-0000-4000-8000-000000000001",
                "kind": "message",
            }
        },
    }
    headers = {"A2A-Version": "0.3"}
    rpc = f"{agents.agent_url}/a2a"
    with (
        start_workflow("assistant: old client", settings) as ctx,
        httpx.Client(transport=ECTTransport(), headers=headers, timeout=30.0) as http,
    ):
        assert ctx is not None
        sent = http.post(rpc, json=send).json()
        task_id = sent["result"]["id"]
        got = http.post(
            rpc,
            json={"jsonrpc": "2.0", "id": 2, "method": "tasks/get", "params": {"id": task_id}},
        ).json()
    assert sent["result"]["status"]["state"] == "completed"
    assert got["result"]["id"] == task_id
    flow = workflow(ctx.workflow_id, agents.ledgers["a"], agents.ledgers["b"])
    b = agents.mesh["b"].id
    assert by_issuer(named(flow, "message/send"), b)
    assert by_issuer(named(flow, "tasks/get"), b)

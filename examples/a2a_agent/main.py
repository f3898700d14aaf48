"""An A2A agent on ``a2a-sdk`` 1.x (JSON-RPC at ``/a2a``, streaming) whose tasks are
verified, recorded and propagated as ECTs.

The integration is the ``add_middleware`` line plus the ECT_* environment variables.
``jsonrpc_paths`` names each task after the A2A method it handles (``SendMessage``,
``SendStreamingMessage``, ``GetTask``; ``message/send``, ``tasks/get`` from 0.3 clients)
instead of ``POST /a2a``; ``exclude_paths`` leaves
the agent card reachable without tokens, so that clients can discover the agent (set
ECT_EXCLUDE_PATHS instead and list the card's path in it, if you configure it there).
Run: ``uvicorn main:app`` from this folder; the card advertises the first ECT_AUDIENCE URL.
"""

from __future__ import annotations

import os

import httpx
from a2a.helpers import new_task_from_user_message, new_text_part
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes
from a2a.server.tasks import InMemoryTaskStore, TaskUpdater
from a2a.types import AgentCapabilities, AgentCard, AgentInterface, AgentSkill
from a2a.utils.constants import AGENT_CARD_WELL_KNOWN_PATH
from starlette.applications import Starlette

from ect_middleware import ECTMiddleware, checkpoint, current_context, sent_task_id
from ect_middleware.propagation.httpx_transport import AsyncECTTransport

PUBLIC_URL = os.environ.get("ECT_AUDIENCE", "http://127.0.0.1:8000").split(",")[0].strip()
RPC_PATH = "/a2a"

# Calls to the agents in ECT_PEERS carry this hop's WIT, WPT and ECT.
client = httpx.AsyncClient(transport=AsyncECTTransport(), timeout=10.0)


class ResearchAgent(AgentExecutor):
    """Answers a message: the URL of a peer (ECT_PEERS) is an agent to ask (GET), anything
    else is echoed. The task streams its progress: submitted, working, an artifact,
    completed."""

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        assert context.message is not None
        task = context.current_task or new_task_from_user_message(context.message)
        await event_queue.enqueue_event(task)
        updater = TaskUpdater(event_queue, task.id, task.context_id)
        await updater.start_work()
        question = context.get_user_input().strip()
        ect = current_context()
        if question.startswith(("http://", "https://")):
            # A policy checkpoint: this agent asks only the agents it is configured to call.
            known = ect is not None and ect.peer_for(question) is not None
            checkpoint("ask-known-peers", "approved" if known else "rejected", url=question)
            if known:
                response = await client.get(question)
                answer = f"{question} answered {response.status_code}"
                answer += f" to our ECT {sent_task_id(response.request.headers)}"
            else:
                answer = f"{question} is not an agent this one may ask"
        else:
            answer = f"echo: {question}"
        await updater.add_artifact([new_text_part(answer)], name="answer")
        await updater.complete()

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        assert context.task_id is not None
        assert context.context_id is not None
        await TaskUpdater(event_queue, context.task_id, context.context_id).cancel()


card = AgentCard(
    name="ect-middleware example agent (A2A)",
    description="Asks other agents or echoes; every task is recorded as an ECT.",
    version="1.0.0",
    supported_interfaces=[
        AgentInterface(
            url=PUBLIC_URL + RPC_PATH, protocol_binding="JSONRPC", protocol_version="1.0"
        )
    ],
    capabilities=AgentCapabilities(streaming=True),
    default_input_modes=["text/plain"],
    default_output_modes=["text/plain"],
    skills=[
        AgentSkill(
            id="research",
            name="research",
            description="Ask another agent (send its URL) or echo a message",
            tags=["research"],
        )
    ],
)
handler = DefaultRequestHandler(
    agent_executor=ResearchAgent(), task_store=InMemoryTaskStore(), agent_card=card
)
# enable_v0_3_compat: clients of the 0.3 protocol (message/send, tasks/get) are served too.
rpc = create_jsonrpc_routes(handler, RPC_PATH, enable_v0_3_compat=True)
app = Starlette(routes=[*create_agent_card_routes(card), *rpc])
app.add_middleware(
    ECTMiddleware, jsonrpc_paths=(RPC_PATH,), exclude_paths=(AGENT_CARD_WELL_KNOWN_PATH,)
)

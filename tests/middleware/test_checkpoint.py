"""A policy checkpoint is a structlog event with the request's ids, a signed ECT of its own
in the ledger, and a parent of what the request does next."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from ect_middleware import checkpoint
from ect_middleware.tokens.jws import read_payload

from ..support.mesh import Mesh
from ..support.stacks import open_stack


@pytest.fixture
def rendered_logs() -> Iterator[io.StringIO]:
    """An application's own structlog pipeline (JSON lines into a buffer) that merges the
    context variables, as the library asks applications to do."""
    buffer = io.StringIO()
    previous = structlog.get_config()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.PrintLoggerFactory(buffer),
        cache_logger_on_first_use=False,
    )
    try:
        yield buffer
    finally:
        structlog.configure(**previous)


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_checkpoint_is_logged_signed_recorded_and_a_parent(
    kind: str, mesh: Mesh, tmp_path: Path, rendered_logs: io.StringIO
) -> None:
    ledger = f"sqlite:///{tmp_path / 'b.db'}"
    with open_stack(kind, lambda base: mesh.settings("b", base, ledger=ledger)) as stack:
        ect = mesh.ect("a", mesh["b"].id)
        headers = mesh.headers("a", stack.url("/policy"), [ect.token])
        response = stack.client.post("/policy?decision=rejected", headers=headers)
        entries = stack.entries()
    body = response.json()
    completion = read_payload(response.headers["execution-context"]) or {}

    events = [json.loads(line) for line in rendered_logs.getvalue().splitlines()]
    (logged,) = [
        e for e in events if e["event"] == "ect.checkpoint" and e["policy"] == "refund-limit"
    ]
    assert logged.pop("timestamp")
    assert logged == {
        "event": "ect.checkpoint",
        "level": "warning",
        "policy": "refund-limit",
        "decision": "rejected",
        "enforcer": mesh["b"].id,
        "workflow_id": ect.wid,
        "task_id": completion["jti"],
        "caller": mesh["a"].id,
        "checkpoint": body["checkpoint"],
        "amount": 120,
        "limit": 100,
    }
    # The middleware's own decision on the request is a checkpoint too.
    (inbound,) = [e for e in events if e.get("policy") == "ect-middleware/inbound"]
    assert (inbound["decision"], inbound["caller"]) == ("approved", mesh["a"].id)

    recorded = {e.jti: (e, read_payload(e.ect) or {}) for e in entries}
    entry, claims = recorded[body["checkpoint"]]
    assert entry.direction == "minted"
    assert claims["pol"] == "refund-limit"
    assert claims["pol_decision"] == "rejected"
    assert claims["pol_enforcer"] == mesh["b"].id
    assert claims["ext"] == {"amount": 120, "limit": 100}
    assert claims["par"] == [ect.jti]
    assert claims["wid"] == ect.wid
    # Everything after the checkpoint descends from it.
    assert completion["par"] == [ect.jti, body["checkpoint"]]
    assert completion["pol"] == "ect-middleware/inbound"
    # The app's own log lines carry the request's ids through contextvars.
    (done,) = [e for e in events if e["event"] == "ect.request_completed"]
    assert (done["workflow_id"], done["task_id"]) == (ect.wid, completion["jti"])


def test_checkpoint_outside_a_request_is_only_logged() -> None:
    with structlog.testing.capture_logs() as logs:
        assert checkpoint("p", "approved") is None
    assert logs == [
        {
            "event": "ect.checkpoint",
            "log_level": "warning",
            "policy": "p",
            "decision": "approved",
            "outside_request": True,
        }
    ]


def test_checkpoint_needs_policy_and_decision() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        checkpoint("", "approved")

"""The library's events follow the application's logging rules; the library configures
nothing (neither stdlib logging nor structlog) and prints nothing."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from ..support.mesh import Mesh
from ..support.stacks import open_stack


@pytest.fixture
def unconfigured() -> Iterator[None]:
    """structlog as a fresh process has it; the session's configuration afterwards."""
    previous = structlog.get_config()
    structlog.reset_defaults()
    try:
        yield
    finally:
        structlog.configure(**previous)


def _call(mesh: Mesh, stack, path: str = "/context") -> None:  # type: ignore[no-untyped-def]
    ect = mesh.ect("a", mesh["b"].id)
    response = stack.client.get(path, headers=mesh.headers("a", stack.url(path), [ect.token]))
    assert response.status_code == 200


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_an_app_with_stdlib_logging_gets_records_of_logger_ect_middleware(
    kind: str,
    unconfigured: None,
    mesh: Mesh,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.INFO, logger="ect_middleware")
    with open_stack(kind, lambda base: mesh.settings("b", base)) as stack:
        _call(mesh, stack)
        ours = [r for r in caplog.records if r.name == "ect_middleware"]
        (inbound,) = [r for r in ours if r.ect["event"] == "ect.checkpoint"]  # type: ignore[attr-defined]

        # The app's level for our logger applies: nothing at all reaches a handler.
        logging.getLogger("ect_middleware").setLevel(logging.CRITICAL)
        caplog.clear()
        _call(mesh, stack)
        silenced = [r for r in caplog.records if r.name == "ect_middleware"]

    assert not structlog.is_configured()  # the library configured nothing
    assert inbound.levelno == logging.INFO
    assert inbound.ect["policy"] == "ect-middleware/inbound"  # type: ignore[attr-defined]
    assert inbound.ect["workflow_id"]  # type: ignore[attr-defined]
    assert inbound.ect["task_id"]  # type: ignore[attr-defined]
    assert inbound.ect["caller"] == mesh["a"].id  # type: ignore[attr-defined]
    message = inbound.getMessage()
    assert message.startswith("ect.checkpoint ")
    assert "policy=ect-middleware/inbound" in message
    assert "decision=approved" in message
    assert all(r.levelno >= logging.INFO for r in ours)  # debug lines stay below the level
    assert silenced == []
    printed = capsys.readouterr()
    assert "ect.checkpoint" not in printed.out + printed.err


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_an_app_with_structlog_gets_our_events_through_its_processors_with_ids_bound(
    kind: str, unconfigured: None, mesh: Mesh
) -> None:
    buffer = io.StringIO()
    structlog.configure(  # the app's own pipeline, which does not merge context variables
        processors=[structlog.processors.add_log_level, structlog.processors.JSONRenderer()],
        logger_factory=structlog.PrintLoggerFactory(buffer),
    )
    with open_stack(kind, lambda base: mesh.settings("b", base)) as stack:
        _call(mesh, stack)
    events = [json.loads(line) for line in buffer.getvalue().splitlines()]

    assert [(e["event"], e["level"]) for e in events] == [
        ("ect.startup", "info"),  # the effective configuration, when the middleware is built
        ("ect.checkpoint", "info"),
        ("ect.request_completed", "debug"),
    ]
    assert events[0]["workload_id"] == mesh["b"].id
    assert "workflow_id" not in events[0]  # no request then
    workflow = events[1]["workflow_id"]
    for event in events[1:]:
        assert event["workflow_id"] == workflow
        assert event["task_id"]
        assert event["caller"] == mesh["a"].id

"""The structlog configuration the middleware installs when the app has none."""

from __future__ import annotations

import io
import json
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


def test_default_pipeline_logs_checkpoints_and_drops_debug_lines_until_the_app_configures(
    unconfigured: None, mesh: Mesh, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = lambda base: mesh.settings("b", base)  # noqa: E731
    with open_stack("wsgi", settings) as stack:  # the middleware configures structlog here
        _call(mesh, stack)
        ours = [json.loads(line) for line in capsys.readouterr().err.splitlines()]

        # The application configures its own processors later (a startup hook, say).
        buffer = io.StringIO()
        structlog.configure(
            processors=[structlog.processors.add_log_level, structlog.processors.JSONRenderer()],
            logger_factory=structlog.PrintLoggerFactory(buffer),
        )
        _call(mesh, stack)
        theirs = [json.loads(line) for line in buffer.getvalue().splitlines()]

    assert [(e["event"], e["level"]) for e in ours] == [("ect.checkpoint", "info")]
    assert ours[0]["policy"] == "ect-middleware/inbound"
    assert ours[0]["workflow_id"]
    assert ours[0]["timestamp"]
    # Nothing of our filter stays behind: the app's pipeline gets the debug lines too.
    assert [(e["event"], e["level"]) for e in theirs] == [
        ("ect.checkpoint", "info"),
        ("ect.request_completed", "debug"),
    ]

"""A request to a path of any length is answered (a 4xx, or the application's own
response) and leaves its signed record: the ``exec_act`` derived from the path is cut to
the length an ECT may carry, instead of minting failing inside the error path (a 500 and
no record)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ect_middleware.tokens.ect import EXEC_ACT_MAX_CHARS
from ect_middleware.tokens.jws import read_payload

from ..support.mesh import Mesh
from ..support.stacks import Stack, open_stack

LONG = "/" + "x" * 3000
#: Long enough to overflow exec_act, short enough for a WPT's aud (2048 characters).
LONG_VERIFIED = "/" + "x" * 1500


def _records(stack: Stack) -> list[dict[str, Any]]:
    return [read_payload(e.ect) or {} for e in stack.entries() if e.direction == "minted"]


def _assert_one_record(stack: Stack, status: int) -> None:
    records = _records(stack)
    assert len(records) == 1
    exec_act = records[0]["exec_act"]
    assert exec_act.startswith("GET /xxx")
    assert len(exec_act) == EXEC_ACT_MAX_CHARS
    assert records[0]["ext"]["http_status"] == status


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_a_long_path_without_tokens_is_a_400_with_a_record(
    kind: str, mesh: Mesh, ledger_url: str
) -> None:
    with open_stack(kind, lambda base: mesh.settings("b", base, ledger=ledger_url)) as stack:
        response = stack.client.get(LONG)
        assert response.status_code == 400
        assert response.json()["code"] == "wit.missing"
        _assert_one_record(stack, 400)


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_observe_mode_passes_a_long_path_to_the_app_and_records_it(
    kind: str, mesh: Mesh, ledger_url: str
) -> None:
    def settings(base: str) -> Any:
        return mesh.settings("b", base, ledger=ledger_url, mode="observe")

    with open_stack(kind, settings) as stack:
        response = stack.client.get(LONG)
        assert response.status_code == 404  # the application's answer
        _assert_one_record(stack, 404)


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_a_verified_request_to_a_long_path_that_404s_is_recorded(
    kind: str, mesh: Mesh, tmp_path: Path
) -> None:
    ledger = f"sqlite:///{tmp_path / 'b.db'}"
    with open_stack(kind, lambda base: mesh.settings("b", base, ledger=ledger)) as stack:
        url = stack.url(LONG_VERIFIED)
        headers = mesh.headers("a", url, [mesh.ect("a", mesh["b"].id).token])
        response = stack.client.get(LONG_VERIFIED, headers=headers)
        assert response.status_code == 404
        _assert_one_record(stack, 404)
        assert [e.direction for e in stack.entries()] == ["received", "minted"]


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_a_long_entry_path_starts_a_workflow_with_a_record(
    kind: str, mesh: Mesh, ledger_url: str
) -> None:
    def settings(base: str) -> Any:
        return mesh.settings("b", base, ledger=ledger_url, entry_paths=("/",))

    with open_stack(kind, settings) as stack:
        assert stack.client.get(LONG).status_code == 404
        _assert_one_record(stack, 404)

"""``start_workflow``: a workflow that starts in a client, outside any request, with the
same settings as the middleware; its calls to a real peer on loopback carry tokens."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import httpx2
import pytest

import ect_middleware.workflow as workflow_module
from ect_middleware import checkpoint, current_context, instrument, start_workflow, uninstrument
from ect_middleware.propagation.httpx_transport import AsyncECTTransport, ECTTransport
from ect_middleware.tokens.jws import read_payload

from ..support.examples import example_env, load_example
from ..support.mesh import Mesh
from ..support.paths import SRC
from ..support.servers import free_port, uvicorn_server
from ._support import client_settings, entries, sqlite_url, verify_with_cli, workflow


@dataclass
class Peer:
    mesh: Mesh
    url: str
    ledger: Path  # the peer's
    client_ledger: Path

    def settings(self, **overrides: object):  # type: ignore[no-untyped-def]
        settings = client_settings(self.mesh, "a", {self.url: "c"}, sqlite_url(self.client_ledger))
        return settings if not overrides else settings.replace(**overrides)


@pytest.fixture
def peer(mesh: Mesh, tmp_path: Path) -> Iterator[Peer]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    ledger = tmp_path / "c.db"
    app = load_example("fastapi", example_env(mesh, "c", url, {}, sqlite_url(ledger)))
    with uvicorn_server(app, port):
        yield Peer(mesh, url, ledger, tmp_path / "a.db")


def test_a_sync_workflow_calls_a_peer_checkpoints_and_records_its_completion(peer: Peer) -> None:
    assert current_context() is None
    with start_workflow("nightly-report", peer.settings()) as ctx:
        assert ctx is not None
        assert current_context() is ctx
        assert ctx.caller is None
        assert ctx.exec_act == "nightly-report"
        approved = checkpoint("budget", "approved", limit=100)
        with httpx.Client(transport=ECTTransport()) as client:
            answer = client.get(f"{peer.url}/context").json()
    assert current_context() is None
    a, c = peer.mesh["a"].id, peer.mesh["c"].id
    assert answer["caller"] == a  # c verified a's WIT, WPT and ECT (ECT_MODE=enforce)
    assert answer["wid"] == ctx.workflow_id
    completion = ctx.completion
    assert completion is not None
    assert completion.jti == ctx.task_id
    assert completion.exec_act == "nightly-report"
    assert completion.ext == {"outcome": "completed"}

    verify_with_cli(peer.client_ledger, peer.ledger)
    flow = workflow(ctx.workflow_id, peer.client_ledger, peer.ledger)
    assert flow.unresolved == []
    (sent,) = [t for t in flow.ordered() if t.iss == a and t.aud == (c,)]
    assert sent.par == (approved,)  # the checkpoint came first
    (done_at_c,) = [t for t in flow.ordered() if t.iss == c]
    assert done_at_c.par == (sent.jti,)
    # fan-in: the root's completion descends from the checkpoint and c's answer
    assert set(completion.par) == {approved, done_at_c.jti}
    recorded = {(e.jti, e.direction) for e in entries(peer.client_ledger)}
    assert recorded == {
        (approved, "minted"),
        (sent.jti, "minted"),
        (done_at_c.jti, "received"),
        (completion.jti, "minted"),
    }


def test_an_async_workflow_fans_out_and_a_failure_is_its_outcome(peer: Peer) -> None:
    async def run() -> str:
        async with (
            httpx.AsyncClient(transport=AsyncECTTransport()) as client,
            start_workflow("triage", peer.settings()) as ctx,
        ):
            assert ctx is not None
            answers = await asyncio.gather(*(client.get(f"{peer.url}/context") for _ in range(3)))
            assert [r.status_code for r in answers] == [200, 200, 200]
            assert current_context() is ctx  # tasks of the block share its root task
            wid = ctx.workflow_id
            raise LookupError(wid)
        raise AssertionError("unreachable")

    with pytest.raises(LookupError) as raised:
        asyncio.run(run())
    wid = str(raised.value)
    flow = workflow(wid, peer.client_ledger, peer.ledger)
    a, c = peer.mesh["a"].id, peer.mesh["c"].id
    done_at_c = {t.jti for t in flow.ordered() if t.iss == c}
    assert len(done_at_c) == 3
    (root,) = [t for t in flow.ordered() if t.iss == a and t.aud == (a,)]
    assert root.claims["ext"] == {"outcome": "failed"}
    assert set(root.par) == done_at_c  # fan-in of the three answers
    verify_with_cli(peer.client_ledger)


def test_the_environment_configures_it_without_an_audience(
    peer: Peer, monkeypatch: pytest.MonkeyPatch
) -> None:
    wl = peer.mesh["a"]
    env = {
        "ECT_WORKLOAD_ID": wl.id,
        "ECT_KEY_FILE": str(wl.key_file),
        "ECT_WIT_FILE": str(wl.wit_file),
        "ECT_TRUST_BUNDLE": str(peer.mesh.trust_bundle),
        "ECT_PEERS": f'{{"{peer.url}": "{peer.mesh["c"].id}"}}',
        "ECT_LEDGER": sqlite_url(peer.client_ledger),
    }
    for name in [n for n in os.environ if n.startswith("ECT_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(workflow_module, "_default_runtime", None)
    try:
        with start_workflow("from-env") as first, httpx.Client(transport=ECTTransport()) as http:
            assert http.get(f"{peer.url}/context").json()["caller"] == wl.id
        with start_workflow("again") as second:
            pass
        assert first is not None
        assert second is not None
        assert first._task.service is second._task.service  # built once per process
        assert first.workflow_id != second.workflow_id
    finally:
        runtime = workflow_module._default_runtime
        if runtime is not None:
            runtime.close()
    assert {e.wid for e in entries(peer.client_ledger)} == {first.workflow_id, second.workflow_id}


def test_mode_off_opens_nothing_and_sends_no_tokens(peer: Peer) -> None:
    with start_workflow("quiet", peer.settings(), mode="off") as ctx:
        assert ctx is None
        assert current_context() is None
        with httpx.Client(transport=ECTTransport()) as http:
            assert http.get(f"{peer.url}/context").status_code == 400  # c enforces
    assert not peer.client_ledger.exists()


def test_one_instance_opens_one_root_task(peer: Peer) -> None:
    opener = start_workflow("once", peer.settings())
    with opener:
        pass
    with pytest.raises(RuntimeError), opener:
        pass
    with pytest.raises(ValueError):  # noqa: PT011
        start_workflow("")


def test_instrument_covers_httpx2_as_well_as_httpx(peer: Peer) -> None:
    original = httpx2.HTTPTransport.handle_request
    instrument()
    try:
        with (
            start_workflow("both", peer.settings()) as ctx,
            httpx2.Client() as h2,
            httpx.Client() as h1,
        ):
            r2 = h2.get(f"{peer.url}/context")
            r1 = h1.get(f"{peer.url}/context")
    finally:
        uninstrument()
    assert httpx2.HTTPTransport.handle_request is original
    assert r2.json()["caller"] == r1.json()["caller"] == peer.mesh["a"].id
    sent = read_payload(r2.request.headers["execution-context"]) or {}
    assert ctx is not None
    assert sent["wid"] == ctx.workflow_id


def test_importing_the_package_loads_no_client_library() -> None:
    code = (
        "import sys, ect_middleware, ect_middleware.propagation, ect_middleware.workflow;"
        "names = ('httpx', 'httpx2', 'requests', 'mcp', 'a2a');"
        "print(sorted(m for m in names if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(SRC)},
        check=True,
        timeout=60,
    )
    assert done.stdout.strip() == "[]"

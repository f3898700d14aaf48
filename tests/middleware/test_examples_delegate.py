"""The examples' /delegate and /fanout are entry paths an unauthenticated client may call:
they call configured peers only, never a URL of the client's choosing (SSRF)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from ..support.examples import example_env, load_example
from ..support.mesh import Mesh
from ..support.servers import free_port, stranger, uvicorn_server, waitress_server


@pytest.mark.parametrize("framework", ["fastapi", "flask"])
def test_delegate_and_fanout_call_configured_peers_only(
    framework: str, mesh: Mesh, tmp_path: Path
) -> None:
    port_a, port_b = free_port(), free_port()
    url_a, url_b = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"
    env = example_env(
        mesh, "a", url_a, {url_b: "b"}, f"sqlite:///{tmp_path / 'a.db'}",
        ECT_ENTRY_PATHS="/delegate,/fanout",
    )  # fmt: skip
    app_a = load_example(framework, env)
    app_b = load_example("flask", example_env(mesh, "b", url_b, {}, "memory://"))
    serve = uvicorn_server if framework == "fastapi" else waitress_server
    with stranger() as (elsewhere, seen), serve(app_a, port_a), waitress_server(app_b, port_b):
        for job in (
            {"url": f"{elsewhere}/metadata"},
            {"url": f"{url_b}@{elsewhere[7:]}/x"},  # a look-alike of the peer's prefix
        ):
            refused = httpx.post(f"{url_a}/delegate", json=job, timeout=10)
            assert refused.status_code == 400
            assert refused.json()["error"] == "not a configured peer"
        fan = {"calls": [{"url": f"{url_b}/context"}], "then": {"url": f"{elsewhere}/x"}}
        assert httpx.post(f"{url_a}/fanout", json=fan, timeout=10).status_code == 400
        allowed = httpx.post(f"{url_a}/delegate", json={"url": f"{url_b}/context"}, timeout=10)
    assert seen == []  # the stranger was never called
    assert allowed.status_code == 200
    assert allowed.json()["downstream"]["caller"] == mesh["a"].id

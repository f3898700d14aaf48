"""A peer that redirects elsewhere never hands our tokens on: whichever way the hook was
installed (a requests adapter or httpx transport mounted for the peer only, or the global
``instrument()``), sync and async, a redirect to another host arrives there without the
WIT, WPT or ECT that were sent to the peer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import requests

import ect_middleware
from ect_middleware.propagation.httpx_transport import AsyncECTTransport, ECTTransport
from ect_middleware.propagation.requests_adapter import ECTAdapter

from ..support.mesh import Mesh
from ..support.servers import stranger
from .test_outbound import WIMSE, Clients, world


#: Another loopback address: another host, which only the peer's redirect points at.
def _requests_mounted(peer: str) -> Clients:
    session = requests.Session()
    session.mount(peer, ECTAdapter())  # the peer's prefix only
    return Clients(sync=session)


def _httpx_mounted(peer: str) -> Clients:
    return Clients(
        httpx.Client(mounts={peer: ECTTransport()}),
        httpx.AsyncClient(mounts={peer: AsyncECTTransport()}),
    )


def _instrumented(kind: str) -> Callable[[str], Clients]:
    def make(peer: str) -> Clients:
        ect_middleware.instrument()
        if kind == "requests":
            return Clients(sync=requests.Session())
        return Clients(httpx.Client(), httpx.AsyncClient())

    return make


CASES = [
    ("requests-adapter-on-prefix", _requests_mounted, "/call-sync"),
    ("httpx-mounts-sync", _httpx_mounted, "/call-sync"),
    ("httpx-mounts-async", _httpx_mounted, "/call-async"),
    ("instrument-requests", _instrumented("requests"), "/call-sync"),
    ("instrument-httpx-sync", _instrumented("httpx"), "/call-sync"),
    ("instrument-httpx-async", _instrumented("httpx"), "/call-async"),
]


@pytest.mark.parametrize(("hook", "make", "route"), CASES, ids=[c[0] for c in CASES])
def test_a_redirect_to_another_host_carries_none_of_our_tokens(
    hook: str, make: Callable[[str], Clients], route: str, mesh: Mesh, tmp_path: Path
) -> None:
    clients = Clients()
    with stranger() as (elsewhere, seen), world(mesh, tmp_path, clients) as w:
        made = make(w.b)
        clients.sync, clients.asynchronous = made.sync, made.asynchronous
        result = w.call(route, f"{w.b}/redirect?to={elsewhere}/collect", follow="1")
        b_received = [e for e in w.entries("b") if e.direction == "received"]
    assert result["status"] == 200
    assert result["body"] == {"stranger": True}  # the redirect was followed
    assert len(seen) == 1
    assert WIMSE.isdisjoint(seen[0]), f"{hook}: {sorted(WIMSE & seen[0])} reached another host"
    # The peer itself was called with tokens, verified and recorded them.
    assert len(result["minted"]) == 1
    assert [e.jti for e in b_received if e.iss == mesh["a"].id] == result["minted"]

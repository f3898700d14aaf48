"""``ECT_LEDGER_WRITE=background``: the response goes out before its entries are written;
the writer's thread writes them behind it, and closing the runtime writes what is left."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ect_middleware import ECTMiddleware
from ect_middleware.ledger import open_ledger
from ect_middleware.ledger.base import verify_chain
from ect_middleware.runtime import Runtime
from ect_middleware.tokens.jws import read_payload

from ..support.mesh import Mesh

B_URL = "http://b.example"


async def _work(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


def test_entries_are_written_behind_the_response_and_closing_drains_them(
    mesh: Mesh, tmp_path: Path
) -> None:
    path = tmp_path / "b.db"
    settings = mesh.settings("b", B_URL, ledger=f"sqlite:///{path}", ledger_write="background")
    runtime = Runtime(settings)
    app = ECTMiddleware(Starlette(routes=[Route("/work", _work)]), runtime=runtime)
    ects = [mesh.ect("a", mesh["b"].id).token for _ in range(3)]

    async def calls() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=B_URL) as client:
            statuses = []
            for ect in ects:
                headers = mesh.headers("a", B_URL + "/work", [ect])
                statuses.append((await client.get("/work", headers=headers)).status_code)
            return statuses

    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the lock: nothing can be written
    try:
        # answered although not one entry could be written (durable mode would wait)
        assert asyncio.run(calls()) == [200, 200, 200]
        assert other.execute("SELECT count(*) FROM entries").fetchone() == (0,)
    finally:
        other.execute("ROLLBACK")
        other.close()
    runtime.close()  # writes what is queued before it returns

    ledger = open_ledger(f"sqlite:///{path}")
    entries = list(ledger.entries())
    assert [e.direction for e in entries] == ["received", "minted"] * 3
    # each request's entries, in the order the requests were served
    assert [e.jti for e in entries[::2]] == [_jti(t) for t in ects]
    assert verify_chain(ledger.entries(), ledger.head()).ok
    ledger.close()


def _jti(token: str) -> str:
    payload = read_payload(token)
    assert payload is not None
    return str(payload["jti"])

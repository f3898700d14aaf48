"""A FastAPI agent under uvicorn and a Flask agent under waitress call each other over real
sockets with real httpx and requests clients: context, parents and ledgers line up."""

from __future__ import annotations

import httpx

from ect_middleware.audit import build_workflows
from ect_middleware.ledger import open_ledger, verify_chain

from ..support.examples import example_env, load_example
from ..support.mesh import Mesh
from ..support.servers import free_port, uvicorn_server, waitress_server


def test_round_trip_fastapi_to_flask_and_back(mesh: Mesh, tmp_path) -> None:
    port_a, port_b = free_port(), free_port()
    url_a, url_b = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"
    ledger_a, ledger_b = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    app_a = load_example(
        "fastapi",
        example_env(mesh, "a", url_a, {url_b: "b"}, ledger_a, ECT_ENTRY_PATHS="/delegate"),
    )
    app_b = load_example("flask", example_env(mesh, "b", url_b, {url_a: "a"}, ledger_b))

    with uvicorn_server(app_a, port_a), waitress_server(app_b, port_b):
        job = {"url": f"{url_b}/delegate", "body": {"url": f"{url_a}/context"}}
        response = httpx.post(f"{url_a}/delegate", json=job, timeout=10)

    assert response.status_code == 200
    outer = response.json()
    e1 = outer["sent"]  # A -> B
    assert outer["status"] == 200
    middle = outer["downstream"]
    e2 = middle["sent"]  # B -> A
    assert middle["status"] == 200
    inner = middle["downstream"]  # A's /context, called by B
    assert inner["caller"] == mesh["b"].id
    assert inner["parents"] == [e2]
    # The completion ECTs came back with the responses: A's response carries its own.
    assert "execution-context" in response.headers

    ledgers = {}
    for name, url in (("a", ledger_a), ("b", ledger_b)):
        ledger = open_ledger(url)
        entries = list(ledger.entries())
        report = verify_chain(entries, ledger.head())
        ledger.close()
        assert report.ok, report
        ledgers[name] = entries

    (flow,) = build_workflows(ledgers["a"] + ledgers["b"]).values()
    assert inner["wid"] == flow.wid
    by_id = flow.tasks
    assert by_id[e1].par == ()  # a new workflow starts at A's entry path
    assert by_id[e2].par == (e1,)
    # A's completion for /context (called by B) descends from E2; B's completion is a
    # fan-in of what it received (E1) and what came back from A.
    completion_a_context = next(t for t in by_id.values() if t.par == (e2,))
    completion_b = next(t for t in by_id.values() if set(t.par) == {e1, completion_a_context.jti})
    assert completion_b.iss == mesh["b"].id
    assert completion_b in flow.fan_in()
    completion_a = next(t for t in by_id.values() if t.par == (completion_b.jti,))
    assert completion_a.claims["pol_decision"] == "approved"
    assert completion_a.claims["ext"] == {"http_status": 200}
    # Each ledger holds what its service received and minted, and nothing else.
    assert {e.direction for e in ledgers["b"] if e.jti == e1} == {"received"}
    assert {e.direction for e in ledgers["a"] if e.jti == e1} == {"minted"}

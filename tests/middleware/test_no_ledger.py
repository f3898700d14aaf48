"""``ECT_LEDGER=none`` (the draft -01 assurance level L2, PROFILE §7.1): requests are verified
and ECTs propagated through the real middlewares, the DAG rules apply to the ECTs of the
request itself, and nothing is recorded anywhere."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import structlog

from ect_middleware import ConfigurationError, Settings
from ect_middleware.cli import main as ect_main
from ect_middleware.ledger.none import NoLedger
from ect_middleware.limits import Limits
from ect_middleware.runtime import Runtime
from ect_middleware.startup import announce
from ect_middleware.tokens.ect import ECTClaims, mint_ect

from ..support.examples import example_env, load_example
from ..support.mesh import Mesh
from ..support.servers import free_port, uvicorn_server, waitress_server
from ..support.stacks import Stack, open_stack


def _code(response: httpx.Response) -> str | None:
    if response.headers.get("content-type") != "application/problem+json":
        return None
    code: str = response.json()["code"]
    return code


def test_two_services_verify_and_propagate_and_write_nothing(
    mesh: Mesh, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A FastAPI agent under uvicorn and a Flask agent under waitress call each other with
    ``ECT_LEDGER=none``: parents and completions travel as with a ledger, a replayed or
    unsigned request is still refused, and no file appears in their working folder."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # where the default ledger file would be created
    port_a, port_b = free_port(), free_port()
    url_a, url_b = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"
    env_a = example_env(mesh, "a", url_a, {url_b: "b"}, "none", ECT_ENTRY_PATHS="/delegate")
    app_a = load_example("fastapi", env_a)
    app_b = load_example("flask", example_env(mesh, "b", url_b, {url_a: "a"}, "none"))

    with uvicorn_server(app_a, port_a), waitress_server(app_b, port_b):
        job = {"url": f"{url_b}/delegate", "body": {"url": f"{url_a}/context"}}
        response = httpx.post(f"{url_a}/delegate", json=job, timeout=10)
        direct = mesh.headers("a", f"{url_b}/context", [mesh.ect("a", mesh["b"].id).token])
        first = httpx.get(f"{url_b}/context", headers=direct, timeout=10)
        replayed = httpx.get(f"{url_b}/context", headers=direct, timeout=10)
        unsigned = httpx.get(f"{url_b}/context", timeout=10)

    assert response.status_code == 200
    outer = response.json()
    middle = outer["downstream"]  # B, called by A with the ECT A minted (e1)
    inner = middle["downstream"]  # A's /context, called by B with the ECT B minted (e2)
    assert (outer["status"], middle["status"]) == (200, 200)
    assert inner["caller"] == mesh["b"].id
    assert inner["parents"] == [middle["sent"]]
    assert "execution-context" in response.headers  # A's completion ECT came back

    assert first.status_code == 200
    assert (replayed.status_code, _code(replayed)) == (400, "wpt.replayed")
    assert (unsigned.status_code, _code(unsigned)) == (400, "wit.missing")
    assert list(work.iterdir()) == []


def _send(mesh: Mesh, stack: Stack, *ects: ECTClaims) -> httpx.Response:
    url = stack.url("/context")
    return stack.client.get(url, headers=mesh.headers("a", url, [e.token for e in ects]))


@pytest.fixture
def stack(mesh: Mesh) -> Iterator[Stack]:
    """Service b, in-process through the WSGI middleware, with ``ECT_LEDGER=none``."""
    with open_stack("wsgi", lambda base: mesh.settings("b", base, ledger="none")) as opened:
        yield opened


def test_the_dag_rules_apply_to_the_ects_of_the_request(mesh: Mesh, stack: Stack) -> None:
    b, wid, x, y = mesh["b"].id, str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())

    cycle = _send(mesh, stack, mesh.ect("a", b, wid=wid, jti=x, par=[y]),
                  mesh.ect("a", b, wid=wid, jti=y, par=[x]))  # fmt: skip
    assert (cycle.status_code, _code(cycle)) == (400, "dag.cycle")

    parent = mesh.ect("a", b, wid=wid)
    key, issuer = mesh["a"].key, mesh["a"].id
    early = mint_ect(key, iss=issuer, aud=b, par=[parent.jti], exec_act="t", wid=wid,
                     limits=Limits(), clock=lambda: mesh.clock() - 120)  # fmt: skip
    late = _send(mesh, stack, parent, early)
    assert (late.status_code, _code(late)) == (400, "dag.parent_after_child")

    mixed = _send(mesh, stack, mesh.ect("a", b, wid=wid), mesh.ect("a", b))
    assert (mixed.status_code, _code(mixed)) == (400, "ect.wid_mismatch")

    first = mesh.ect("a", b, wid=wid)
    chained = _send(mesh, stack, first, mesh.ect("a", b, wid=wid, par=[first.jti]))
    assert chained.status_code == 200
    assert stack.entries() == []  # nothing was recorded


def test_parents_from_earlier_requests_stay_unknown(mesh: Mesh, stack: Stack) -> None:
    """What L2 gives up (SECURITY.md, "No ledger"): a parent from an earlier request is
    never found, so a cycle closed through it is not seen; a ledger would refuse it."""
    b, wid, p, q = mesh["b"].id, str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    primer = _send(mesh, stack, mesh.ect("a", b, wid=wid, jti=p, par=[q]))
    closing = _send(mesh, stack, mesh.ect("a", b, wid=wid, jti=q, par=[p]))
    assert (primer.status_code, closing.status_code) == (200, 200)
    assert closing.json()["parents"] == [q]
    replayed = _send(mesh, stack, mesh.ect("a", b, wid=wid, jti=p, par=[q]))
    assert (replayed.status_code, _code(replayed)) == (400, "ect.replayed")  # the replay cache


def test_strict_dag_mode_is_refused_naming_both_settings(mesh: Mesh) -> None:
    env = example_env(mesh, "b", "http://b.example", {}, "none")
    for build in (
        lambda: mesh.settings("b", "http://b.example", ledger="none", dag_mode="strict"),
        lambda: Settings.from_env({**env, "ECT_DAG_MODE": "strict"}),
        lambda: mesh.settings("b", "http://b.example", ledger="none").replace(dag_mode="strict"),
    ):
        with pytest.raises(ConfigurationError) as raised:
            build()
        message = str(raised.value)
        assert "ECT_LEDGER=none" in message
        assert "ECT_DAG_MODE=strict" in message
        assert "ECT_DAG_MODE=partial" in message  # what to set instead
    # The default DAG mode is partial, so none alone is accepted.
    assert Settings.from_env(env).dag_mode == "partial"


def test_the_startup_line_shows_ledger_none(mesh: Mesh) -> None:
    settings = mesh.settings("b", "http://b.example", ledger="none")
    with structlog.testing.capture_logs() as logs:
        announce(settings, environ={})
    (startup,) = [e for e in logs if e["event"] == "ect.startup"]
    assert startup["ledger"] == "none"
    runtime = Runtime(settings)
    try:
        assert isinstance(runtime.ledger, NoLedger)
    finally:
        runtime.close()


@pytest.mark.parametrize(
    "argv",
    [
        ["ledger", "verify", "--ledger", "none"],
        ["ledger", "show", "--ledger", "none"],
        ["ledger", "workflows", "--ledger", "none"],
        ["ledger", "copy", "none", "memory://"],
    ],
)
def test_the_ledger_commands_refuse_none(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert ect_main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert (
        captured.err
        == "ect ledger: error: the none ledger records nothing: there is no ledger to read\n"
    )

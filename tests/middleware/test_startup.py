"""A misconfigured service stops at startup with one line naming the setting, under real
servers started as a user would; a well-configured one runs the app's own lifespan and logs
its effective configuration once."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from ect_middleware import ConfigurationError, ECTWSGIMiddleware, Settings
from ect_middleware.startup import effective_configuration, without_credentials, worker_processes

from ..support.examples import example_env
from ..support.mesh import Mesh
from ..support.servers import free_port

ASGI_APP = """
    import contextlib, logging, os
    from fastapi import FastAPI
    from ect_middleware import ECTMiddleware

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")

    @contextlib.asynccontextmanager
    async def lifespan(app):
        with open(os.environ["MARKER"], "w") as marker:
            marker.write("started")
        yield

    app = FastAPI(lifespan=lifespan)
    app.add_middleware(ECTMiddleware)

    @app.get("/health")
    def health():
        return {"ok": True}
"""
WSGI_APP = """
    from flask import Flask
    from ect_middleware import ECTWSGIMiddleware

    app = Flask(__name__)
    app.wsgi_app = ECTWSGIMiddleware(app.wsgi_app)
"""


def _folder(tmp_path: Path, source: str) -> Path:
    (tmp_path / "app.py").write_text(textwrap.dedent(source))
    return tmp_path


def _env(mesh: Mesh, tmp_path: Path, port: int, **changes: str | None) -> dict[str, str]:
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        **example_env(mesh, "b", url, {}, f"sqlite:///{tmp_path / 'ledger.db'}"),
        "MARKER": str(tmp_path / "lifespan-ran"),
        "ECT_EXCLUDE_PATHS": "/health",
    }
    for name in ("WEB_CONCURRENCY", "GUNICORN_CMD_ARGS"):
        env.pop(name, None)
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def _server(kind: str, port: int, tmp_path: Path) -> list[str]:
    bind = f"127.0.0.1:{port}"
    return {
        "uvicorn": [sys.executable, "-m", "uvicorn", "app:app", "--port", str(port)],
        "hypercorn": [sys.executable, "-m", "hypercorn", "app:app", "--bind", bind],
        "gunicorn": [
            *(sys.executable, "-m", "gunicorn", "app:app"),
            *("-k", "uvicorn.workers.UvicornWorker", "--bind", bind),
            *("--control-socket", str(tmp_path / "gunicorn.ctl")),
        ],
        "waitress": [sys.executable, "-m", "waitress", f"--listen={bind}", "app:app"],
    }[kind]


def _run_to_exit(command: list[str], cwd: Path, env: dict[str, str]) -> str:
    """Run a server that must stop by itself; its whole output."""
    try:
        done = subprocess.run(
            command, cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False
        )
    except subprocess.TimeoutExpired as exc:  # still serving: the misconfiguration went unseen
        raise AssertionError(f"the server did not stop: {exc.stderr!r}") from None
    return done.stdout + done.stderr


@pytest.mark.parametrize("server", ["uvicorn", "hypercorn", "gunicorn"])
@pytest.mark.parametrize(
    ("setting", "value", "named"),
    [
        ("ECT_WORKLOAD_ID", None, "missing configuration: ECT_WORKLOAD_ID"),
        ("ECT_LEDGER", "mysql://db/x", "ECT_LEDGER: unsupported ledger scheme 'mysql'"),
    ],
)
def test_a_misconfigured_asgi_service_fails_its_lifespan_startup_naming_the_setting(
    server: str, setting: str, value: str | None, named: str, mesh: Mesh, tmp_path: Path
) -> None:
    port = free_port()
    output = _run_to_exit(
        _server(server, port, tmp_path),
        _folder(tmp_path, ASGI_APP),
        _env(mesh, tmp_path, port, **{setting: value}),
    )
    (line,) = [line for line in output.splitlines() if named in line and "Error" in line][-1:]
    assert "ConfigurationError" in line
    assert "lifespan' protocol appears unsupported" not in output
    assert not (tmp_path / "lifespan-ran").exists()  # the app did not start half-configured


def test_a_misconfigured_wsgi_service_fails_at_import_under_waitress(
    mesh: Mesh, tmp_path: Path
) -> None:
    port = free_port()
    output = _run_to_exit(
        _server("waitress", port, tmp_path),
        _folder(tmp_path, WSGI_APP),
        _env(mesh, tmp_path, port, ECT_REPLAY="redis2://cache:6379/0"),
    )
    assert "ConfigurationError: ECT_REPLAY: unsupported replay cache scheme 'redis2'" in output


def test_flask_fails_when_the_middleware_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    from flask import Flask

    monkeypatch.delenv("ECT_WORKLOAD_ID", raising=False)
    monkeypatch.setenv("ECT_MODE", "enforce")
    app = Flask(__name__)
    with pytest.raises(ConfigurationError, match="ECT_WORKLOAD_ID"):
        app.wsgi_app = ECTWSGIMiddleware(app.wsgi_app)  # type: ignore[method-assign]


def test_a_configured_service_runs_the_apps_lifespan_and_logs_its_configuration_once(
    mesh: Mesh, tmp_path: Path
) -> None:
    port = free_port()
    process = subprocess.Popen(
        [*_server("uvicorn", port, tmp_path), "--workers", "2"],
        cwd=_folder(tmp_path, ASGI_APP),
        env=_env(mesh, tmp_path, port),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, "the server exited"
                time.sleep(0.1)
        else:
            raise AssertionError("the server never answered")
        assert response.json() == {"ok": True}
        assert (tmp_path / "lifespan-ran").read_text() == "started"
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    startup = [line for line in output.splitlines() if "ect.startup" in line]
    assert startup, output
    assert all(line.startswith("INFO ect_middleware ect.startup ") for line in startup)
    assert len(startup) <= 2  # once per worker process at most
    assert "mode=enforce" in startup[0]
    assert f"ledger=sqlite:///{tmp_path / 'ledger.db'}" in startup[0]
    replay = [line for line in output.splitlines() if "ect.replay_per_process" in line]
    assert replay
    assert all(line.startswith("WARNING ") and "workers=2" in line for line in replay)


def test_the_logged_configuration_has_no_credentials(mesh: Mesh) -> None:
    settings = mesh.settings(
        "b",
        "http://b.example",
        ledger="postgresql://audit:s3cret@db:5432/ect?schema=x&password=p4ss",
        replay="redis://:hunter2@cache:6379/0",
    )
    shown = effective_configuration(settings)
    assert shown["ledger"] == "postgresql://audit@db:5432/ect?schema=x&password=%2A%2A%2A"
    assert shown["replay"] == "redis://cache:6379/0"
    assert "s3cret" not in str(shown)
    assert "hunter2" not in str(shown)
    assert shown["audience"] == ["http://b.example"]
    assert without_credentials("memory://") == "memory://"


def test_the_logged_peers_read_as_ect_peers_spells_them(mesh: Mesh) -> None:
    peers = {
        "http://a.example": "spiffe://org-a.example/agent/a",
        "http://c.example": {"workload": "spiffe://org-c.example/c", "ect_draft": "01"},
    }
    shown = effective_configuration(mesh.settings("b", "http://b.example", peers=peers))
    assert shown["peers"] == {
        "http://a.example": "spiffe://org-a.example/agent/a",
        "http://c.example": {
            "workload": "spiffe://org-c.example/c",
            "ect_draft": "01",
            "bind_ect": False,
        },
    }


def test_worker_processes_are_recognised_from_what_servers_are_told() -> None:
    assert worker_processes({}, ["uvicorn", "main:app"]) == 1
    assert worker_processes({"WEB_CONCURRENCY": "4"}, ["gunicorn"]) == 4
    assert worker_processes({}, ["uvicorn", "main:app", "--workers", "3"]) == 3
    assert worker_processes({}, ["gunicorn", "-w5", "app:app"]) == 5
    assert worker_processes({"GUNICORN_CMD_ARGS": "--workers=2 -b :80"}, ["gunicorn"]) == 2
    assert worker_processes({"WEB_CONCURRENCY": "many"}, []) == 1


def test_settings_errors_name_the_setting(mesh: Mesh, monkeypatch: pytest.MonkeyPatch) -> None:
    from ect_middleware.runtime import Runtime

    base = mesh.settings("b", "http://b.example")
    for changes, named in [
        ({"ledger": "mysql://x"}, "ECT_LEDGER: unsupported ledger scheme 'mysql'"),
        ({"replay": "redis2://x"}, "ECT_REPLAY: unsupported replay cache scheme 'redis2'"),
        ({"ledger": "sqlite://host/x.db"}, "ECT_LEDGER: a sqlite ledger URL has no host"),
        ({"key_file": "/nonexistent/key.pem"}, "ECT_KEY_FILE: cannot read key file"),
        ({"trust_bundle": "/nonexistent/b.json"}, "ECT_TRUST_BUNDLE: cannot read trust bundle"),
    ]:
        with pytest.raises(ConfigurationError) as raised:
            Runtime(base.replace(**changes))
        assert str(raised.value).startswith(named), raised.value
    for value in ("soon", "-5", "nan"):
        monkeypatch.setenv("ECT_WIT_EXPIRY_WARNING", value)
        with pytest.raises(ConfigurationError, match="ECT_WIT_EXPIRY_WARNING"):
            Settings.from_env()


def test_audiences_and_paths_are_checked_at_startup(mesh: Mesh) -> None:
    base = mesh.settings("b", "http://b.example")
    for changes, named in [
        ({"audience": ("b.example",)}, "ECT_AUDIENCE: 'b.example' is not a base URL"),
        ({"audience": ("ftp://b.example",)}, "ECT_AUDIENCE: 'ftp://b.example'"),
        ({"audience": ("http://b.example?x=1",)}, "ECT_AUDIENCE: 'http://b.example?x=1'"),
        ({"entry_paths": ("start",)}, "ECT_ENTRY_PATHS: 'start' is not a path"),
        ({"exclude_paths": ("health",)}, "ECT_EXCLUDE_PATHS: 'health' is not a path"),
        ({"jsonrpc_paths": ("mcp",)}, "ECT_JSONRPC_PATHS: 'mcp' is not a path"),
        ({"exclude_paths": (1,)}, "ECT_EXCLUDE_PATHS must be a list of non-empty strings"),
        ({"peers": {"127.0.0.1:8002": "spiffe://a.example/x"}}, "ECT_PEERS: '127.0.0.1:8002'"),
    ]:
        with pytest.raises(ConfigurationError) as raised:
            base.replace(**changes)
        assert str(raised.value).startswith(named), raised.value
    environ = {
        "ECT_WORKLOAD_ID": base.workload_id or "",
        "ECT_KEY_FILE": base.key_file or "",
        "ECT_WIT_FILE": base.wit_file or "",
        "ECT_TRUST_BUNDLE": base.trust_bundle or "",
        "ECT_AUDIENCE": "127.0.0.1:8001",
    }
    with pytest.raises(ConfigurationError, match=r"ECT_AUDIENCE: '127\.0\.0\.1:8001'"):
        Settings.from_env(environ)


def test_a_string_given_in_code_for_a_list_setting_is_read_as_the_environment_reads_it(
    mesh: Mesh,
) -> None:
    """Never as a sequence of characters: the "/" of ``exclude_paths="/health"`` would be a
    prefix excluding every path from verification."""
    settings = mesh.settings("b", "http://b.example").replace(
        exclude_paths="/health, /metrics", entry_paths="/start", audience="https://b.example"
    )
    assert settings.exclude_paths == ("/health", "/metrics")
    assert settings.entry_paths == ("/start",)
    assert settings.audience == ("https://b.example",)
    assert settings.replace(entry_paths=(p for p in ["/a", "/b"])).entry_paths == ("/a", "/b")
    app = ECTWSGIMiddleware(lambda environ, start: [], settings=settings)
    response = httpx.Client(
        transport=httpx.WSGITransport(app=app), base_url="https://b.example"
    ).post("/admin")
    assert response.status_code == 400
    assert response.json()["code"] == "wit.missing"


def test_key_or_token_material_given_instead_of_a_file_path_is_never_shown(mesh: Mesh) -> None:
    """A private key or a WIT pasted into ECT_KEY_FILE / ECT_WIT_FILE (instead of a file's
    path) stops the service without appearing in the error or the startup log."""
    from ect_middleware.runtime import Runtime

    base = mesh.settings("b", "http://b.example")
    pem = Path(base.key_file or "").read_text()
    jwk = '{"kty": "EC", "crv": "P-256", "d": "c2VjcmV0", "x": "eA", "y": "eQ"}'
    wit = mesh["b"].wit
    for changes, secret in [
        ({"key_file": pem}, pem.splitlines()[1]),
        ({"key_file": jwk}, "c2VjcmV0"),
        ({"wit_file": wit}, wit.split(".")[1]),
    ]:
        with pytest.raises(ConfigurationError) as raised:
            Runtime(base.replace(**changes))
        assert secret not in str(raised.value)
        assert "not a file path" in str(raised.value), raised.value
        assert secret not in str(effective_configuration(base.replace(**changes)))


def test_settings_built_by_hand_are_checked_when_the_middleware_is_built(mesh: Mesh) -> None:
    good = mesh.settings("b", "http://b.example")
    by_hand = Settings(**{**good.__dict__, "audience": ("b.example",)})
    with pytest.raises(ConfigurationError, match="ECT_AUDIENCE"):
        ECTWSGIMiddleware(lambda environ, start: [], settings=by_hand)
    with pytest.raises(ConfigurationError, match="missing configuration: ECT_WORKLOAD_ID"):
        ECTWSGIMiddleware(lambda environ, start: [], settings=Settings())

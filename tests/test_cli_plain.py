"""Every ``ect`` command on a plain install (no extras): in a subprocess where the extras'
modules cannot be imported, and, once, in a fresh virtualenv with only the core install."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

import pytest

from ect_middleware.tokens.jws import read_payload

from .support.mesh import Mesh
from .support.paths import ROOT
from .support.stacks import open_stack

EXTRAS_MODULES = (
    "httpx", "httpcore", "requests", "flask", "werkzeug", "fastapi", "uvicorn", "waitress",
    "psycopg", "psycopg_pool", "redis", "opentelemetry", "hypercorn", "gunicorn",
)  # fmt: skip
# None in sys.modules: ``import x`` fails and ``importlib.util.find_spec(x)`` is None, as
# when the package is not installed at all.
PLAIN = (
    "import sys\n"
    f"for name in {EXTRAS_MODULES!r}:\n"
    "    sys.modules[name] = None\n"
    "from ect_middleware.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def plain_ect(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PLAIN, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
    )


def _record(folder: Path, mesh: Mesh, **settings: Any) -> tuple[str, str]:
    """A ledger written by real requests: one approved and one rejected checkpoint."""
    url = f"sqlite:///{folder / 'b.db'}"
    workflows = []
    with open_stack("wsgi", lambda base: mesh.settings("b", base, ledger=url, **settings)) as stack:
        for decision in ("approved", "rejected"):
            ect = mesh.ect("a", mesh["b"].id)
            headers = mesh.headers("a", stack.url("/policy"), [ect.token])
            response = stack.client.post(f"/policy?decision={decision}", headers=headers)
            assert response.status_code == 200
            workflows.append((read_payload(response.headers["execution-context"]) or {})["wid"])
    return url, workflows[1]


@pytest.fixture(scope="module")
def recorded_ledger(tmp_path_factory: pytest.TempPathFactory, mesh: Mesh) -> tuple[str, str]:
    return _record(tmp_path_factory.mktemp("ledger"), mesh)


def test_help_and_every_commands_help_work_without_extras() -> None:
    done = plain_ect("--help")
    assert done.returncode == 0, done.stderr
    for command in ("demo", "dev-identity", "inspect", "ledger"):
        assert command in done.stdout
        sub = plain_ect(command, "--help")
        assert sub.returncode == 0, sub.stderr
    for action in ("verify", "show", "workflows", "graph", "export", "copy"):
        sub = plain_ect("ledger", action, "--help")
        assert sub.returncode == 0, sub.stderr


def test_demo_without_its_extra_says_which_to_install(tmp_path: Path) -> None:
    done = plain_ect("demo", "--out", str(tmp_path / "demo"))
    assert done.returncode == 2
    assert done.stderr.startswith("ect demo: error: needs the demo extra (missing: httpx")
    assert "pip install 'ect-middleware[demo]'" in done.stderr
    assert len(done.stderr.splitlines()) == 1


def test_dev_identity_writes_complete_env_files_a_shell_loads(tmp_path: Path) -> None:
    a, b = "spiffe://org-a.example/agent/a", "spiffe://org-b.example/agent/b"
    out = tmp_path / "ids"
    done = plain_ect(
        "dev-identity", a, b, "--out", str(out),
        "--audience", "http://127.0.0.1:8001", "--audience", "http://127.0.0.1:8002",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "set -a; ." in done.stdout
    env_file = out / "workloads" / "org-a.example-agent-a" / "ect.env"
    loaded = subprocess.run(
        ["sh", "-c", f"set -a; . '{env_file}'; set +a; env"],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": os.environ.get("PATH", "")},
    ).stdout
    env = dict(line.split("=", 1) for line in loaded.splitlines() if line.startswith("ECT_"))
    assert env["ECT_WORKLOAD_ID"] == a
    assert env["ECT_AUDIENCE"] == "http://127.0.0.1:8001"
    assert env["ECT_LEDGER"].startswith("sqlite:////")
    assert json.loads(env["ECT_PEERS"]) == {"http://127.0.0.1:8002": b}
    # The env is complete: the middleware builds from it alone.
    from ect_middleware import Settings
    from ect_middleware.runtime import Runtime

    Runtime(Settings.from_env(env)).close()


def test_dev_identity_audiences_must_match_the_workloads(tmp_path: Path) -> None:
    done = plain_ect(
        "dev-identity", "spiffe://a.example/x", "spiffe://a.example/y",
        "--audience", "http://127.0.0.1:1", "--out", str(tmp_path),
    )  # fmt: skip
    assert done.returncode == 2
    assert "give one per workload" in done.stderr


def test_ledger_commands_work_without_extras(
    recorded_ledger: tuple[str, str], mesh: Mesh, tmp_path: Path
) -> None:
    url, rejected_wid = recorded_ledger
    assert plain_ect("ledger", "verify", "--ledger", url).stdout.startswith("ledger intact")
    shown = json.loads(plain_ect("ledger", "show", "--ledger", url).stdout)
    assert shown
    table = plain_ect("ledger", "show", "--ledger", url, "--format", "table").stdout.splitlines()
    assert table[0].split() == [
        "seq", "recorded", "direction", "wid", "jti", "iss", "exec_act", "decision", "par",
    ]  # fmt: skip
    assert len(table) == len(shown) + 1
    assert any("refund-limit: rejected" in line for line in table)
    graph = plain_ect("ledger", "graph", "--ledger", url, "--wid", rejected_wid)
    assert graph.stdout.startswith("flowchart")
    exported = plain_ect("ledger", "export", "--ledger", url, "--wid", rejected_wid)
    assert exported.returncode == 0
    copy = plain_ect("ledger", "copy", url, f"sqlite:///{tmp_path / 'copy.db'}")
    assert copy.returncode == 0, copy.stderr
    inspected = plain_ect("inspect", mesh["a"].wit)
    assert inspected.stdout.startswith("type: WIT")


def test_ledger_workflows_lists_each_workflow(recorded_ledger: tuple[str, str], mesh: Mesh) -> None:
    url, rejected_wid = recorded_ledger
    rows = json.loads(plain_ect("ledger", "workflows", "--ledger", url, "--format", "json").stdout)
    assert len(rows) == 2
    by_wid = {row["wid"]: row for row in rows}
    rejected = by_wid[rejected_wid]
    assert rejected["rejections"] == 1
    assert rejected["tasks"] == 3  # the ECT received, the checkpoint, the completion
    assert rejected["issuers"] == ["spiffe://org-a.example/agent/a", mesh["b"].id]
    assert rejected["first"] <= rejected["last"]
    assert rejected["first"].endswith("Z")
    table = plain_ect("ledger", "workflows", "--ledger", url).stdout.splitlines()
    assert table[0].split() == ["wid", "first", "last", "tasks", "issuers", "rejections"]
    (line,) = [row for row in table if row.startswith(rejected_wid)]
    assert line.rstrip().endswith(" 1")


def test_the_tables_read_policies_minted_in_the_draft_01_form(tmp_path: Path, mesh: Mesh) -> None:
    """Draft -01 keeps the policy inside ``ect_ext``: the tables read the one model."""
    url, rejected_wid = _record(tmp_path, mesh, ect_draft="01")
    shown = json.loads(plain_ect("ledger", "show", "--ledger", url, "--wid", rejected_wid).stdout)
    assert any("ect_ext" in entry["claims"] for entry in shown)
    table = plain_ect("ledger", "show", "--ledger", url, "--format", "table").stdout
    assert "refund-limit: rejected" in table
    rows = json.loads(plain_ect("ledger", "workflows", "--ledger", url, "--format", "json").stdout)
    assert {row["wid"]: row["rejections"] for row in rows}[rejected_wid] == 1


def test_a_postgresql_ledger_without_its_extra_says_which_to_install() -> None:
    done = plain_ect("ledger", "verify", "--ledger", "postgresql://u@127.0.0.1:1/x")
    assert done.returncode == 2
    assert "pip install 'ect-middleware[postgres]'" in done.stderr


@pytest.mark.slow
def test_a_real_plain_install_runs_the_cli_and_the_demo_runs_once_its_extra_is_in(
    tmp_path: Path,
) -> None:
    """Build the wheel, install it alone (its core dependencies from pip's configured
    sources) into a fresh virtualenv, run the console script; then add the demo extra."""
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(wheels),
            str(ROOT),
        ],
        check=True,
        timeout=600,
    )
    (wheel,) = wheels.glob("ect_middleware-*.whl")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(wheel)], check=True, timeout=600
    )
    ect = str(env_dir / "bin" / "ect")
    check = subprocess.run(
        [str(python), "-c", "import importlib.util as u; print(u.find_spec('httpx'))"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert check.stdout.strip() == "None"  # truly plain
    helped = subprocess.run([ect, "--help"], capture_output=True, text=True, check=False)
    assert helped.returncode == 0, helped.stderr
    demo = subprocess.run(
        [ect, "demo", "--out", str(tmp_path / "demo")], capture_output=True, text=True
    )
    assert demo.returncode == 2
    assert "pip install 'ect-middleware[demo]'" in demo.stderr
    made = subprocess.run(
        [ect, "dev-identity", "spiffe://a.example/x", "--out", str(tmp_path / "ids")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    shipped = subprocess.run(
        [str(python), "-c", "from ect_middleware.demo import EXAMPLES; print(EXAMPLES)"],
        capture_output=True, text=True, check=True, cwd=tmp_path,
    ).stdout.strip()  # fmt: skip
    assert shipped.startswith(str(env_dir))
    assert (Path(shipped) / "fastapi_app" / "main.py").is_file()
    assert (Path(shipped) / "flask_app" / "main.py").is_file()
    # With its extra, the demo runs from the installed package, far from any source tree.
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", f"{wheel}[demo]"], check=True, timeout=600
    )
    demo = subprocess.run(
        [ect, "demo", "--out", str(tmp_path / "demo")],
        capture_output=True, text=True, check=False, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert demo.stdout.count("chain intact") == 4


def test_dev_identity_refuses_what_would_make_an_unusable_identity(tmp_path: Path) -> None:
    workload = "spiffe://a.example/x"
    for args, said in [
        (("--audience", "not-a-url"), "--audience 'not-a-url': expected a base URL"),
        (("--domain-alg", "EdDSA"), "--domain-alg 'EdDSA': expected DOMAIN=ALG"),
        (("--domain-alg", "spiffe://a.example=HS256"), "expected DOMAIN=ALG, ALG one of"),
        (("--wit-lifetime", "-5"), "--wit-lifetime must be a positive number"),
    ]:
        done = plain_ect("dev-identity", workload, "--out", str(tmp_path / "ids"), *args)
        assert done.returncode == 2, (args, done.stdout)
        assert said in done.stderr, done.stderr
        assert not (tmp_path / "ids").exists()

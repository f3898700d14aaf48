"""``ect demo`` as a user runs it: the console entry point, in a subprocess."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

from .support.paths import SRC


def test_demo_runs_the_mission_and_leaves_nothing_running(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    done = subprocess.run(
        [sys.executable, "-m", "ect_middleware.cli", "demo", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    text = done.stdout
    assert text.count("chain intact") == 4
    assert "reviewer: 403" in text
    assert re.search(r"fan-in at #\d+", text)
    picture = (out / "workflow.mmd").read_text()
    assert picture.startswith("flowchart TD")
    assert "class t" in picture
    assert " approved" in picture
    assert " rejected" in picture
    assert len(re.findall(r"-->", picture)) >= 10
    for wl in ("planner", "researcher", "analyst", "reviewer"):
        assert (out / "ledgers" / f"{wl}.db").exists()
    # Every agent was stopped: its port no longer accepts connections.
    ports = [int(p) for p in re.findall(r"http://127\.0\.0\.1:(\d+)", text)]
    assert len(ports) == 4
    for port in ports:
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0


def test_mcp_demo_shows_an_agent_calling_tools_on_another_orgs_mcp_server(tmp_path: Path) -> None:
    out = tmp_path / "demo-mcp"
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    done = subprocess.run(
        [sys.executable, "-m", "ect_middleware.cli", "demo", "--mcp", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    text = done.stdout
    assert text.count("chain intact") == 3
    assert "tools/call review: rejected" in text
    assert "researcher, who answered 200" in text
    # The tool calls are tasks of org B's MCP server, named after the call, and the research
    # tool's call to org A's researcher is a hop of its own.
    assert re.search(
        r"tools/call research by org-b\.example/mcp/tools -> org-a\.example/agent/assistant", text
    )
    assert re.search(
        r"tools/call research by org-b\.example/mcp/tools -> org-a\.example/agent/researcher", text
    )
    assert re.search(r"GET /context by org-a\.example/agent/researcher", text)
    assert "[data-classification: rejected]" in text
    picture = (out / "workflow.mmd").read_text()
    assert picture.startswith("flowchart TD")
    assert "tools/call review" in picture
    for name in ("assistant", "tools", "researcher"):
        assert (out / "ledgers" / f"{name}.db").exists()
    assert '"ect.workflow_started"' in (out / "logs" / "assistant.log").read_text()
    ports = [int(p) for p in re.findall(r"http://127\.0\.0\.1:(\d+)", text)]
    assert len(ports) == 2
    for port in ports:
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0

"""Agent servers for the demo: the example services, each started the way a user would
start it (uvicorn, or a real WSGI server), as its own process on a loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from . import EXAMPLES

#: Each framework's example service, a folder of ``examples/``.
FOLDERS = {"fastapi": "fastapi_app", "flask": "flask_app", "mcp": "mcp_server"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class AgentServer:
    name: str
    framework: str  # "fastapi" or "mcp" (uvicorn), or "flask" (waitress)
    port: int
    env: Mapping[str, str]
    log_file: Path
    examples: Path = EXAMPLES
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        if self.framework != "flask":
            return [
                sys.executable, "-m", "uvicorn", "main:app", "--host", "127.0.0.1",
                "--port", str(self.port), "--no-access-log",
            ]  # fmt: skip
        return [sys.executable, "-m", "waitress", f"--listen=127.0.0.1:{self.port}", "main:app"]

    def start(self) -> None:
        folder = self.examples / FOLDERS[self.framework]
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_file.open("wb")
        self.process = subprocess.Popen(
            self.command(),
            cwd=folder,
            env={**os.environ, **self.env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at startup; see {self.log_file}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not start within {timeout:.0f} s; see {self.log_file}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()

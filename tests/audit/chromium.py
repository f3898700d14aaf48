"""A real headless Chromium (Debian's ``chromium``), driven over the DevTools protocol.

Chromium listens for DevTools on a loopback port that it picks itself and writes to
``DevToolsActivePort`` in its profile; we talk to the page over that websocket
(``websocket-client``). The page itself is a ``file://`` URL and must need no network:
every request the page makes is recorded, so tests can assert there were none. Host
resolution is switched off as well, so a stray request could not leave the machine anyway.

Missing Chromium fails the test in CI (``CI=true``) and skips it elsewhere, with the
command that installs it.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

INSTALL = "apt-get update && apt-get install -y chromium chromium-driver fonts-dejavu-core"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)


def chromium_or_skip() -> str:
    """The Chromium binary (``$ECT_CHROMIUM`` or ``chromium`` on the PATH); a missing one
    fails in CI and skips locally."""
    binary = shutil.which(os.environ.get("ECT_CHROMIUM") or "chromium")
    problem = None if binary else f"Chromium is not installed ({INSTALL})"
    try:
        import websocket  # noqa: F401
    except ImportError:
        problem = "websocket-client is not installed (pip install -e '.[test]')"
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the browser test must run in CI: {problem}")
        pytest.skip(f"browser test skipped: {problem}")
    assert binary is not None
    return binary


def chromium_version(binary: str) -> str:
    done = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip()


class Chromium:
    """One headless browser with one page. Use as a context manager."""

    def __init__(self, binary: str, profile: Path, width: int = 1600, height: int = 900) -> None:
        self.binary = binary
        self.profile = profile
        self.size = (width, height)
        self.requests: list[str] = []
        self.console_errors: list[str] = []
        self._next_id = 0

    def __enter__(self) -> Chromium:
        import websocket

        self.profile.mkdir(parents=True, exist_ok=True)
        self._log = (self.profile / "chromium.log").open("wb")
        self.process = subprocess.Popen(
            [self.binary, *FLAGS, f"--user-data-dir={self.profile}",
             f"--window-size={self.size[0]},{self.size[1]}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        port = self._devtools_port()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            targets = json.load(r)
        page = next(t for t in targets if t.get("type") == "page")
        # Chromium refuses DevTools websockets that send an Origin it was not told about.
        self._ws = websocket.create_connection(
            page["webSocketDebuggerUrl"], timeout=60, suppress_origin=True
        )
        self.send("Page.enable")
        self.send("Runtime.enable")
        self.send("Network.enable")
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=self.size[0], height=self.size[1], deviceScaleFactor=1, mobile=False,
        )  # fmt: skip
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._ws.close()
        finally:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self._log.close()

    def _devtools_port(self, timeout: float = 30.0) -> int:
        marker = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"chromium exited; see {self.profile / 'chromium.log'}")
            if marker.exists():
                first = marker.read_text().splitlines()[:1]
                if first and first[0].isdigit():
                    return int(first[0])
            time.sleep(0.05)
        raise TimeoutError("chromium did not open its DevTools port")

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Call a DevTools method and return its result; events meanwhile are recorded."""
        self._next_id += 1
        ident = self._next_id
        self._ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = self._receive()
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result

    def _receive(self) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(self._ws.recv())
        method = message.get("method")
        if method == "Network.requestWillBeSent":
            self.requests.append(message["params"]["request"]["url"])
        elif method == "Runtime.exceptionThrown":
            self.console_errors.append(json.dumps(message["params"]["exceptionDetails"]))
        elif method == "Runtime.consoleAPICalled" and message["params"]["type"] == "error":
            self.console_errors.append(json.dumps(message["params"]["args"]))
        return message

    def open(self, url: str, timeout: float = 60.0) -> None:
        """Navigate and wait for the load event."""
        self.send("Page.navigate", url=url)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._receive().get("method") == "Page.loadEventFired":
                return
        raise TimeoutError(f"{url} did not load")

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def click(self, x: float, y: float) -> None:
        """A real left click (press and release) at page coordinates."""
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.send(
                "Input.dispatchMouseEvent",
                type=kind, x=x, y=y, button="left" if kind != "mouseMoved" else "none",
                clickCount=1 if kind != "mouseMoved" else 0,
            )  # fmt: skip

    def wheel(self, x: float, y: float, dx: float, dy: float, *, ctrl: bool = False) -> None:
        """A real mouse wheel turn at page coordinates (with Ctrl held, if asked)."""
        self.send(
            "Input.dispatchMouseEvent",
            type="mouseWheel", x=x, y=y, deltaX=dx, deltaY=dy, modifiers=2 if ctrl else 0,
        )  # fmt: skip

    def screenshot(self, path: Path) -> Path:
        data = self.send("Page.captureScreenshot", format="png")["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

"""Real servers on loopback for tests: uvicorn (ASGI) and waitress (WSGI), in threads."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
import waitress


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_listening(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listening on {port}")


@contextmanager
def uvicorn_server(app: Any, port: int, **options: Any) -> Iterator[str]:
    """``options`` go to ``uvicorn.Config`` (e.g. ``h11_max_incomplete_event_size``, or
    ``lifespan="on"`` for an app that starts its own tasks, such as an MCP server)."""
    options = {"log_level": "warning", "lifespan": "off", **options}
    config = uvicorn.Config(app, host="127.0.0.1", port=port, **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    _wait_listening(port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def waitress_server(app: Any, port: int) -> Iterator[str]:
    server = waitress.create_server(
        app, host="127.0.0.1", port=port, threads=8, asyncore_loop_timeout=0.1, connection_limit=200
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    _wait_listening(port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        # waitress's loop runs until no channel is left: close them all, the idle keep-alive
        # ones too, in the loop's own thread (closing a socket another thread is polling
        # makes that poll fail with EBADF).
        def close_all() -> None:
            server.close()
            for channel in list(server._map.values()):
                channel.close()

        server.trigger.pull_trigger(close_all)
        thread.join(10)
        server.task_dispatcher.shutdown()
        assert not thread.is_alive(), "waitress did not stop"

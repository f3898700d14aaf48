"""Real servers on loopback for tests: uvicorn (ASGI) and waitress (WSGI), in threads."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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
    """Waitress in a thread, stopped without touching its sockets from another thread.

    The rule to keep: the test thread never writes to waitress's trigger pipe, and nothing
    closes it while another thread may still write to it. ``trigger.pull_trigger(thunk)``
    queues the thunk before it writes the wake-up byte, so a loop woken by a worker's pull
    can run a thunk that closes the trigger before that write happens, which then fails
    with EBADF (or lands in whatever reused the descriptor). Hence: the loop thread polls
    until told to stop, the workers finish, and only then is everything closed.
    """
    server = waitress.create_server(
        app, host="127.0.0.1", port=port, threads=8, asyncore_loop_timeout=0.1, connection_limit=200
    )
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            server.asyncore.loop(
                timeout=server.adj.asyncore_loop_timeout,
                map=server._map,
                use_poll=server.adj.asyncore_use_poll,
                count=1,
            )

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    _wait_listening(port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop.set()  # seen within one poll timeout; no wake-up write needed
        thread.join(10)
        assert not thread.is_alive(), "waitress did not stop"
        # Nobody polls any more. Close every channel (idle keep-alive ones too): a worker
        # waiting for its output to drain is woken and sees the client gone.
        for channel in list(server.active_channels.values()):
            channel.handle_close()
        server.task_dispatcher.shutdown(timeout=10)
        assert not server.task_dispatcher.threads, "waitress workers did not stop"
        server.close()  # the listening socket and the trigger, which no worker can pull now


#: Another host on loopback: not the services' own, so not a peer of theirs.
STRANGER_HOST = "127.0.0.2"


@contextmanager
def stranger() -> Iterator[tuple[str, list[set[str]]]]:
    """A plain HTTP server on another host; records the header names of every request."""
    seen: list[set[str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append({name.lower() for name in self.headers})
            body = b'{"stranger": true}'
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((STRANGER_HOST, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{STRANGER_HOST}:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)

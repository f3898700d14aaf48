"""A small HTTP/1.1 load generator: keep-alive connections on loopback, each sending the
next pre-built request as soon as the previous answer is read (a closed loop).

Hand-written on asyncio streams rather than an HTTP client library so that the client
costs as little CPU as possible: on two cores, client and server share the machine.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class LoadResult:
    completed: int
    errors: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.completed / self.seconds if self.seconds else 0.0


def build_request(
    method: str, path: str, host: str, headers: list[tuple[str, str]], body: bytes
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _connection(
    port: int, requests: Iterator[bytes], deadline: float, counts: list[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for request in requests:
            if time.perf_counter() > deadline:
                return
            writer.write(request)
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            counts[0 if status_line.split(b" ", 2)[1] == b"200" else 1] += 1
    finally:
        writer.close()


def run_load(
    port: int, requests: list[bytes], *, connections: int, max_seconds: float
) -> LoadResult:
    """Send ``requests`` (each once) over ``connections`` connections; stop early after
    ``max_seconds``."""

    async def main() -> LoadResult:
        shared = iter(requests)  # the connections take turns on one iterator
        counts = [0, 0]
        start = time.perf_counter()
        deadline = start + max_seconds
        await asyncio.gather(
            *(_connection(port, shared, deadline, counts) for _ in range(connections))
        )
        return LoadResult(counts[0], counts[1], time.perf_counter() - start)

    return asyncio.run(main())

"""Replicas of one service behind one public URL, as real servers (uvicorn, waitress) on
loopback, each with its own runtime built from the same settings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import Any

import httpx
from flask import Flask, jsonify
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ect_middleware import ECTMiddleware, ECTWSGIMiddleware
from ect_middleware.runtime import Runtime

from .apps import describe
from .mesh import Mesh
from .servers import free_port, uvicorn_server, waitress_server

PUBLIC = "https://b.example"  # what callers address; the load balancer picks a replica
Server = Callable[[Any, int], AbstractContextManager[str]]


def asgi_app(runtime: Runtime) -> Any:
    async def context(request: Request) -> JSONResponse:
        return JSONResponse(describe())

    return ECTMiddleware(Starlette(routes=[Route("/context", context)]), runtime=runtime)


def wsgi_app(runtime: Runtime) -> Any:
    app = Flask("replica")
    app.get("/context")(lambda: jsonify(describe()))
    return ECTWSGIMiddleware(app.wsgi_app, runtime=runtime)


STACKS: dict[str, tuple[Callable[[Runtime], Any], Server]] = {
    "uvicorn": (asgi_app, uvicorn_server),
    "waitress": (wsgi_app, waitress_server),
}


@contextmanager
def replicas(mesh: Mesh, kinds: list[str], **settings: Any) -> Iterator[list[str]]:
    """Replicas of workload b, one per entry of ``kinds``, all configured alike."""
    with ExitStack() as stack:
        urls = []
        for kind in kinds:
            make_app, serve = STACKS[kind]
            runtime = Runtime(mesh.settings("b", PUBLIC, **settings))
            stack.callback(runtime.close)  # the ledger and the replay cache
            urls.append(stack.enter_context(serve(make_app(runtime), free_port())))
        yield urls


def get(url: str, headers: dict[str, str]) -> httpx.Response:
    return httpx.get(url + "/context", headers=headers, timeout=10)


def code(response: httpx.Response) -> str | None:
    if response.headers.get("content-type") != "application/problem+json":
        return None
    value = response.json()["code"]
    assert isinstance(value, str)
    return value

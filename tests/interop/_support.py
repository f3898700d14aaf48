"""A service under test for the interop suite: one development identity, and a catch-all app
behind the real ASGI middleware (Starlette, in-process through the public SyncASGITransport)
or the real WSGI middleware (Flask, in-process through httpx's WSGI transport)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from flask import Flask, jsonify
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ect_middleware import ECTMiddleware, ECTWSGIMiddleware, Settings, current_context
from ect_middleware.devkit import create_dev_identities
from ect_middleware.testing import SyncASGITransport
from ect_middleware.tokens.keys import SigningKey, load_signing_key


@dataclass(frozen=True)
class Identity:
    workload_id: str
    key: SigningKey
    wit: str
    key_file: Path
    wit_file: Path
    trust_bundle: Path

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "workload_id": self.workload_id,
            "key_file": str(self.key_file),
            "wit_file": str(self.wit_file),
            "trust_bundle": str(self.trust_bundle),
            "audience": ("http://testserver",),
            "ledger": "memory://",
        }
        values.update(overrides)
        return Settings(**values).validated()


def identity(folder: Path, workload_id: str, alg: str = "ES256") -> Identity:
    made = create_dev_identities(folder, [workload_id], default_alg=alg)
    files = made.workloads[workload_id]
    return Identity(
        workload_id,
        load_signing_key(files.key_file),
        files.wit_file.read_text().strip(),
        files.key_file,
        files.wit_file,
        made.trust_bundle,
    )


def describe() -> dict[str, Any]:
    ctx = current_context()
    if ctx is None:
        return {"context": None}
    return {
        "caller": ctx.caller,
        "wid": ctx.workflow_id,
        "parents": [
            {
                "jti": p.jti,
                "par": list(p.par),
                "ext": p.ext,
                "policy": None if p.policy is None else [p.policy.policy, p.policy.decision],
                "draft": p.draft,
            }
            for p in ctx.parents
        ],
    }


def _starlette(settings: Settings) -> Starlette:
    async def anything(request: Request) -> JSONResponse:
        return JSONResponse(describe())

    app = Starlette(routes=[Route("/{path:path}", anything, methods=["GET", "POST"])])
    app.add_middleware(ECTMiddleware, settings=settings)
    return app


def _flask(settings: Settings) -> Flask:
    app = Flask("interop")

    @app.route("/<path:path>", methods=["GET", "POST"])
    def anything(path: str) -> Any:
        return jsonify(describe())

    app.wsgi_app = ECTWSGIMiddleware(app.wsgi_app, settings=settings)  # type: ignore[method-assign]
    return app


@contextmanager
def serve(kind: str, settings: Settings) -> Iterator[httpx.Client]:
    """An in-process client for the service. The middleware verifies against
    ``settings.audience``, whatever URL the client reaches it at."""
    app = _starlette(settings) if kind == "asgi" else _flask(settings)
    transport = SyncASGITransport(app) if kind == "asgi" else httpx.WSGITransport(app=app)
    with httpx.Client(transport=transport, base_url="http://testserver") as client:
        yield client

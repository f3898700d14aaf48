"""Service ``b`` in process, on a runtime the test builds (its own replay cache, ledger or
limits), behind ``ECTWSGIMiddleware`` through httpx's WSGI transport."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import httpx

from ect_middleware import ECTWSGIMiddleware
from ect_middleware.runtime import Runtime

from ._inprocess import Pep3333Transport

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

BASE = "http://testserver"


def ok_app(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
    start_response("200 OK", [("content-type", "text/plain")])
    return [b"ok"]


@contextmanager
def served(runtime: Runtime, app: Any = ok_app) -> Iterator[httpx.Client]:
    transport = Pep3333Transport(ECTWSGIMiddleware(app, runtime=runtime))
    with httpx.Client(transport=transport, base_url=BASE) as client:
        yield client
    runtime.close()

"""Placing ``ECTMiddleware`` outside Starlette's error middleware.

``app.add_middleware`` puts a middleware *inside* ``ServerErrorMiddleware``: exception
handlers then run without the request context and a 500 bypasses the middleware's
``send``. ``instrument_app`` wraps the whole stack instead, so a 500 still returns and
records its completion ECT.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette

from ..authorization import CallerNotAllowed, starlette_refusal
from .asgi import ECTMiddleware

_MARKER = "_ect_middleware_instrumented"


def instrument_app(app: Starlette, **kwargs: Any) -> Starlette:
    """Wrap ``app``'s middleware stack in ``ECTMiddleware`` (idempotent; before startup)."""
    if getattr(app, _MARKER, False):
        return app
    if app.middleware_stack is not None:
        raise RuntimeError("instrument_app must be called before the application starts")
    build = app.build_middleware_stack

    def build_with_ect() -> Any:
        return ECTMiddleware(build(), **kwargs)

    app.build_middleware_stack = build_with_ect  # type: ignore[method-assign]
    # Answered inside the app: outside, Starlette's error middleware would make it a 500.
    app.add_exception_handler(CallerNotAllowed, starlette_refusal)
    setattr(app, _MARKER, True)
    return app

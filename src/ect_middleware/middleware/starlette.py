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
from ..config import refuse_settings_with_runtime
from .asgi import ECTMiddleware

_MARKER = "_ect_middleware_instrumented"


def instrument_app(app: Starlette, **kwargs: Any) -> Starlette:
    """Wrap ``app``'s middleware stack in ``ECTMiddleware`` (idempotent; before startup);
    ``kwargs`` are ``ECTMiddleware``'s (refused here already: ``runtime=`` with settings)."""
    settings = {k: v for k, v in kwargs.items() if k not in ("runtime", "settings")}
    refuse_settings_with_runtime(kwargs.get("runtime"), kwargs.get("settings"), settings)
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

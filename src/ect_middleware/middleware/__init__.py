"""The middlewares: thin ASGI and WSGI shells over the runtime."""

from .asgi import ECTMiddleware
from .starlette import instrument_app
from .wsgi import ECTWSGIMiddleware

__all__ = ["ECTMiddleware", "ECTWSGIMiddleware", "instrument_app"]

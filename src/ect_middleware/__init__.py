"""ect-middleware: Execution Context Tokens for Python agent services.

app.add_middleware(ECTMiddleware)                 # Starlette / FastAPI
app.wsgi_app = ECTWSGIMiddleware(app.wsgi_app)    # Flask / any WSGI app
with start_workflow("nightly-report"): ...         # a workflow that starts in a client
"""

from .authorization import require_caller
from .config import Settings
from .context import RequestContext, bind_context, checkpoint, current_context
from .errors import ConfigurationError, ECTError, ECTMiddlewareError, LedgerError
from .middleware import ECTMiddleware, ECTWSGIMiddleware, instrument_app
from .propagation import instrument, sent_task_id, uninstrument
from .workflow import start_workflow

__version__ = "0.1.0"

__all__ = [
    "ConfigurationError",
    "ECTError",
    "ECTMiddleware",
    "ECTMiddlewareError",
    "ECTWSGIMiddleware",
    "LedgerError",
    "RequestContext",
    "Settings",
    "bind_context",
    "checkpoint",
    "current_context",
    "instrument",
    "instrument_app",
    "require_caller",
    "sent_task_id",
    "start_workflow",
    "uninstrument",
]

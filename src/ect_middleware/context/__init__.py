"""The verified context of the request being handled, and what the application adds to it."""

from .checkpoint import checkpoint
from .task import RequestContext, bind_context, current_context, use_context

__all__ = ["RequestContext", "bind_context", "checkpoint", "current_context", "use_context"]

"""The public namespace, pinned: a name added to or dropped from ``ect_middleware`` is a
decision made here; and every error the library defines belongs to one family."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import ect_middleware
from ect_middleware import ConfigurationError, ECTError, ECTMiddlewareError, LedgerError

PUBLIC = [
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


def test_the_public_namespace() -> None:
    assert ect_middleware.__all__ == PUBLIC
    for name in PUBLIC:
        assert getattr(ect_middleware, name) is not None
    exported = {n for n in vars(ect_middleware) if not n.startswith("_")}
    # subpackages are importable, not exported names
    modules = {n for n in exported if inspect.ismodule(getattr(ect_middleware, n))}
    assert exported - modules == set(PUBLIC)


def test_the_errors_share_one_base() -> None:
    for error in (ConfigurationError, ECTError, LedgerError):
        assert issubclass(error, ECTMiddlewareError)
    assert not issubclass(ECTMiddlewareError, ValueError)


def test_every_exception_class_in_the_library_is_an_ect_middleware_error() -> None:
    found = {}
    for module in pkgutil.walk_packages(ect_middleware.__path__, "ect_middleware."):
        if module.name.endswith("__main__"):  # runs the CLI
            continue
        loaded = importlib.import_module(module.name)
        for name, value in vars(loaded).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == loaded.__name__
            ):
                found[f"{loaded.__name__}.{name}"] = value
    assert "ect_middleware.authorization.CallerNotAllowed" in found
    assert "ect_middleware.tokens.keys.InvalidKey" in found
    outside = sorted(name for name, cls in found.items() if not issubclass(cls, ECTMiddlewareError))
    assert outside == []


def test_the_request_context_is_a_read_only_view_of_its_documented_fields() -> None:
    """What ``current_context()`` returns shows the request (docs/CONTRACT.md §4) and lets
    only ``exec_act`` be set: none of the library's own machinery is reachable from it."""
    from ect_middleware import RequestContext

    shown = {n for n in dir(RequestContext) if not n.startswith("_")}
    assert shown == {
        "caller",
        "completion",
        "exec_act",
        "minted",
        "parents",
        "peer_for",
        "rejection",
        "task_id",
        "trace_id",
        "workflow_id",
    }
    settable = {
        n for n in shown if isinstance(p := getattr(RequestContext, n), property) and p.fset
    }
    assert settable == {"exec_act"}
    assert RequestContext.__slots__ == ("_task",)  # no attribute can be added to a view

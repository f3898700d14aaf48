"""What a service says once when its middleware is built: the effective configuration,
and a warning when the per-process replay cache meets several worker processes.

Several workers are recognised from what the usual servers are told: ``WEB_CONCURRENCY``
(uvicorn's and gunicorn's default worker count), and ``--workers N`` / ``-w N`` on the
command line (which uvicorn's spawned workers inherit) or in ``GUNICORN_CMD_ARGS``. A
worker count set only in a gunicorn configuration file is not seen.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .config import Peer, Settings
from .logs import log
from .tokens.keys import shown_path

#: Settings that are not configuration a person reads (objects, or tuned in code).
_NOT_SHOWN = frozenset({"clock", "limits"})
_SECRET_OPTIONS = ("pass", "secret", "token", "key")


def effective_configuration(settings: Settings) -> dict[str, Any]:
    """Every setting as logged at startup; URLs without credentials."""
    shown: dict[str, Any] = {}
    for item in dataclasses.fields(settings):
        if item.name in _NOT_SHOWN:
            continue
        value = getattr(settings, item.name)
        if item.name in ("ledger", "replay"):
            value = without_credentials(value)
        elif item.name in ("key_file", "wit_file") and value is not None:
            value = shown_path(value)
        shown[item.name] = _plain(value)
    return shown


def without_credentials(url: str) -> str:
    """``url`` without a password in its userinfo or in options that look like secrets."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return url.partition("://")[0] + "://(unparsable)"
    options = parse_qsl(parts.query, keep_blank_values=True)
    secret = [any(s in k.lower() for s in _SECRET_OPTIONS) for k, _ in options]
    if parts.password is None and not any(secret):
        return url
    netloc = host if port is None else f"{host}:{port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    shown = [(k, "***" if hidden else v) for (k, v), hidden in zip(options, secret, strict=True)]
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(shown), ""))


def worker_processes(
    environ: Mapping[str, str] | None = None, argv: Sequence[str] | None = None
) -> int:
    """How many worker processes the server was asked for (1 when nothing says more)."""
    env = os.environ if environ is None else environ
    try:
        gunicorn_args = shlex.split(env.get("GUNICORN_CMD_ARGS", ""))
    except ValueError:
        gunicorn_args = []
    counts = (
        _int(env.get("WEB_CONCURRENCY")),
        _workers_option(sys.argv if argv is None else argv),
        _workers_option(gunicorn_args),
    )
    return max((c for c in counts if c), default=1)


def announce(settings: Settings, environ: Mapping[str, str] | None = None) -> None:
    """Log the effective configuration; warn about a per-process replay cache shared by
    nothing when the server runs several worker processes."""
    log.info("ect.startup", **effective_configuration(settings))
    workers = worker_processes(environ)
    if workers > 1 and settings.replay.lower().startswith("memory:"):
        log.warning(
            "ect.replay_per_process",
            workers=workers,
            setting="ECT_REPLAY",
            hint="a token replayed to another worker is not recognised; set "
            "ECT_REPLAY=sqlite:///replay.db (one host) or redis://... (several)",
        )


def _workers_option(args: Sequence[str]) -> int | None:
    for i, arg in enumerate(args):
        if arg in ("--workers", "-w") and i + 1 < len(args):
            return _int(args[i + 1])
        if arg.startswith("--workers="):
            return _int(arg.partition("=")[2])
        if arg.startswith("-w") and arg[2:].isdigit():
            return _int(arg[2:])
    return None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _plain(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, frozenset, set)):
        return [_plain(v) for v in value]
    if isinstance(value, Peer):  # as ECT_PEERS spells it: the workload id, or an object
        if value == Peer(value.workload):
            return value.workload
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return str(value)

"""Configuration from the environment (CONTRACT §3), overridable by keyword arguments."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from .errors import ConfigurationError, LedgerError
from .ledger.none import is_no_ledger
from .limits import Clock, Limits, system_clock
from .tokens.identifiers import is_workload_id
from .verification.dag import DagMode

Mode = Literal["enforce", "observe", "off"]
Draft = Literal["00", "01"]
#: when a request's ledger entries are written: before what depends on them, or behind it
LedgerWrite = Literal["durable", "background"]
DEFAULT_LEDGER = "sqlite:///ect-ledger.db"
_PEER_KEYS = frozenset({"workload", "ect_draft", "bind_ect"})


@dataclass(frozen=True)
class Peer:
    """One ECT_PEERS entry: who is called, and what it reads on the wire."""

    workload: str
    #: the ECT wire form minted for this peer (None: ECT_DRAFT)
    ect_draft: Draft | None = None
    #: bind the Execution-Context header in the WPT's ``oth``: only for peers that expect it,
    #: since a WIMSE recipient must reject an ``oth`` entry it does not understand
    bind_ect: bool = False

    @classmethod
    def parse(cls, prefix: str, value: object) -> Peer:
        """An ECT_PEERS value: a workload identifier, or an object of the keys above."""
        where = f"ECT_PEERS[{prefix!r}]"
        if isinstance(value, Peer):
            peer = value
        elif isinstance(value, str):
            peer = cls(value)
        elif isinstance(value, Mapping):
            unknown = sorted(set(value) - _PEER_KEYS)
            if unknown:
                raise ConfigurationError(f"{where}: unknown key {unknown[0]!r}")
            bind = value.get("bind_ect", False)
            if not isinstance(bind, bool):
                raise ConfigurationError(f"{where}: bind_ect must be true or false")
            peer = cls(value.get("workload"), value.get("ect_draft"), bind)  # type: ignore[arg-type]
        else:
            raise ConfigurationError(f"{where}: expected a workload identifier or an object")
        if not is_workload_id(peer.workload):
            raise ConfigurationError(f"ECT_PEERS: {peer.workload!r} is not a workload identifier")
        if peer.ect_draft not in (None, "00", "01"):
            raise ConfigurationError(f'{where}: ect_draft must be "00" or "01"')
        return peer


@dataclass(frozen=True)
class Settings:
    workload_id: str | None = None
    key_file: str | None = None
    wit_file: str | None = None
    trust_bundle: str | None = None
    audience: tuple[str, ...] = ()
    #: URL prefix -> peer; a value given as a workload identifier string or an object is
    #: read into a ``Peer`` when the settings are built
    peers: Mapping[str, Peer] = field(default_factory=dict)
    ledger: str = DEFAULT_LEDGER
    #: ``durable``: entries are committed before the call or response that depends on
    #: them; ``background``: the writer's thread commits them behind it (docs/PROFILE.md)
    ledger_write: LedgerWrite = "durable"
    mode: Mode = "enforce"
    dag_mode: DagMode = "partial"
    entry_paths: tuple[str, ...] = ()
    exclude_paths: tuple[str, ...] = ()
    jsonrpc_paths: tuple[str, ...] = ()
    replay: str = "memory://"
    #: warn this many seconds before this service's own WIT expires
    wit_expiry_warning: float = 300.0
    #: the ECT wire form minted for peers that do not choose one
    ect_draft: Draft = "00"
    #: refuse an Execution-Context header the WPT does not bind in ``oth``
    require_ect_binding: bool = False
    limits: Limits = field(default_factory=Limits)
    clock: Clock = field(default=system_clock, compare=False)

    def __post_init__(self) -> None:
        """Every value is checked here, however the settings are built (``Settings(...)``,
        ``from_env``, ``replace``): a bad one is a ``ConfigurationError`` naming its
        setting. Which settings must be present depends on the process: ``validated``."""
        for name, setting_name in _LISTS.items():
            object.__setattr__(self, name, _as_list(setting_name, getattr(self, name)))
        peers = self.peers
        if not isinstance(peers, Mapping):
            raise ConfigurationError("ECT_PEERS must map URL prefixes to peers")
        if not all(isinstance(k, str) and k for k in peers):
            raise ConfigurationError("ECT_PEERS: each key must be a URL prefix (a string)")
        object.__setattr__(self, "peers", {k: Peer.parse(k, v) for k, v in peers.items()})
        for name, setting_name in _FILES.items():
            value = getattr(self, name)
            if isinstance(value, os.PathLike):
                object.__setattr__(self, name, os.fspath(value))
            elif value is not None and not isinstance(value, str):
                raise ConfigurationError(f"{setting_name} must be a file path")
        for name, setting_name in (("ledger", "ECT_LEDGER"), ("replay", "ECT_REPLAY")):
            if not isinstance(getattr(self, name), str):
                raise ConfigurationError(f"{setting_name} must be a URL string")
        if self.workload_id is not None and not is_workload_id(self.workload_id):
            raise ConfigurationError("ECT_WORKLOAD_ID is not a workload identifier")
        if self.ledger_write not in ("durable", "background"):
            raise ConfigurationError("ECT_LEDGER_WRITE must be durable or background")
        if self.ledger_write == "background" and self.dag_mode == "strict":
            # strict rejects a parent not in the ledger, and a parent still queued is not
            raise ConfigurationError(
                "ECT_LEDGER_WRITE=background cannot be combined with ECT_DAG_MODE=strict"
            )
        if self.mode not in ("enforce", "observe", "off"):
            raise ConfigurationError("ECT_MODE must be enforce, observe or off")
        if self.dag_mode not in ("partial", "strict"):
            raise ConfigurationError("ECT_DAG_MODE must be partial or strict")
        if self.dag_mode == "strict" and is_no_ledger(self.ledger):
            raise ConfigurationError(
                "ECT_LEDGER=none cannot be used with ECT_DAG_MODE=strict: without a ledger a"
                " parent from an earlier request is never found; set ECT_DAG_MODE=partial"
            )
        if not _is_number(self.wit_expiry_warning) or self.wit_expiry_warning < 0:
            raise ConfigurationError("ECT_WIT_EXPIRY_WARNING must be a number of seconds")
        if self.ect_draft not in ("00", "01"):
            raise ConfigurationError('ECT_DRAFT must be "00" or "01"')
        if not isinstance(self.require_ect_binding, bool):
            raise ConfigurationError("ECT_REQUIRE_ECT_BINDING must be true or false")
        if not isinstance(self.limits, Limits):
            raise ConfigurationError("limits must be a Limits")
        for item in dataclasses.fields(Limits):
            bound = getattr(self.limits, item.name)
            if not _is_number(bound) or bound < 0:
                raise ConfigurationError(f"limits.{item.name} must be a number >= 0")
        if not callable(self.clock):
            raise ConfigurationError("clock must be a callable returning seconds")

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, serving: bool = True, **overrides: Any
    ) -> Settings:
        """``serving=False`` for a process that only starts workflows and calls peers: it
        has no public URL, so ``ECT_AUDIENCE`` is not required."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        values: dict[str, Any] = {
            "workload_id": get("ECT_WORKLOAD_ID"),
            "key_file": get("ECT_KEY_FILE"),
            "wit_file": get("ECT_WIT_FILE"),
            "trust_bundle": get("ECT_TRUST_BUNDLE"),
            "audience": _csv(get("ECT_AUDIENCE")),
            "peers": _peers(get("ECT_PEERS")),
            "ledger": get("ECT_LEDGER") or DEFAULT_LEDGER,
            "ledger_write": get("ECT_LEDGER_WRITE") or "durable",
            "mode": get("ECT_MODE") or "enforce",
            "dag_mode": get("ECT_DAG_MODE") or "partial",
            "entry_paths": _csv(get("ECT_ENTRY_PATHS")),
            "exclude_paths": _csv(get("ECT_EXCLUDE_PATHS")),
            "jsonrpc_paths": _csv(get("ECT_JSONRPC_PATHS")),
            "replay": get("ECT_REPLAY") or "memory://",
            "wit_expiry_warning": _seconds("ECT_WIT_EXPIRY_WARNING", get("ECT_WIT_EXPIRY_WARNING")),
            "ect_draft": get("ECT_DRAFT") or "00",
            "require_ect_binding": _flag("ECT_REQUIRE_ECT_BINDING", get("ECT_REQUIRE_ECT_BINDING")),
        }
        values.update(_known(overrides))
        return cls(**values).validated(serving=serving)

    def replace(self, *, serving: bool = True, **overrides: Any) -> Settings:
        """These settings with ``overrides``, complete for a service (``serving``) or a
        process that only calls peers."""
        changed = dataclasses.replace(self, **_known(overrides)) if overrides else self
        return changed.validated(serving=serving)

    def validated(self, *, serving: bool = True) -> Settings:
        """These settings, once the ones a service needs are known to be present
        (``serving=False``: a process that only calls peers, without ``ECT_AUDIENCE``)."""
        if self.mode == "off":
            return self
        required = ["workload_id", "key_file", "wit_file", "trust_bundle"]
        if serving:  # a process that only calls peers has no URL of its own
            required.append("audience")
        missing = [f"ECT_{name.upper()}" for name in required if not getattr(self, name)]
        if missing:
            raise ConfigurationError(f"missing configuration: {', '.join(missing)}")
        for base in self.audience:
            if not is_base_url(base):
                raise ConfigurationError(
                    f"ECT_AUDIENCE: {base!r} is not a base URL (http:// or https://, a host,"
                    " no query or fragment)"
                )
        for prefix in self.peers:
            if not is_base_url(prefix):
                raise ConfigurationError(
                    f"ECT_PEERS: {prefix!r} is not a URL prefix (http:// or https://, a host)"
                )
        for name in ("entry_paths", "exclude_paths", "jsonrpc_paths"):
            for path in getattr(self, name):
                if not path.startswith("/"):
                    raise ConfigurationError(
                        f"ECT_{name.upper()}: {path!r} is not a path (a path starts with /)"
                    )
        return self


def _as_list(setting_name: str, value: object) -> tuple[str, ...]:
    """A list setting's value: a string given in code is read as the environment reads it
    (comma-separated), never as a sequence of characters (its "/" would be a path prefix
    matching every request)."""
    if isinstance(value, str):
        return _csv(value)
    values = tuple(value) if isinstance(value, Iterable) else None
    if values is None or not all(isinstance(v, str) and v for v in values):
        raise ConfigurationError(f"{setting_name} must be a list of non-empty strings")
    return values


def is_base_url(value: str) -> bool:
    """An absolute http(s) URL with a host and no query or fragment: what a service's
    public base URL (``ECT_AUDIENCE``) must be, as WPT audiences are built from it."""
    try:
        url = urlsplit(value)
        url.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return False
    return (
        url.scheme in ("http", "https")
        and bool(url.hostname)
        and not url.query
        and not url.fragment
        and "?" not in value
        and "#" not in value
    )


#: fields holding a file path (or, for the trust bundle, inline JSON), by setting name
_FILES = {
    "key_file": "ECT_KEY_FILE",
    "wit_file": "ECT_WIT_FILE",
    "trust_bundle": "ECT_TRUST_BUNDLE",
}
#: fields holding a list, by setting name (a string given in code is read as ``_csv`` reads it)
_LISTS = {
    "audience": "ECT_AUDIENCE",
    "entry_paths": "ECT_ENTRY_PATHS",
    "exclude_paths": "ECT_EXCLUDE_PATHS",
    "jsonrpc_paths": "ECT_JSONRPC_PATHS",
}


def _known(overrides: Mapping[str, Any]) -> Mapping[str, Any]:
    """``overrides`` if each names a ``Settings`` field (a misspelt one would otherwise be
    a ``TypeError`` far from the setting it meant)."""
    fields = [f.name for f in dataclasses.fields(Settings)]
    unknown = sorted(set(overrides) - set(fields))
    if unknown:
        raise ConfigurationError(f"unknown setting {unknown[0]!r}; settings: {', '.join(fields)}")
    return overrides


def _is_number(value: object) -> bool:
    """A finite int or float (bool is an int in Python, never a number of anything here)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _seconds(name: str, value: str | None) -> float:
    if value is None:
        return Settings.wit_expiry_warning
    try:
        return float(value)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number of seconds") from None


def _csv(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip()) if value else ()


def _flag(name: str, value: str | None) -> bool:
    if value is None:
        return False
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigurationError(f"{name} must be true or false")


def _peers(value: str | None) -> dict[str, Peer]:
    if not value:
        return {}
    try:
        peers = json.loads(value)
    except ValueError:
        raise ConfigurationError("ECT_PEERS must be a JSON object") from None
    if not isinstance(peers, dict):
        raise ConfigurationError("ECT_PEERS must map URL prefixes to workload identifiers")
    return {k: Peer.parse(k, v) for k, v in peers.items()}


def refuse_settings_with_runtime(
    runtime: object, settings: Settings | None, overrides: Mapping[str, Any]
) -> None:
    """A ``runtime=`` carries its own settings: settings or overrides given with it would
    be silently ignored (``mode="off"`` would not turn anything off), so they are refused."""
    if runtime is None or (settings is None and not overrides):
        return
    given = (["settings"] if settings is not None else []) + sorted(overrides)
    raise ConfigurationError(
        f"runtime= carries its own settings; {', '.join(given)} would be ignored: "
        "give either runtime= or settings, not both"
    )


@contextmanager
def setting(name: str) -> Iterator[None]:
    """Loading what setting ``name`` points to (a file, a ledger, a replay cache): any
    failure stops the service at startup as a ``ConfigurationError`` naming the setting.
    Messages of the wrapped errors never hold secrets (URLs are named by scheme only)."""
    try:
        yield
    except ConfigurationError as exc:
        if name in str(exc):
            raise
        raise ConfigurationError(f"{name}: {exc}") from None
    except (ValueError, OSError, LedgerError) as exc:
        raise ConfigurationError(f"{name}: {exc}") from None

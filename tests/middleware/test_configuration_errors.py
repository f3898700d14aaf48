"""Every bad setting is a ``ConfigurationError`` naming the setting, however the settings
are given: ``Settings(...)`` built directly, keyword overrides, or a ``runtime=`` with
settings beside it (which would be silently ignored)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from ect_middleware import (
    ConfigurationError,
    ECTMiddleware,
    ECTWSGIMiddleware,
    Settings,
    instrument_app,
    start_workflow,
)
from ect_middleware.config import Peer
from ect_middleware.limits import Limits
from ect_middleware.runtime import Runtime

from ..support.mesh import Mesh

B_URL = "http://b.example"


def identity(mesh: Mesh) -> dict[str, Any]:
    """Workload b's identity settings, without an audience."""
    wl = mesh["b"]
    return {
        "workload_id": wl.id,
        "key_file": str(wl.key_file),
        "wit_file": str(wl.wit_file),
        "trust_bundle": str(mesh.trust_bundle),
        "ledger": "memory://",
    }


@pytest.fixture
def runtime(mesh: Mesh) -> Iterator[Runtime]:
    built = Runtime(mesh.settings("b", B_URL))
    yield built
    built.close()


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"mode": "bogus"}, "ECT_MODE must be enforce, observe or off"),
        ({"dag_mode": "full"}, "ECT_DAG_MODE must be partial or strict"),
        ({"ledger_write": "async"}, "ECT_LEDGER_WRITE must be durable or background"),
        (
            {"ledger_write": "background", "dag_mode": "strict"},
            "ECT_LEDGER_WRITE=background cannot be combined with ECT_DAG_MODE=strict",
        ),
        ({"ect_draft": "02"}, 'ECT_DRAFT must be "00" or "01"'),
        ({"require_ect_binding": "yes"}, "ECT_REQUIRE_ECT_BINDING must be true or false"),
        ({"wit_expiry_warning": "300"}, "ECT_WIT_EXPIRY_WARNING must be a number of seconds"),
        ({"wit_expiry_warning": math.nan}, "ECT_WIT_EXPIRY_WARNING"),
        ({"wit_expiry_warning": True}, "ECT_WIT_EXPIRY_WARNING"),
        ({"workload_id": "agent-b"}, "ECT_WORKLOAD_ID is not a workload identifier"),
        ({"key_file": 7}, "ECT_KEY_FILE must be a file path"),
        ({"ledger": None}, "ECT_LEDGER must be a URL string"),
        ({"replay": 6379}, "ECT_REPLAY must be a URL string"),
        # (one string is read comma-separated, as the environment is: test_startup.py)
        ({"exclude_paths": 7}, "ECT_EXCLUDE_PATHS must be a list of non-empty strings"),
        ({"entry_paths": ("",)}, "ECT_ENTRY_PATHS must be a list of non-empty strings"),
        ({"jsonrpc_paths": (7,)}, "ECT_JSONRPC_PATHS must be a list of non-empty strings"),
        ({"peers": {7: "spiffe://org-b.example/agent/b"}}, "ECT_PEERS: each key"),
        ({"peers": {"http://c.example": Peer("agent-c")}}, "ECT_PEERS: 'agent-c' is not"),
        ({"limits": {"max_token_bytes": 1}}, "limits must be a Limits"),
        ({"limits": Limits(max_parents=-1)}, "limits.max_parents must be a number >= 0"),
        ({"limits": Limits(leeway=math.inf)}, "limits.leeway must be a number >= 0"),  # type: ignore[arg-type]
        ({"clock": None}, "clock must be a callable"),
    ],
)
def test_settings_built_directly_are_checked_on_construction(
    values: dict[str, Any], named: str, mesh: Mesh
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings(**{**identity(mesh), "audience": (B_URL,), **values})
    assert str(raised.value).startswith(named), raised.value
    base = Settings(**identity(mesh), audience=(B_URL,))
    with pytest.raises(ConfigurationError, match=named.split(" ")[0]):
        base.replace(**values)


def test_lists_and_paths_given_in_other_shapes_are_read_as_settings(mesh: Mesh) -> None:
    made = Settings(
        **{**identity(mesh), "key_file": Path(mesh["b"].key_file)},
        audience=[B_URL],  # type: ignore[arg-type]
        exclude_paths=["/health"],  # type: ignore[arg-type]
    )
    assert made.key_file == str(mesh["b"].key_file)
    assert made.audience == (B_URL,)
    assert made.exclude_paths == ("/health",)


def test_what_must_be_present_depends_on_the_process(mesh: Mesh) -> None:
    """A process that only starts workflows has no URL of its own: no ECT_AUDIENCE."""
    client = Settings(**identity(mesh))
    assert client.validated(serving=False) is client
    assert client.replace(serving=False, mode="observe").mode == "observe"
    with pytest.raises(ConfigurationError, match="missing configuration: ECT_AUDIENCE"):
        client.validated()
    assert Settings(mode="off").validated() == Settings(mode="off")
    with pytest.raises(ConfigurationError, match="missing configuration: ECT_WORKLOAD_ID"):
        Settings().validated(serving=False)


def test_settings_given_to_a_middleware_must_be_complete(mesh: Mesh) -> None:
    incomplete = Settings(**identity(mesh))  # no audience: every request would be refused
    with pytest.raises(ConfigurationError, match="missing configuration: ECT_AUDIENCE"):
        ECTWSGIMiddleware(Flask(__name__).wsgi_app, incomplete)
    assert ECTMiddleware(Starlette(), incomplete).configuration_error is not None


def test_a_misspelt_setting_is_named(mesh: Mesh, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**identity(mesh), "audience": B_URL}.items():
        monkeypatch.setenv(f"ECT_{name.upper()}", value)
    with pytest.raises(ConfigurationError, match="unknown setting 'ledgr'"):
        Settings.from_env(ledgr="memory://")
    with pytest.raises(ConfigurationError, match="unknown setting 'ledgr'"):
        ECTWSGIMiddleware(Flask(__name__).wsgi_app, ledgr="memory://")
    with pytest.raises(ConfigurationError, match="unknown setting 'moed'"):
        Settings.from_env().replace(moed="off")


@pytest.mark.parametrize(
    "beside",
    [{"mode": "off"}, {"settings": "given"}, {"ledger": "memory://", "mode": "observe"}],
    ids=["mode", "settings", "two-overrides"],
)
def test_a_runtime_with_settings_beside_it_is_refused(
    beside: dict[str, Any], runtime: Runtime, mesh: Mesh
) -> None:
    if beside.get("settings") == "given":
        beside = {"settings": mesh.settings("b", B_URL, mode="off")}
    named = "runtime= carries its own settings"
    with pytest.raises(ConfigurationError, match=named):
        ECTWSGIMiddleware(Flask(__name__).wsgi_app, runtime=runtime, **beside)
    with pytest.raises(ConfigurationError, match=named):
        instrument_app(Starlette(), runtime=runtime, **beside)
    with pytest.raises(ConfigurationError, match=named):
        start_workflow("report", runtime=runtime, **beside)
    # ASGI: kept for the server's lifespan startup, which it fails; a request fails loudly
    asgi = ECTMiddleware(_hello(), runtime=runtime, **beside)
    assert asgi.runtime is None
    assert named in str(asgi.configuration_error)
    with pytest.raises(ConfigurationError, match=named):
        asyncio.run(_get(asgi))


def test_a_runtime_alone_is_used(runtime: Runtime) -> None:
    assert ECTMiddleware(_hello(), runtime=runtime).runtime is runtime
    assert ECTWSGIMiddleware(Flask(__name__).wsgi_app, runtime=runtime).runtime is runtime
    assert instrument_app(Starlette(), runtime=runtime) is not None


def _hello() -> Starlette:
    return Starlette(routes=[Route("/", lambda request: PlainTextResponse("hello"))])


async def _get(app: ECTMiddleware) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=B_URL) as client:
        await client.get("/")

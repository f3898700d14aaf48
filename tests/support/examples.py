"""Load the real example services (examples/*/main.py) as apps configured by environment."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import uuid
from collections.abc import Mapping
from typing import Any
from unittest import mock

from .mesh import Mesh
from .paths import EXAMPLES


def example_env(
    mesh: Mesh, name: str, url: str, peers: Mapping[str, str], ledger: str, **extra: str
) -> dict[str, str]:
    wl = mesh[name]
    return {
        "ECT_WORKLOAD_ID": wl.id,
        "ECT_KEY_FILE": str(wl.key_file),
        "ECT_WIT_FILE": str(wl.wit_file),
        "ECT_TRUST_BUNDLE": str(mesh.trust_bundle),
        "ECT_AUDIENCE": url,
        "ECT_PEERS": json.dumps({u: mesh[p].id for u, p in peers.items()}),
        "ECT_LEDGER": ledger,
        **extra,
    }


def load_example(framework: str, env: Mapping[str, str]) -> Any:
    """Import ``examples/<framework>_app/main.py`` afresh with ``env`` as its environment
    and return its app with the middleware already built (so it keeps that configuration)."""
    return load_example_app(f"{framework}_app", env, starlette=framework == "fastapi")


def load_example_app(folder: str, env: Mapping[str, str], *, starlette: bool = True) -> Any:
    """``load_example`` for any folder of examples/ (``mcp_server``, ``a2a_agent``)."""
    framework = folder
    path = EXAMPLES / folder / "main.py"
    spec = importlib.util.spec_from_file_location(f"example_{framework}_{uuid.uuid4().hex}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # pydantic resolves the models' annotations through it
    with mock.patch.dict(os.environ, env):
        spec.loader.exec_module(module)
        app = module.app
        if starlette:
            app.middleware_stack = app.build_middleware_stack()
    return app

"""The one-line API type-checks in an application checked with ``mypy --strict``."""

from __future__ import annotations

from pathlib import Path

import pytest

api = pytest.importorskip("mypy.api")

APP = """
from flask import Flask
from starlette.applications import Starlette

from ect_middleware import ECTMiddleware, ECTWSGIMiddleware, Settings

app = Starlette()
app.add_middleware(ECTMiddleware)
app.add_middleware(ECTMiddleware, settings=Settings.from_env())
app.add_middleware(ECTMiddleware, mode="observe")

flask_app = Flask(__name__)
flask_app.wsgi_app = ECTWSGIMiddleware(flask_app.wsgi_app)  # type: ignore[method-assign]
"""


def test_adding_the_middleware_type_checks(tmp_path: Path) -> None:
    module = tmp_path / "service.py"
    module.write_text(APP)
    stdout, stderr, status = api.run(
        ["--strict", "--no-incremental", "--cache-dir", str(tmp_path / "cache"), str(module)]
    )
    assert status == 0, stdout + stderr

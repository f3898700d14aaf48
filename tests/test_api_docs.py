"""The API reference builds from the docstrings with every warning an error, as
``python3 dev.py docs`` builds it: a docstring or annotation pdoc cannot read fails here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .support.paths import ROOT


def test_the_api_reference_builds_without_warnings(tmp_path: Path) -> None:
    out = tmp_path / "api"
    done = subprocess.run(
        [sys.executable, str(ROOT / "dev.py"), "docs", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert "API reference:" in done.stdout
    pages = {p.relative_to(out).as_posix() for p in out.rglob("*.html")}
    for page in (
        "ect_middleware.html",
        "ect_middleware/otel.html",
        "ect_middleware/testing.html",
        "ect_middleware_pytest.html",
        "ect_middleware/ledger/base.html",
        "ect_middleware/tokens/ect.html",
    ):
        assert page in pages, sorted(pages)
    assert not any("__main__" in page for page in pages)
    entry = (out / "ect_middleware" / "otel.html").read_text(encoding="utf-8")
    assert "request_started" in entry
    assert "ect.checkpoint" in entry  # the module docstring, rendered

"""The real ``ect`` command line, run in a fresh interpreter on this source tree."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .paths import SRC


def ect_cli(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m ect_middleware.cli *args`` with this test's ``ECT_*`` variables
    removed and ``env`` added; the timeout is a hang guard."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ECT_")}
    environment.update(PYTHONPATH=str(SRC), **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "ect_middleware.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environment,
        cwd=cwd,
        timeout=120,
        check=False,
    )

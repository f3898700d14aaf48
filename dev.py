#!/usr/bin/env python3
"""Set-up and tasks in one file that needs only Python 3.10+.

    python3 dev.py demo    # create/reuse .venv, install, run `ect demo`
    python3 dev.py test    # create/reuse .venv, install, run the whole test suite
    python3 dev.py lint    # ruff (lint + format check) and mypy
    python3 dev.py bench   # the benchmark runner
    python3 dev.py docs    # the API reference from the docstrings, into build/api (or DIR)

The virtualenv lives in .venv (or $ECT_VENV); it is re-installed only when pyproject.toml
changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("ECT_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
LINTED = ("src", "tests", "examples", "benchmarks", "docs", "dev.py")
EXTRAS = {"demo": "demo", "test": "dev", "lint": "dev", "bench": "bench", "docs": "dev"}


def ensure_venv(extra: str) -> None:
    if sys.version_info < (3, 10):
        sys.exit("ect-middleware needs Python 3.10 or newer")
    if not (BIN / "python").exists():
        print(f"creating virtualenv {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / f".installed-{extra}"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text() != digest:
        print(f"installing ect-middleware[{extra}] into {VENV}", flush=True)
        pip = [
            str(BIN / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ]
        subprocess.run([*pip, "--upgrade", "pip"], check=True)
        subprocess.run([*pip, "-e", f"{ROOT}[{extra}]"], check=True)
        stamp.write_text(digest)


def run(*cmd: str) -> int:
    return subprocess.run([str(BIN / cmd[0]), *cmd[1:]], cwd=ROOT).returncode


def main(argv: list[str]) -> int:
    task, rest = (argv[0], argv[1:]) if argv else ("help", [])
    if task not in EXTRAS:
        print(__doc__)
        return 0 if task == "help" else 2
    ensure_venv(EXTRAS[task])
    if task == "demo":
        return run("ect", "demo", *rest)
    if task == "test":
        return run("python", "-m", "pytest", *rest)
    if task == "lint":
        paths = [p for p in LINTED if (ROOT / p).exists()]
        return (
            run("ruff", "check", *paths) or run("ruff", "format", "--check", *paths) or run("mypy")
        )
    if task == "docs":
        return run("python", str(ROOT / "docs" / "api_reference.py"), *(rest or ["build/api"]))
    return run("python", "-m", "benchmarks", *rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

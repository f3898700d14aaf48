"""Where things are in this source tree."""

from __future__ import annotations

from pathlib import Path

#: The repository's root folder.
ROOT = Path(__file__).resolve().parents[2]
#: The folder that holds this tree's ``ect_middleware`` package.
SRC = ROOT / "src"
#: The example services (``examples/*/main.py``).
EXAMPLES = ROOT / "examples"
#: What tests leave for a human to look at (rendered audit pages, traces).
ARTIFACTS = ROOT / "test-artifacts"

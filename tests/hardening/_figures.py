"""Figures the hardening suites report at the end of the session (see conftest)."""

from __future__ import annotations

from collections import Counter

#: e.g. "fuzz inputs", "fuzz 5xx", "load requests", "faults injected", "entries lost"
FIGURES: Counter[str] = Counter()

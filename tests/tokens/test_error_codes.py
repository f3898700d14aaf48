"""Every error code the token layer can raise is registered in ``errors.CODES``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import ect_middleware.tokens
from ect_middleware.errors import CODES, ECTError

TOKENS_DIR = Path(ect_middleware.tokens.__file__).parent
KIND_PREFIX = {"WIT": ("wit",), "WPT": ("wpt",), "ECT": ("ect",)}
#: ``kind.error(...)`` in jws.py may be raised for any of the three kinds.
ANY_KIND = ("wit", "wpt", "ect")


def raised_codes() -> set[str]:
    codes: set[str] = set()
    for path in sorted(TOKENS_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            first = node.args[0]
            if not isinstance(first, ast.Constant) or not isinstance(first.value, str):
                continue
            func = node.func
            if isinstance(func, ast.Name) and func.id == "ECTError":
                codes.add(first.value)
            elif isinstance(func, ast.Attribute) and func.attr == "error":
                receiver = func.value.id if isinstance(func.value, ast.Name) else ""
                for prefix in KIND_PREFIX.get(receiver, ANY_KIND):
                    codes.add(f"{prefix}.{first.value}")
    return codes


def test_the_scan_finds_the_token_layer_codes() -> None:
    codes = raised_codes()
    assert {"wit.unknown_kid", "wpt.oth_unknown", "dag.too_many_parents"} <= codes
    assert len(codes) > 40


@pytest.mark.parametrize("code", sorted(raised_codes()))
def test_raised_code_is_registered(code: str) -> None:
    assert code in CODES


@pytest.mark.parametrize("code", sorted(CODES))
def test_registered_code_builds_a_problem_document(code: str) -> None:
    problem = ECTError(code, "detail").problem()
    assert problem["code"] == code
    assert problem["status"] in (400, 403, 429, 503)
    assert problem["type"] == f"urn:ect-middleware:error:{code}"

"""Every error code is registered in ``errors.CODES``, spelled in full there once, and
spelled in full wherever it is raised, so one grep finds its definition and its raise sites."""

from __future__ import annotations

import ast
import dataclasses
import re
import subprocess
from pathlib import Path

import pytest

import ect_middleware
from ect_middleware.errors import CODES, ECTError
from ect_middleware.tokens.jws import KINDS, KindCodes, TokenKind

SRC = Path(ect_middleware.__file__).parent
ERRORS = SRC / "errors.py"
#: what a code looks like: "<family>.<reason>"
CODE = re.compile(r"[a-z]+\.[a-z_]+")
#: the first argument of ``ECTError(...)`` when it is not a literal: a kind's shared code
#: (``kind.codes.malformed``), spelled in full where the kind is declared
SHARED = "kind.codes."


def _calls() -> list[tuple[Path, ast.Call]]:
    """Every call in src; ``super().__init__(...)`` in a subclass of ``ECTError`` is
    given as a call of ``ECTError``."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for cls in ast.walk(tree):
            if isinstance(cls, ast.ClassDef) and "ECTError" in map(ast.unparse, cls.bases):
                for node in ast.walk(cls):
                    if isinstance(node, ast.Call) and ast.unparse(node.func) == "super().__init__":
                        node.func = ast.Name("ECTError")
        found += [(path, node) for node in ast.walk(tree) if isinstance(node, ast.Call)]
    return found


def raised_codes() -> set[str]:
    """The codes spelled in src: first arguments of ``ECTError(...)`` and the values of
    ``KindCodes(...)``."""
    codes: set[str] = set()
    for _, node in _calls():
        name = ast.unparse(node.func)
        if name == "ECTError" and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                codes.add(first.value)
        elif name == "KindCodes":
            for keyword in node.keywords:
                assert isinstance(keyword.value, ast.Constant)
                codes.add(str(keyword.value.value))
    return codes


def test_the_scan_finds_the_codes_raised_in_src() -> None:
    codes = raised_codes()
    assert {"wit.unknown_kid", "wpt.oth_unknown", "dag.too_many_parents"} <= codes
    assert {"wpt.ath_mismatch", "caller.not_allowed", "ledger.unavailable"} <= codes
    assert len(codes) > 60


@pytest.mark.parametrize("code", sorted(raised_codes()))
def test_raised_code_is_registered(code: str) -> None:
    assert code in CODES


def test_every_raise_site_spells_its_code_in_full() -> None:
    """No code is assembled from pieces (``f"{kind}.missing"``): an ``ECTError`` gets a
    literal, or a kind's shared code."""
    indirect = []
    for path, node in _calls():
        if ast.unparse(node.func) != "ECTError":
            continue
        first = node.args[0]
        if isinstance(first, ast.Constant):
            continue
        text = ast.unparse(first)
        if not text.startswith(SHARED):
            indirect.append(f"{path.relative_to(SRC)}:{node.lineno}: {text}")
    assert indirect == []


def test_each_code_is_one_literal_key_of_the_table() -> None:
    """A key given twice in the table's literal would silently replace the first."""
    table = next(
        node
        for node in ast.walk(ast.parse(ERRORS.read_text()))
        if isinstance(node, ast.Dict) and node.keys
    )
    keys = [k.value for k in table.keys if isinstance(k, ast.Constant)]
    assert len(keys) == len(table.keys) == len(set(keys)) == len(CODES)
    assert all(CODE.fullmatch(str(k)) for k in keys)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_a_kinds_shared_codes_are_its_own(kind: TokenKind) -> None:
    for field in dataclasses.fields(KindCodes):
        code = getattr(kind.codes, field.name)
        assert code == f"{kind.name}.{field.name}"
        assert code in CODES


def test_grep_finds_where_a_code_is_defined_and_raised() -> None:
    found = subprocess.run(
        ["grep", "-rn", "--include=*.py", "wpt.audience_mismatch", str(SRC)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    files = {Path(line.split(":", 1)[0]).name for line in found.splitlines()}
    assert {"errors.py", "wpt.py"} <= files


@pytest.mark.parametrize("code", sorted(CODES))
def test_registered_code_builds_a_problem_document(code: str) -> None:
    problem = ECTError(code, "detail").problem()
    assert problem["code"] == code
    assert problem["status"] in (400, 403, 429, 503)
    assert problem["type"] == f"urn:ect-middleware:error:{code}"


def test_the_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        CODES["wit.missing"] = (500, "changed")  # type: ignore[index]

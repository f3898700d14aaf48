"""``ect inspect``, run as a real process: ``python -m ect_middleware.cli inspect ...``."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ect_middleware.tokens.encoding import sha256_b64url
from ect_middleware.tokens.wpt import Bindings, mint_wpt

from ..support.cli import SRC, ect_cli
from ..support.tokens import (
    A_ID,
    B_AUD,
    DROP,
    World,
    ect_claims,
    ect_header,
    edit,
    forge,
    segment,
    wit_claims,
    wit_header,
    world,
    wpt_header,
)

W = world("ES256")


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


def inspect(argument: str, stdin: str | None = None) -> Result:
    done = ect_cli("inspect", argument, stdin=stdin)
    return Result(done.returncode, done.stdout, done.stderr)


def problems(out: str) -> list[str]:
    _, _, listed = out.partition("problems:\n")
    return [line.removeprefix("  - ") for line in listed.splitlines()]


def now() -> int:
    return int(time.time())


def ect(**changes: Any) -> str:
    claims = edit(ect_claims(), **({"iat": now(), "exp": now() + 300} | changes))
    return forge(ect_header(W), claims, W.workload)


def wpt(w: World, **changes: Any) -> str:
    claims = {"aud": B_AUD, "exp": now() + 60, "jti": "j", "wth": sha256_b64url(w.wit)}
    return forge(wpt_header(w), edit(claims, **changes), w.workload)


def test_the_cli_under_test_is_this_tree() -> None:
    assert (SRC / "ect_middleware" / "cli" / "inspect.py").is_file()


def test_a_sound_ect_has_no_problems_and_the_signature_is_not_printed() -> None:
    token = ect()
    result = inspect(token)
    assert result.code == 0, result.err
    assert result.out.startswith('type: ECT (typ "wimse-exec+jwt")')
    assert '"exec_act": "review_document"' in result.out
    assert "problems: none found" in result.out
    assert "NOT verified" in result.out
    assert token.rsplit(".", 1)[1] not in result.out
    assert token not in result.out


def test_ect_with_several_problems_lists_them_all() -> None:
    claims = edit(
        ect_claims(),
        iat=now() - 600,
        exp=now() - 300,
        jti="task-1",
        exec_act=DROP,
        wid="workflow-7",
        par=[str(uuid.uuid4()), "parent"],
        pol="pii",
        ext={"k": "x" * 5000},
    )
    token = forge(edit(ect_header(W), jku="https://evil.example/keys"), claims, W.workload)
    result = inspect(token)
    assert result.code == 0
    assert problems(result.out) == [
        "forbidden header jku",
        "expired 5 minutes ago",
        "missing required claim exec_act",
        "jti is not a UUID",
        "par entries must be UUIDs",
        "wid is not a UUID",
        "ext is larger than 4096 bytes",
        "claim 'pol_decision' must be a non-empty string",
    ]
    assert "ago)" in result.out  # human-readable times, relative to now


def test_ect_rules_that_tie_claims_together() -> None:
    jti = str(uuid.uuid4())
    result = inspect(ect(jti=jti, par=[jti]))
    assert problems(result.out) == ["par entries must be distinct and not the task itself"]


def test_alg_none_wit_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "wit.jwt"
    header = edit(wit_header(W), alg="none")
    claims = edit(wit_claims(W), iat=now(), exp=now() + 60)
    path.write_text(f"{segment(header)}.{segment(claims)}.c2ln\n")
    result = inspect(f"@{path}")
    assert result.code == 0
    assert result.out.startswith('type: WIT (typ "wit+jwt")')
    assert problems(result.out) == ["alg none is never accepted"]


def test_hs256_and_a_private_cnf_key_are_flagged_and_the_key_masked() -> None:
    private = W.workload.to_private_jwk()
    claims = edit(wit_claims(W), iat=now(), exp=now() + 60, cnf={"jwk": private})
    token = forge(edit(wit_header(W), alg="HS256"), claims, W.issuer)
    result = inspect(token)
    assert problems(result.out) == [
        "alg HS256 is symmetric and never accepted",
        "cnf.jwk: a public JWK must not carry private key members",
    ]
    assert private["d"] not in result.out
    assert '"d": "<redacted>"' in result.out


def test_wpt_from_stdin() -> None:
    token = mint_wpt(W.workload, W.wit, B_AUD, Bindings(), lifetime=60, clock=time.time)
    result = inspect("-", stdin=token + "\n")
    assert result.code == 0
    assert result.out.startswith('type: WPT (typ "wpt+jwt")')
    assert "problems: none found" in result.out


def test_wpt_problems() -> None:
    result = inspect(wpt(W, aud=B_AUD + "?x=1", oth={"txn-token": "h"}, exp=now() + 3600))
    assert problems(result.out) == [
        "expires in 60 minutes, beyond the 300 s a WPT may live",
        "aud has a query or fragment; it must be the target URI without them",
        'oth binds "txn-token", which is not understood',
    ]


CASES: dict[str, tuple[Callable[[], str], str]] = {
    "unknown typ": (
        lambda: forge(edit(ect_header(W), typ="JWT"), ect_claims(), W.workload),
        'typ "JWT" is not a WIT, WPT or ECT type',
    ),
    "typ of another kind": (
        lambda: forge(edit(wpt_header(W), typ="wimse-exec+jwt"), {"sub": A_ID}, W.workload),
        "missing required claim iss",
    ),
    "non-canonical signature": (
        lambda: ect()[:-1] + "B",
        "not three base64url segments",
    ),
    "payload not JSON": (
        lambda: forge(ect_header(W), b"not json", W.workload),
        "payload is not a base64url-encoded JSON object",
    ),
    "issued in the future": (
        lambda: ect(iat=now() + 7200, exp=now() + 7500),
        "issued 2 hours in the future",
    ),
    "over 16 KiB": (
        lambda: ect(ext={"k": "x" * 13000}),
        "bytes, over the 16384-byte limit",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_problem_is_reported(case: str) -> None:
    make, expected = CASES[case]
    result = inspect(make())
    assert result.code == 0, result.err
    assert any(expected in line for line in problems(result.out)), result.out


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("hello", "not a JWS: expected 3 dot-separated segments, found 1"),
        ("a.b.c.d.e", "is this an encrypted JWE?"),
        ("bm90IGpzb24.e30.c2ln", "not a JWS: the first segment is not a base64url-encoded JSON"),
        ("@/nonexistent/token.jwt", "No such file or directory"),
    ],
)
def test_not_a_jws_exits_2_with_one_line(argument: str, message: str) -> None:
    result = inspect(argument)
    assert result.code == 2
    assert result.out == ""
    assert result.err.startswith("ect inspect: error: ")
    assert message in result.err
    assert result.err.count("\n") == 1


def test_a_draft_01_ect_shows_the_same_model_as_its_00_twin() -> None:
    parent = str(uuid.uuid4())
    policy = {"pol": "p", "pol_decision": "approved"}
    old = inspect(ect(par=[parent], ext={"k": 1}, **policy))
    new_claims = {"par": DROP, "pred": [parent], "ect_ext": {"k": 1, **policy}}
    new = forge(edit(ect_header(W), typ="exec+jwt"), edit(ect_claims(), **{
        "iat": now(), "exp": now() + 300, **new_claims}), W.workload)  # fmt: skip
    result = inspect(new)
    assert result.code == 0, result.err
    assert "problems: none found" in result.out
    model = result.out.split("model (the same for drafts -00 and -01):\n")[1].split("times:")[0]
    old_model = old.out.split("model (the same for drafts -00 and -01):\n")[1].split("times:")[0]
    assert "  draft: -01\n" in model
    assert model.replace("-01", "-00") == old_model
    assert f'  parents: ["{parent}"]' in model
    assert '  extension: {"k": 1}' in model


def test_an_ect_with_both_spellings_is_named() -> None:
    result = inspect(ect(pred=[]))
    assert "both par and pred are present" in problems(result.out)


def test_an_unsigned_l1_ect_is_recognised() -> None:
    result = inspect('{"iss": "spiffe://org-a.example/a", "pred": []}')
    assert result.code == 0, result.err
    assert "type: ECT" in result.out
    assert any("ect.unsigned" in p for p in problems(result.out))

"""Time at the edges (PROFILE §9: 60 s leeway): every time check of every token kind one
second inside and one second outside its leeway, and callers whose clocks are skewed by
±(leeway ± 1 s), through the three stacks."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ect_middleware.limits import Limits

from ..support.clock import NOW, MovableClock
from ..support.stacks import Stack
from ._cases import Case, run_accepted, run_attack
from ._hostile import Forger, Header

LEEWAY = Limits().leeway
assert LEEWAY == 60

Build = Callable[[Forger, str], list[Header]]


def wit(**claims: object) -> Build:
    return lambda f, url: f.headers(url, wit=f.wit(claims=claims))


def wpt(**claims: object) -> Build:
    return lambda f, url: f.headers(url, wpt_claims=claims)


def ect(**claims: object) -> Build:
    return lambda f, url: f.headers(url, ects=[f.ect(claims=claims)])


#: (name, request with a token one second inside the leeway, one second outside, code)
EDGES: list[tuple[str, Build, Build, str]] = [
    ("WIT exp", wit(exp=NOW - LEEWAY + 1), wit(exp=NOW - LEEWAY - 1), "wit.expired"),
    ("WPT exp", wpt(exp=NOW - LEEWAY + 1), wpt(exp=NOW - LEEWAY - 1), "wpt.expired"),
    ("ECT exp", ect(exp=NOW - LEEWAY + 1), ect(exp=NOW - LEEWAY - 1), "ect.expired"),
    ("ECT iat", ect(iat=NOW + LEEWAY - 1), ect(iat=NOW + LEEWAY + 1), "ect.issued_in_future"),
    ("WIT nbf", wit(nbf=NOW + LEEWAY - 1), wit(nbf=NOW + LEEWAY + 1), "wit.not_yet_valid"),
    ("WPT nbf", wpt(nbf=NOW + LEEWAY - 1), wpt(nbf=NOW + LEEWAY + 1), "wpt.not_yet_valid"),
    ("ECT nbf", ect(nbf=NOW + LEEWAY - 1), ect(nbf=NOW + LEEWAY + 1), "ect.not_yet_valid"),
    ("WPT lifetime", wpt(exp=NOW + 300 + LEEWAY), wpt(exp=NOW + 300 + LEEWAY + 1),
     "wpt.lifetime_exceeded"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "inside", "outside", "code"), EDGES, ids=[e[0] for e in EDGES])
def test_one_second_inside_and_outside_the_leeway(
    hostile_stack: Stack, forger: Forger, name: str, inside: Build, outside: Build, code: str
) -> None:
    run_accepted(hostile_stack, inside(forger, hostile_stack.url("/context")))
    run_attack(hostile_stack, forger, Case(name, outside, code))


#: A caller whose clock is ``skew`` seconds off mints with the usual lifetimes (WPT 60 s,
#: ECT 300 s): what the service at NOW must say.
SKEWS: list[tuple[int, str | None]] = [
    (LEEWAY - 1, None),
    (LEEWAY + 1, "ect.issued_in_future"),  # its ECT's iat is beyond the leeway
    (-(LEEWAY - 1), None),
    (-(LEEWAY + 1), None),  # its WPT expired a second ago: within the leeway
    (-(60 + LEEWAY - 1), None),
    (-(60 + LEEWAY + 1), "wpt.expired"),  # its WPT expired 61 s ago
]


@pytest.mark.parametrize(("skew", "code"), SKEWS, ids=[f"{s:+d}s" for s, _ in SKEWS])
def test_skewed_caller_clock(
    hostile_stack: Stack,
    forger: Forger,
    server_clock: MovableClock,
    skew: int,
    code: str | None,
) -> None:
    # The caller's clock is ``skew`` ahead of the service's: the service's is behind.
    build = ect()  # tokens minted at NOW by the caller's clock
    with server_clock.shifted(-skew):
        if code is None:
            run_accepted(hostile_stack, build(forger, hostile_stack.url("/context")))
        else:
            run_attack(hostile_stack, forger, Case(f"skew {skew:+d}", build, code))

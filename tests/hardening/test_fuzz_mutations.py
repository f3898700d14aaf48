"""Byte-level mutations of valid tokens, against both in-process middlewares.

One of the three tokens of a valid request (WIT, WPT or ECT) is mutated: bits flipped,
octets set, inserted, deleted, duplicated, the token truncated, its segments swapped,
dropped, repeated or spliced in from the other tokens, letters' case swapped, padding and
whitespace added. The WPT is then bound to whatever the mutated WIT or Execution-Context
became, so that every mutation reaches the parser of the token it hits.

The oracle: never a 5xx; a mutation is accepted only when the service's own normalisation
(trimming whitespace around a value and around each comma-separated ECT) gives back the
original token exactly, and then it must be accepted.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ..support.mesh import Mesh
from ._figures import FIGURES
from ._fuzzing import ects_in, raw, share, target

KINDS = ("wit", "wpt", "ect")

OPS = (
    "flip", "set", "insert", "delete", "truncate", "duplicate", "swap-segments", "drop-segment",
    "repeat-segment", "splice-segment", "swap-case", "pad", "wrap",
)  # fmt: skip
#: Octets that mean something to a parser: separators, padding, whitespace, line breaks, NUL,
#: a UTF-8 sequence, a quote and a brace.
SPECIAL = (b" ", b"\t", b",", b", ", b".", b"=", b"\r\n", b"\x00", b"\xc3\xa9", b'"', b"}")


def mutate(token: bytes, rnd: random.Random, donors: Sequence[bytes]) -> tuple[bytes, list[str]]:
    """1 to 3 random mutations of ``token``; returns it and the names of what was done."""
    done = []
    for _ in range(rnd.randint(1, 3)):
        name = rnd.choice(OPS)
        data = rnd.choice(SPECIAL) if rnd.random() < 0.5 else rnd.randbytes(rnd.randint(1, 8))
        token = apply(token, name, rnd.randrange(2**16), rnd.randrange(2**16), data, donors)
        done.append(name)
    return token, done


def apply(token: bytes, name: str, i: int, j: int, data: bytes, donors: Sequence[bytes]) -> bytes:
    if not token:  # truncated to nothing by an earlier mutation: nothing left to alter
        return data
    n = len(token)
    at = i % (n + 1)
    segments = token.split(b".")
    s = i % len(segments)
    if name == "flip":
        at %= n
        return token[:at] + bytes([token[at] ^ (1 << (j % 8))]) + token[at + 1 :]
    if name == "set":
        at %= n
        return token[:at] + data[:1] + token[at + 1 :]
    if name == "insert":
        return token[:at] + data + token[at:]
    if name == "delete":
        return token[:at] + token[at + 1 + j % 16 :]
    if name == "truncate":
        return token[:at]
    if name == "duplicate":
        return token[:at] + token[at : at + 1 + j % 32] + token[at:]
    if name == "swap-segments":
        t = j % len(segments)
        segments[s], segments[t] = segments[t], segments[s]
        return b".".join(segments)
    if name == "drop-segment":
        return b".".join(segments[:s] + segments[s + 1 :])
    if name == "repeat-segment":
        return b".".join([*segments[: s + 1], segments[s], *segments[s + 1 :]])
    if name == "splice-segment":
        donor = donors[j % len(donors)].split(b".")
        segments[s] = donor[s % len(donor)]
        return b".".join(segments)
    if name == "swap-case":
        at %= n
        return token[:at] + token[at : at + 1].swapcase() + token[at + 1 :]
    if name == "pad":
        return token + b"=" * (1 + j % 3)
    # "wrap": whitespace or other octets around the token
    return data + token if j % 2 else token + data


def equivalent(kind: str, mutated: bytes, original: str) -> bool:
    """Whether the service, trimming as it does, reads back exactly ``original``."""
    text = mutated.decode("latin-1")
    if kind == "ect":
        return [t.strip() for t in text.split(",")] == [original]
    return "," not in text and text.strip() == original


@pytest.mark.parametrize("driver", ["wsgi", "asgi"])
def test_mutated_tokens_are_never_accepted(driver: str, hostile_mesh: Mesh) -> None:
    seen = 0
    with target(driver, hostile_mesh) as t:
        f = t.forger

        @share(0.45 / 2)
        @given(kind=st.sampled_from(KINDS), rnd=st.randoms(use_true_random=True))
        def run(kind: str, rnd: random.Random) -> None:
            nonlocal seen
            seen += 1
            ect, wit = f.ect(t.caller), f.mesh[t.caller].wit
            wpt = f.wpt(t.url, caller=t.caller, ects=ect)
            original = {"wit": wit, "wpt": wpt, "ect": ect}[kind]
            donors = [wit.encode(), wpt.encode(), ect.encode()]
            mutated, mutations = mutate(original.encode(), rnd, donors)
            text = mutated.decode("latin-1")
            if kind == "wit":  # bind the WPT to the mutated WIT, as an attacker would
                wpt = f.wpt(t.url, caller=t.caller, wit=text.strip(), ects=ect)
            if kind == "ect":  # bind the WPT to the ECTs as the service will read them
                joined = ", ".join(p.strip() for p in text.split(","))
                wpt = f.wpt(t.url, caller=t.caller, ects=joined)
            values = {"wit": wit.encode(), "wpt": wpt.encode(), "ect": ect.encode()}
            values[kind] = mutated
            headers = raw(
                [
                    ("Workload-Identity-Token", values["wit"]),
                    ("Workload-Proof-Token", values["wpt"]),
                    ("Execution-Context", values["ect"]),
                ]
            )
            status, body = t.call(headers)
            same = equivalent(kind, mutated, original)
            if status == 200 and not same:
                FIGURES["fuzz accepted mutations"] += 1
            assert status == (200 if same else 400), (kind, mutations, body)
            if status == 200:
                t.accepted_ects += len(ects_in(headers))

        run()
        t.check_ledger()
    assert seen >= share(0.45 / 2).max_examples

"""Header values from hostile clients, against both in-process middlewares.

Each of the three WIMSE headers is, independently: the valid value, absent, sent twice,
the valid value plus a second hostile line, or a hostile value (arbitrary octets,
base64url-ish text with dots, commas and padding, huge values, parser-significant
strings); other headers (Authorization, Txn-Token, Host, look-alike names) are added at
random. The oracle: never a 5xx; any deviation in a WIMSE header is a 400; a request whose
WIMSE headers are all valid is accepted unless an added Authorization or Txn-Token header
is one its WPT does not bind (or, in WSGI, an underscore name that reads as a WIMSE one).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ..support.mesh import Mesh
from ._fuzzing import ects_in, raw, share, target

NAMES = {
    "wit": b"Workload-Identity-Token",
    "wpt": b"Workload-Proof-Token",
    "ect": b"Execution-Context",
}
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

hostile_values = st.one_of(
    st.binary(max_size=300),
    st.text(alphabet=B64URL + ".,=+/ \t", max_size=600).map(str.encode),
    st.text(max_size=100).map(lambda s: s.encode("utf-8")),
    st.tuples(st.integers(16 * 1024 - 2, 70 * 1024), st.sampled_from([b"A", b".", b",", b"e"])).map(
        lambda nc: nc[1] * nc[0]
    ),
    st.sampled_from(
        [b"", b" ", b",", b", ,", b"\x00", b"\xff\xfe", b"null", b"{}", b"a.b.c", b"..",
         b"e30.e30.e30", b"eyJhbGciOiJub25lIn0.e30.", b"e30.e30.e30, e30.e30.e30"]
    ),
)  # fmt: skip
choices = st.sampled_from(["valid", "absent", "twice", "valid+hostile", "hostile"])
extra_names = st.sampled_from(
    [b"authorization", b"txn-token", b"host", b"x-forwarded-host", b"workload_identity_token",
     b"workload-identity-token-2", b"execution-contexts", b"content-type"]
)  # fmt: skip


@pytest.mark.parametrize("driver", ["wsgi", "asgi"])
def test_hostile_header_values(driver: str, hostile_mesh: Mesh) -> None:
    seen = 0
    with target(driver, hostile_mesh) as t:
        f = t.forger

        @share(0.30 / 2)
        @given(
            plan=st.fixed_dictionaries(
                {kind: st.tuples(choices, hostile_values) for kind in NAMES}
            ),
            extra=st.lists(st.tuples(extra_names, hostile_values), max_size=3),
        )
        def run(plan: dict[str, tuple[str, bytes]], extra: list[tuple[bytes, bytes]]) -> None:
            nonlocal seen
            seen += 1
            ect = f.ect(t.caller)
            sent = raw(f.headers(t.url, caller=t.caller, ects=[ect]))
            valid = {kind: value for kind, (_, value) in zip(NAMES, sent, strict=True)}
            headers: list[tuple[bytes, bytes]] = []
            for kind, (choice, value) in plan.items():
                name = NAMES[kind]
                if choice in ("valid", "twice", "valid+hostile"):
                    headers.append((name, valid[kind]))
                if choice == "twice":
                    headers.append((name, valid[kind]))
                if choice in ("valid+hostile", "hostile"):
                    headers.append((name, value))
            headers.extend(extra)
            status, body = t.call(headers)
            deviates = any(choice != "valid" for choice, _ in plan.values())
            # A bearer or Txn-Token the WPT does not bind is refused, another scheme is not;
            # a WSGI environ cannot tell "a_b" from "a-b" (waitress drops such names).
            binds = any(n in (b"authorization", b"txn-token") or b"_" in n for n, _ in extra)
            if deviates:
                assert status == 400, (plan, extra, body)
            elif not binds:
                assert status == 200, (plan, extra, body)
            if status == 200:
                t.accepted_ects += len(ects_in(headers))

        run()
        t.check_ledger()
    assert seen >= share(0.30 / 2).max_examples

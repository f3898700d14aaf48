"""I-JSON (RFC 7493): a NaN or an infinity is not JSON. A token whose header or claims hold
one (``NaN``, ``Infinity``, ``-Infinity``, or a literal too large for a double) is refused
when it is parsed, for every token kind: in the claims with the kind's ``claims_invalid``
code, in the JOSE header with its ``malformed``; and nothing of it is recorded."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ect_middleware.runtime import Runtime

from ..support.clock import NOW
from ..support.mesh import Mesh
from ._hostile import Forger
from ._service import BASE, served

#: Each non-I-JSON number as its JSON text (Python writes the first three; the last reads
#: as an infinity).
NUMBERS = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity", "huge": "1e400"}


def _with_number(claims: dict[str, Any], where: str, literal: str) -> bytes:
    """``claims`` as JSON with ``literal`` spliced in at ``where`` (a claim, or ext.v)."""
    marker = "__number__"
    claims = {**claims, "ext": {"v": marker}} if where == "ext" else {**claims, where: marker}
    return json.dumps(claims).replace(f'"{marker}"', literal).encode()


@pytest.mark.parametrize("number", sorted(NUMBERS))
@pytest.mark.parametrize(
    ("kind", "where"),
    [("wit", "x"), ("wpt", "x"), ("ect", "x"), ("ect", "ext"), ("ect", "iat"), ("ect", "jose")],
)
def test_a_non_ijson_number_is_refused_at_parse_time(
    kind: str, where: str, number: str, hostile_mesh: Mesh, forger: Forger
) -> None:
    literal = NUMBERS[number]
    runtime = Runtime(hostile_mesh.settings("b", BASE, clock=lambda: float(NOW)))
    url = BASE + "/x"
    with served(runtime) as client:
        if kind == "wit":
            wit = forger.wit(claims=_with_number(forger.wit_claims(), where, literal))
            headers = forger.headers(url, wit=wit)
        elif kind == "wpt":
            claims = _with_number(forger.wpt_claims(url), where, literal)
            headers = forger.headers(url, wpt_claims=None, wpt=forger.wpt(url, claims=claims))
        elif where == "jose":
            key = hostile_mesh["a"].key
            header = f'{{"alg":"{key.alg}","typ":"wimse-exec+jwt","kid":"{key.kid}","x":{literal}}}'
            headers = forger.headers(url, ects=[forger.ect(header=header.encode())])
        else:
            ect = forger.ect(claims=_with_number(forger.ect_claims(), where, literal))
            headers = forger.headers(url, ects=[ect])
        response = client.get("/x", headers=headers)
        assert response.status_code == 400
        expected = "malformed" if where == "jose" else "claims_invalid"
        assert response.json()["code"] == f"{kind}.{expected}"
        assert [e.direction for e in runtime.ledger.entries()] == ["minted"]  # the rejection


def test_a_finite_number_still_verifies(hostile_mesh: Mesh, forger: Forger) -> None:
    runtime = Runtime(hostile_mesh.settings("b", BASE, clock=lambda: float(NOW)))
    with served(runtime) as client:
        ect = forger.ect(claims=_with_number(forger.ect_claims(), "ext", "1.5e300"))
        response = client.get("/x", headers=forger.headers(BASE + "/x", ects=[ect]))
        assert response.status_code == 200

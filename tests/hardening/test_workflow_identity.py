"""PROFILE §6's workflow identity rule, against a caller that plays with ``jti`` and
``wid``: a task is its ``jti`` (a UUID, in any case) whatever its workflow, received or
minted; the ECTs of one request are all of one workflow or all of none; a parent
resolves only within the child's workflow (or among tasks of none)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from ect_middleware.ledger import LedgerEntry
from ect_middleware.runtime import Runtime
from ect_middleware.tokens.jws import read_payload

from ..support.clock import NOW
from ..support.mesh import Mesh
from ._hostile import DROP, Forger
from ._service import BASE, served


@contextmanager
def service(mesh: Mesh, **overrides: Any) -> Iterator[tuple[httpx.Client, Runtime]]:
    runtime = Runtime(mesh.settings("b", BASE, clock=lambda: float(NOW), **overrides))
    with served(runtime) as client:
        yield client, runtime


def send(client: httpx.Client, forger: Forger, *ects: str, caller: str = "a") -> httpx.Response:
    return client.get("/x", headers=forger.headers(BASE + "/x", caller=caller, ects=list(ects)))


def received(runtime: Runtime) -> list[LedgerEntry]:
    return [e for e in runtime.ledger.entries() if e.direction == "received"]


def code(response: httpx.Response) -> str:
    return str(response.json()["code"])


def test_one_jti_with_and_without_wid_on_one_request_is_refused(
    hostile_mesh: Mesh, forger: Forger
) -> None:
    jti = str(uuid.uuid4())
    with service(hostile_mesh) as (client, runtime):
        response = send(
            client,
            forger,
            forger.ect(claims={"jti": jti, "wid": DROP}),
            forger.ect(claims={"jti": jti}),
        )
        assert response.status_code == 400
        assert code(response) in ("ect.wid_mismatch", "ect.replayed")
        assert received(runtime) == []


def test_an_ect_without_wid_and_one_with_are_checked_together(
    hostile_mesh: Mesh, forger: Forger
) -> None:
    x, y = str(uuid.uuid4()), str(uuid.uuid4())
    with service(hostile_mesh) as (client, runtime):
        cycle = send(
            client,
            forger,
            forger.ect(claims={"jti": x, "par": [y], "wid": DROP}),
            forger.ect(claims={"jti": y, "par": [x]}),
        )
        late_parent = send(
            client,
            forger,
            forger.ect(claims={"par": [x], "wid": DROP, "iat": NOW - 800, "exp": NOW + 50}),
            forger.ect(claims={"jti": x, "iat": NOW}),
        )
        for response in (cycle, late_parent):
            assert response.status_code == 400
            assert code(response) == "ect.wid_mismatch"
        assert received(runtime) == []


def test_a_jti_this_service_minted_cannot_be_presented_to_it(
    hostile_mesh: Mesh, forger: Forger
) -> None:
    with service(hostile_mesh) as (client, runtime):
        first = send(client, forger, forger.ect())
        assert first.status_code == 200
        completion = read_payload(first.headers["execution-context"]) or {}
        minted = str(completion["jti"])
        assert [e.direction for e in runtime.ledger.find(minted)] == ["minted"]
        for jti in (minted, minted.upper()):
            again = send(client, forger, forger.ect(claims={"jti": jti}))
            assert (again.status_code, code(again)) == (400, "ect.replayed")
        assert [e.direction for e in runtime.ledger.find(minted)] == ["minted"]


def test_an_ect_without_wid_resolves_parents_only_among_tasks_of_no_workflow(
    hostile_mesh: Mesh, forger: Forger
) -> None:
    wid = str(uuid.uuid4())
    with service(hostile_mesh, dag_mode="strict") as (client, runtime):
        parent = forger.ect(claims={"wid": wid})
        assert send(client, forger, parent).status_code == 200
        parent_jti = received(runtime)[0].jti
        orphan = send(client, forger, forger.ect(claims={"par": [parent_jti], "wid": DROP}))
        assert (orphan.status_code, code(orphan)) == (400, "dag.parent_unknown")
        child = send(client, forger, forger.ect(claims={"par": [parent_jti], "wid": wid}))
        assert child.status_code == 200  # within its workflow it resolves
        root = str(uuid.uuid4())
        assert (
            send(client, forger, forger.ect(claims={"jti": root, "wid": DROP})).status_code == 200
        )
        for in_workflow in (DROP, wid):  # a task of no workflow is a parent for either
            later = send(client, forger, forger.ect(claims={"par": [root], "wid": in_workflow}))
            assert later.status_code == 200


def test_upper_and_lower_case_spellings_of_one_uuid_are_one_task(
    hostile_mesh: Mesh, forger: Forger
) -> None:
    jti, other, wid = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    with service(hostile_mesh) as (client, runtime):
        assert send(client, forger, forger.ect(claims={"jti": jti})).status_code == 200
        again = send(client, forger, forger.ect(claims={"jti": jti.upper()}))
        assert (again.status_code, code(again)) == (400, "ect.replayed")
        twice = send(
            client,
            forger,
            forger.ect(claims={"jti": other, "wid": wid}),
            forger.ect(claims={"jti": other.upper(), "wid": wid}),
        )
        assert (twice.status_code, code(twice)) == (400, "ect.replayed")
        child = send(client, forger, forger.ect(claims={"par": [other.upper()], "wid": wid}))
        assert child.status_code == 200
        assert received(runtime)[-1].par == (other,)  # recorded in the one spelling
        assert next(e.jti for e in received(runtime)) == jti

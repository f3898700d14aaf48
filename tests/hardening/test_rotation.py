"""Key rotation while traffic flows: no request may fail.

Org A (the caller's trust domain) rotates its WIT issuer key: the trust bundle file is
rewritten to hold the old and the new key (in place, as an operator's editor does, so the
service may catch it half-written), the caller's WIT is reissued under the new key
(``devkit.reissue_wit``), the service's own WIT file is reissued too, and finally the old
key is dropped from the bundle (atomically this time). The service re-reads both files on
its own (``watched.py``). Three client threads keep calling it throughout, each request
with the WIT currently on disk, a fresh WPT and a fresh ECT, and each checks the
completion ECT of every response against the WIT that came with it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from ect_middleware import Settings
from ect_middleware.devkit import reissue_wit
from ect_middleware.ledger import open_ledger, verify_chain
from ect_middleware.limits import Limits
from ect_middleware.tokens.ect import mint_ect, verify_ect
from ect_middleware.tokens.keys import generate_signing_key
from ect_middleware.tokens.trust import TrustBundle
from ect_middleware.tokens.wit import WITVerifier
from ect_middleware.tokens.wpt import Bindings, mint_wpt

from ..support.mesh import ORG_A, Mesh
from .conftest import open_stack_b

RELOAD = 2.5  # seconds of traffic after each step: more than watched.py's 1 s interval


class Traffic:
    """Client threads calling /context as workload a until stopped."""

    def __init__(self, mesh: Mesh, client: httpx.Client, url: str) -> None:
        self.mesh, self.client, self.url = mesh, client, url
        self.ok = 0
        self.failures: list[Any] = []
        self.server_wits: set[str] = set()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run) for _ in range(3)]

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def _run(self) -> None:
        a, limits = self.mesh["a"], Limits()
        trust = TrustBundle.load(self.mesh.trust_bundle)  # org B's issuer does not rotate
        wits = WITVerifier(lambda: trust, limits, time.time)
        while not self._stop.is_set():
            wit = a.wit_file.read_text().strip()  # whatever is on disk now
            ect = mint_ect(a.key, iss=a.id, aud=self.mesh["b"].id, par=[], exec_act="rotate",
                           wid=str(uuid.uuid4()), limits=limits, clock=time.time)  # fmt: skip
            wpt = mint_wpt(a.key, wit, self.url, Bindings(execution_context=ect.token),
                           lifetime=60, clock=time.time)  # fmt: skip
            headers = {
                "Workload-Identity-Token": wit,
                "Workload-Proof-Token": wpt,
                "Execution-Context": ect.token,
            }
            try:
                response = self.client.get(self.url, headers=headers)
                server_wit = response.headers["workload-identity-token"]
                verified = wits.verify(server_wit)
                completion = response.headers["execution-context"]
                verify_ect(completion, verified, {a.id}, limits, time.time)
                assert response.status_code == 200, response.text
            except Exception as exc:  # every failure is recorded, none stops the traffic
                with self._lock:
                    self.failures.append(repr(exc)[:300])
                continue
            with self._lock:
                self.ok += 1
                self.server_wits.add(server_wit)


def write_in_place(path: Path, data: dict[str, Any]) -> None:
    """Truncate and rewrite, in two writes: a reader may see it empty or half-written."""
    text = json.dumps(data, indent=2).encode()
    with open(path, "r+b") as handle:
        handle.truncate(0)
        handle.write(text[: len(text) // 2])
        handle.flush()
        time.sleep(0.05)
        handle.write(text[len(text) // 2 :])


def write_atomically(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


@pytest.mark.parametrize("kind", ["uvicorn", "wsgi"])
def test_issuer_key_and_wit_rotation_under_traffic(kind: str, tmp_path: Path) -> None:
    mesh = Mesh(tmp_path / "ids")  # the real clock
    ids = mesh.identities
    bundle_path = mesh.trust_bundle
    original = json.loads(bundle_path.read_text())
    old_a_wit, old_b_wit = mesh["a"].wit, mesh["b"].wit
    new_issuer = generate_signing_key("ES256")
    new_issuer_file = tmp_path / "org-a-issuer-2.jwk"
    new_issuer_file.write_text(json.dumps(new_issuer.to_private_jwk()))
    rotated = dataclasses.replace(ids, issuers={**ids.issuers, ORG_A: new_issuer_file})
    both = {**original, ORG_A: {"keys": [*original[ORG_A]["keys"], dict(new_issuer.public.jwk)]}}
    only_new = {**original, ORG_A: {"keys": [dict(new_issuer.public.jwk)]}}

    ledger = f"sqlite:///{tmp_path / 'b.db'}"
    with open_stack_b(kind, mesh, time.time, ledger) as stack:
        url = stack.url("/context")
        with Traffic(mesh, stack.client, url) as traffic:
            time.sleep(1.0)
            write_in_place(bundle_path, both)  # 1. the bundle holds the old and the new key
            time.sleep(RELOAD)
            reissue_wit(rotated, mesh["a"].id)  # 2. the caller's WIT, under the new key
            reissue_wit(ids, mesh["b"].id)  # 3. the service's own WIT file is replaced
            time.sleep(RELOAD)
            write_atomically(bundle_path, only_new)  # 4. the old key is gone
            time.sleep(RELOAD)
        # The old key is really gone: a WIT it issued is now refused.
        stale = stale_request(mesh, url, old_a_wit)
        assert stack.client.get(url, headers=stale).json()["code"] == "wit.unknown_kid"

    assert traffic.failures == []
    assert traffic.ok >= 20
    new_b_wit = mesh["b"].wit_file.read_text().strip()
    assert {old_b_wit, new_b_wit} <= traffic.server_wits  # the service picked up its new WIT
    with_ledger(stack.settings, traffic.ok)


def stale_request(mesh: Mesh, url: str, wit: str) -> dict[str, str]:
    wpt = mint_wpt(mesh["a"].key, wit, url, Bindings(), lifetime=60, clock=time.time)
    return {"Workload-Identity-Token": wit, "Workload-Proof-Token": wpt}


def with_ledger(settings: Settings, accepted: int) -> None:
    ledger = open_ledger(settings.ledger)
    try:
        entries = list(ledger.entries())
        assert verify_chain(entries, ledger.head()).ok
    finally:
        ledger.close()
    assert sum(e.direction == "received" for e in entries) == accepted

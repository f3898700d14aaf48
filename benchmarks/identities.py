"""Development identities for the benchmarks, and a caller that builds valid requests.

Three workloads: the *caller* sends requests to the *service* (the one being measured),
which calls the *peer*. All use ES256, the algorithm every implementation must support.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ect_middleware import Settings
from ect_middleware.devkit import create_dev_identities, slug
from ect_middleware.limits import Limits, system_clock
from ect_middleware.tokens.ect import mint_ect
from ect_middleware.tokens.keys import SigningKey, load_signing_key
from ect_middleware.tokens.wpt import Bindings, mint_wpt

CALLER = "spiffe://org-a.example/agent/caller"
SERVICE = "spiffe://org-b.example/agent/service"
PEER = "spiffe://org-b.example/agent/peer"
SERVICE_URL = "http://service.internal"
PEER_URL = "http://peer.internal"
PATH = "/work"


@dataclass(frozen=True)
class Identities:
    folder: Path
    trust_bundle: Path
    caller_key: SigningKey
    caller_wit: str
    service_key: SigningKey
    service_key_file: Path
    service_wit_file: Path

    def settings(self, ledger: str, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "workload_id": SERVICE,
            "key_file": str(self.service_key_file),
            "wit_file": str(self.service_wit_file),
            "trust_bundle": str(self.trust_bundle),
            "audience": (SERVICE_URL,),
            "peers": {PEER_URL: PEER},
            "ledger": ledger,
        }
        values.update(overrides)
        return Settings(**values).validated()

    def request_headers(
        self,
        *,
        par: Sequence[str] | None = None,
        wid: str | None = None,
        each: Sequence[Sequence[str]] | None = None,
    ) -> list[tuple[str, str]]:
        """Fresh, valid headers for one request from the caller: its WIT, a WPT bound to the
        service's URL and one ECT. Its parents are ``par``, by default one task unknown to
        the service (point to point: the caller's earlier task is in the caller's ledger).
        With ``each``, one ECT per entry of it, whose parents that entry lists."""
        wid = wid or str(uuid.uuid4())
        pars = [[str(uuid.uuid4())] if par is None else par] if each is None else each
        tokens = [
            mint_ect(
                self.caller_key,
                iss=CALLER,
                aud=SERVICE,
                par=parents,
                exec_act="plan",
                wid=wid,
                limits=Limits(),
                clock=system_clock,
            ).token
            for parents in pars
        ]
        joined = ", ".join(tokens)
        wpt = mint_wpt(
            self.caller_key,
            self.caller_wit,
            SERVICE_URL + PATH,
            Bindings(execution_context=joined),
            lifetime=60,
            clock=system_clock,
        )
        return [
            ("workload-identity-token", self.caller_wit),
            ("workload-proof-token", wpt),
            ("execution-context", joined),
            ("content-type", "application/json"),
        ]


def create(folder: Path) -> Identities:
    """New keys, WITs and a trust bundle in ``folder``."""
    create_dev_identities(folder, [CALLER, SERVICE, PEER])
    return load(folder)


def load(folder: Path) -> Identities:
    """The identities ``create`` wrote (another process, e.g. a server, reads them back)."""

    def files(workload: str) -> tuple[Path, Path]:
        base = folder / "workloads" / slug(workload)
        return base / "key.pem", base / "wit.jwt"

    caller_key, caller_wit = files(CALLER)
    service_key, service_wit = files(SERVICE)
    return Identities(
        folder=folder,
        trust_bundle=folder / "trust-bundle.json",
        caller_key=load_signing_key(caller_key),
        caller_wit=caller_wit.read_text().strip(),
        service_key=load_signing_key(service_key),
        service_key_file=service_key,
        service_wit_file=service_wit,
    )

"""Development identities for tests, and a caller that builds valid WIMSE requests."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ect_middleware import Settings
from ect_middleware.devkit import DevIdentities, create_dev_identities
from ect_middleware.limits import Clock, Limits, system_clock
from ect_middleware.tokens.ect import ECTClaims, mint_ect
from ect_middleware.tokens.keys import SigningKey, load_signing_key
from ect_middleware.tokens.wpt import Bindings, mint_wpt

ORG_A = "spiffe://org-a.example"
ORG_B = "spiffe://org-b.example"
WORKLOADS = {
    "a": f"{ORG_A}/agent/a",
    "b": f"{ORG_B}/agent/b",
    "c": f"{ORG_A}/agent/c",
    "mallory": f"{ORG_B}/agent/mallory",
}


@dataclass(frozen=True)
class Workload:
    name: str
    id: str
    key: SigningKey
    wit: str
    key_file: Path
    wit_file: Path


class Mesh:
    """Workloads a, c in org A (ES256) and b, mallory in org B (Ed25519)."""

    def __init__(self, folder: Path, clock: Clock = system_clock) -> None:
        self.clock = clock
        self.identities: DevIdentities = create_dev_identities(
            folder, list(WORKLOADS.values()), algorithms={ORG_B: "EdDSA"}, clock=clock
        )
        self.trust_bundle = self.identities.trust_bundle
        self.workloads = {}
        for name, wid in WORKLOADS.items():
            files = self.identities.workloads[wid]
            self.workloads[name] = Workload(
                name,
                wid,
                load_signing_key(files.key_file),
                files.wit_file.read_text().strip(),
                files.key_file,
                files.wit_file,
            )

    def __getitem__(self, name: str) -> Workload:
        return self.workloads[name]

    def settings(self, name: str, audience: str, **overrides: Any) -> Settings:
        wl = self.workloads[name]
        values: dict[str, Any] = {
            "workload_id": wl.id,
            "key_file": str(wl.key_file),
            "wit_file": str(wl.wit_file),
            "trust_bundle": str(self.trust_bundle),
            "audience": (audience,),
            "ledger": "memory://",
            "clock": self.clock,
        }
        values.update(overrides)
        return Settings(**values).validated()

    def ect(
        self,
        issuer: str,
        aud: str,
        *,
        par: Sequence[str] = (),
        wid: str | None = None,
        exec_act: str = "test.task",
        **extra: Any,
    ) -> ECTClaims:
        return mint_ect(
            self.workloads[issuer].key,
            iss=self.workloads[issuer].id,
            aud=aud,
            par=par,
            exec_act=exec_act,
            wid=wid or str(uuid.uuid4()),
            limits=Limits(),
            clock=self.clock,
            **extra,
        )

    def headers(
        self,
        caller: str,
        url: str,
        ects: Sequence[str] = (),
        *,
        authorization: str | None = None,
    ) -> dict[str, str]:
        """Valid WIMSE headers for one request by ``caller`` to ``url``."""
        wl = self.workloads[caller]
        joined = ", ".join(ects) if ects else None
        bindings = Bindings(Bindings.bearer_from(authorization), None, joined)
        target = url.split("?", 1)[0]
        headers = {
            "Workload-Identity-Token": wl.wit,
            "Workload-Proof-Token": mint_wpt(
                wl.key, wl.wit, target, bindings, lifetime=60, clock=self.clock
            ),
        }
        if joined:
            headers["Execution-Context"] = joined
        if authorization:
            headers["Authorization"] = authorization
        return headers

"""Development identities for tests, and a caller that builds valid WIMSE requests.

The signing is the public test plugin's (``ect_middleware.testing.Identity``): what users'
tests rely on is what these tests run on. ``Mesh`` adds what the plugin's ``DevTrust``
does not make: two trust domains with different algorithms (ES256 and Ed25519).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ect_middleware import Settings
from ect_middleware.devkit import DevIdentities, create_dev_identities
from ect_middleware.limits import Clock, Limits, system_clock
from ect_middleware.testing import Identity
from ect_middleware.tokens.ect import ECTClaims, mint_ect
from ect_middleware.tokens.keys import SigningKey, load_signing_key

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
        self.identities_by_name: dict[str, Identity] = {}
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
            self.identities_by_name[name] = Identity(
                wid, files.key_file, files.wit_file, self.trust_bundle, clock
            )

    def __getitem__(self, name: str) -> Workload:
        return self.workloads[name]

    def identity(self, name: str) -> Identity:
        """The workload as the public test plugin's ``Identity`` (which signs for it)."""
        return self.identities_by_name[name]

    def settings(self, name: str, audience: str, **overrides: Any) -> Settings:
        return self.identity(name).settings(audience=audience, **overrides)

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
        """An ECT by ``issuer``; ``extra`` claims the public plugin does not set (``jti``,
        ``inp_hash``...) go straight to ``mint_ect``, with the same key and clock."""
        if not extra.keys() - {"policy", "ext", "limits"}:
            return self.identity(issuer).ect(aud, par=par, wid=wid, exec_act=exec_act, **extra)
        workload = self.workloads[issuer]
        return mint_ect(
            workload.key,
            iss=workload.id,
            aud=aud,
            par=par,
            exec_act=exec_act,
            wid=wid or str(uuid.uuid4()),
            limits=extra.pop("limits", None) or Limits(),
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
        """Valid WIMSE headers for one request by ``caller`` to ``url`` (and the
        ``Authorization`` header the WPT is bound to, if any)."""
        headers = self.identity(caller).headers(url, ects, authorization=authorization)
        if authorization:
            headers["Authorization"] = authorization
        return headers

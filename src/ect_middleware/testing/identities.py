"""Development identities for tests: one folder of issuers, workload keys, WITs and a trust
bundle, and what a workload needs to call a service (its WIMSE headers, its ECTs)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import Settings
from ..devkit import create_dev_identities
from ..limits import Clock, Limits, system_clock
from ..tokens.ect import ECTClaims, Policy, mint_ect
from ..tokens.keys import SigningKey, load_signing_key
from ..tokens.wpt import Bindings, mint_wpt

#: The base URL the test clients use, and so the audience a service under test answers to.
BASE_URL = "http://testserver"
WPT_LIFETIME = 60


@dataclass(frozen=True)
class Identity:
    """A development workload: its key and WIT files, and the trust bundle that vouches
    for it. It can sign requests to another service, or be the service under test."""

    workload_id: str
    key_file: Path
    wit_file: Path
    trust_bundle: Path
    clock: Clock = field(default=system_clock, compare=False, repr=False)

    @property
    def key(self) -> SigningKey:
        return load_signing_key(self.key_file)

    @property
    def wit(self) -> str:
        """The current WIT (re-read: ``DevTrust.reissue`` replaces it)."""
        return self.wit_file.read_text(encoding="ascii").strip()

    def ect(
        self,
        aud: str,
        *,
        wid: str | None = None,
        par: Sequence[str] = (),
        exec_act: str = "test.call",
        policy: Policy | None = None,
        ext: Mapping[str, Any] | None = None,
        limits: Limits | None = None,
    ) -> ECTClaims:
        """An ECT issued by this workload for ``aud`` (a workload id): a new workflow
        unless ``wid`` is given, descending from the tasks in ``par``."""
        return mint_ect(
            self.key,
            iss=self.workload_id,
            aud=aud,
            par=par,
            exec_act=exec_act,
            wid=wid or str(uuid.uuid4()),
            limits=limits or Limits(),
            clock=self.clock,
            policy=policy,
            ext=ext,
        )

    def headers(
        self,
        url: str,
        ects: Sequence[str] = (),
        *,
        authorization: str | None = None,
        txn_token: str | None = None,
    ) -> dict[str, str]:
        """Valid WIMSE headers for one request by this workload to ``url``: its WIT, a
        fresh WPT bound to the URL (without query) and to the other tokens, and ``ects``."""
        joined = ", ".join(ects) if ects else None
        bindings = Bindings(Bindings.bearer_from(authorization), txn_token, joined)
        target = url.split("?", 1)[0].split("#", 1)[0]
        wit = self.wit
        headers = {
            "Workload-Identity-Token": wit,
            "Workload-Proof-Token": mint_wpt(
                self.key, wit, target, bindings, lifetime=WPT_LIFETIME, clock=self.clock
            ),
        }
        if joined:
            headers["Execution-Context"] = joined
        return headers

    def env(self, *, audience: str = BASE_URL, ledger: str = "memory://") -> dict[str, str]:
        """The ``ECT_*`` variables that make a service run as this workload."""
        return {
            "ECT_WORKLOAD_ID": self.workload_id,
            "ECT_KEY_FILE": str(self.key_file),
            "ECT_WIT_FILE": str(self.wit_file),
            "ECT_TRUST_BUNDLE": str(self.trust_bundle),
            "ECT_AUDIENCE": audience,
            "ECT_LEDGER": ledger,
        }

    def settings(self, *, audience: str = BASE_URL, **overrides: Any) -> Settings:
        """``Settings`` for a service running as this workload (an in-memory ledger unless
        ``ledger=`` says otherwise); keyword arguments are ``Settings`` fields."""
        values: dict[str, Any] = {
            "workload_id": self.workload_id,
            "key_file": str(self.key_file),
            "wit_file": str(self.wit_file),
            "trust_bundle": str(self.trust_bundle),
            "audience": (audience,),
            "ledger": "memory://",
            "clock": self.clock,
        }
        values.update(overrides)
        return Settings(**values).validated()


class DevTrust:
    """Development trust domains in one folder: an issuer per trust domain, made when its
    first workload is, and one trust bundle for all of them."""

    def __init__(self, folder: str | Path, *, clock: Clock = system_clock) -> None:
        self.folder = Path(folder)
        self.clock = clock
        self.trust_bundle = self.folder / "trust-bundle.json"
        self._identities: dict[str, Identity] = {}

    def identity(self, workload_id: str) -> Identity:
        """The workload ``workload_id`` (e.g. ``spiffe://example.test/caller``), made on
        first use with a WIT from its trust domain's development issuer."""
        found = self._identities.get(workload_id)
        if found is None:
            made = create_dev_identities(self.folder, [workload_id], clock=self.clock)
            files = made.workloads[workload_id]
            found = Identity(
                workload_id, files.key_file, files.wit_file, made.trust_bundle, self.clock
            )
            self._identities[workload_id] = found
        return found

"""Development identities: a local WIT issuer per trust domain, workload keys, WITs and a
trust bundle, written to a folder. For the demo, tests and local experiments only; in
production WITs come from your workload identity provider.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .limits import Clock, system_clock
from .tokens.identifiers import is_workload_id, trust_domain
from .tokens.keys import SigningKey, generate_signing_key, load_signing_key
from .tokens.trust import TrustBundle
from .tokens.wit import mint_wit

DEFAULT_WIT_LIFETIME = 24 * 3600


@dataclass(frozen=True)
class DevWorkload:
    workload_id: str
    folder: Path
    key_file: Path
    wit_file: Path
    env_file: Path


@dataclass(frozen=True)
class DevIdentities:
    folder: Path
    trust_bundle: Path
    issuers: Mapping[str, Path]  # trust domain origin -> private issuer JWK file
    workloads: Mapping[str, DevWorkload]


def dev_issuer(domain: str) -> str:
    """The ``iss`` of development WITs: the trust domain origin, since the development
    issuer is the one authority of its trust domain (workload-creds recommends an ``iss``)."""
    return domain


def slug(workload_id: str) -> str:
    """A file-name-safe name for a workload identifier."""
    return re.sub(r"[^A-Za-z0-9.-]+", "-", workload_id.split("://", 1)[1]).strip("-")


def create_dev_identities(
    folder: str | Path,
    workload_ids: Sequence[str],
    *,
    algorithms: Mapping[str, str] | None = None,
    default_alg: str = "ES256",
    wit_lifetime: int = DEFAULT_WIT_LIFETIME,
    clock: Clock = system_clock,
    audiences: Mapping[str, str] | None = None,
) -> DevIdentities:
    """Create (or extend) a development identity folder.

    ``algorithms`` maps a trust domain origin to the algorithm of its issuer and workload
    keys. Existing issuer keys in ``folder`` are reused, so workloads can be added later.
    ``audiences`` maps a workload identifier to the public base URL it is served at: its
    ``ect.env`` then sets ``ECT_AUDIENCE``, and ``ECT_PEERS`` names the other workloads
    given one, so the env files of a set of services are complete.
    """
    folder = Path(folder)
    algorithms = algorithms or {}
    audiences = audiences or {}
    invalid = [w for w in [*workload_ids, *audiences] if not is_workload_id(w)]
    if invalid:
        raise ValueError(f"not a workload identifier: {invalid[0]}")
    stray = [w for w in audiences if w not in workload_ids]
    if stray:
        raise ValueError(f"an audience for a workload not being created: {stray[0]}")
    issuers: dict[str, SigningKey] = {}
    issuer_files: dict[str, Path] = {}
    for domain in dict.fromkeys(trust_domain(w) for w in workload_ids):
        path = folder / "issuers" / f"{slug(domain + '/')}.jwk"
        if path.exists():
            issuers[domain] = load_signing_key(path)
        else:
            issuers[domain] = generate_signing_key(algorithms.get(domain, default_alg))
            _write_private(path, json.dumps(issuers[domain].to_private_jwk(), indent=2))
        issuer_files[domain] = path

    bundle_path = folder / "trust-bundle.json"
    bundle = TrustBundle.load(bundle_path).to_json() if bundle_path.exists() else {}
    for domain, issuer in issuers.items():
        keys = bundle.setdefault(domain, {"keys": []})["keys"]
        if all(k.get("kid") != issuer.kid for k in keys):
            keys.append(dict(issuer.public.jwk))
    bundle_path.parent.mkdir(parents=True, exist_ok=True)
    bundle_path.write_text(json.dumps(bundle, indent=2) + "\n")

    workloads: dict[str, DevWorkload] = {}
    for workload_id in workload_ids:
        domain = trust_domain(workload_id)
        key = generate_signing_key(algorithms.get(domain, default_alg))
        wl_folder = folder / "workloads" / slug(workload_id)
        wl = DevWorkload(
            workload_id,
            wl_folder,
            wl_folder / "key.pem",
            wl_folder / "wit.jwt",
            wl_folder / "ect.env",
        )
        _write_private(wl.key_file, key.to_pem().decode("ascii"))
        wit = mint_wit(
            issuers[domain],
            workload_id,
            key.public,
            lifetime=wit_lifetime,
            clock=clock,
            iss=dev_issuer(domain),
        )
        wl.wit_file.write_text(wit + "\n")
        wl.env_file.write_text(_env_file(wl, bundle_path, audiences))
        workloads[workload_id] = wl
    return DevIdentities(folder, bundle_path, issuer_files, workloads)


def _env_file(wl: DevWorkload, bundle: Path, audiences: Mapping[str, str]) -> str:
    """The workload's settings, one ``NAME='value'`` a line: what a POSIX shell sources
    (``set -a; . ./ect.env; set +a``) and a dotenv reader (``uvicorn --env-file``) reads."""
    values = {
        "ECT_WORKLOAD_ID": wl.workload_id,
        "ECT_KEY_FILE": str(wl.key_file.resolve()),
        "ECT_WIT_FILE": str(wl.wit_file.resolve()),
        "ECT_TRUST_BUNDLE": str(bundle.resolve()),
        "ECT_LEDGER": f"sqlite:///{(wl.folder / 'ledger.db').resolve()}",
    }
    peers = {url: w for w, url in audiences.items() if w != wl.workload_id}
    if peers:
        values["ECT_PEERS"] = json.dumps(peers)
    lines = [f"{name}={shlex.quote(value)}" for name, value in values.items()]
    audience = audiences.get(wl.workload_id)
    if audience:
        lines.append(f"ECT_AUDIENCE={shlex.quote(audience)}")
    else:
        lines.append("# ECT_AUDIENCE is required: the public base URL this service is reached at")
        lines.append("# (ect dev-identity --audience URL writes it)")
    return "\n".join(lines) + "\n"


def reissue_wit(
    identities: DevIdentities,
    workload_id: str,
    *,
    wit_lifetime: int = DEFAULT_WIT_LIFETIME,
    clock: Clock = system_clock,
) -> str:
    """Mint a fresh WIT for an existing workload key and replace its WIT file atomically."""
    wl = identities.workloads[workload_id]
    issuer = load_signing_key(identities.issuers[trust_domain(workload_id)])
    key = load_signing_key(wl.key_file)
    domain = trust_domain(workload_id)
    wit = mint_wit(
        issuer, workload_id, key.public, lifetime=wit_lifetime, clock=clock, iss=dev_issuer(domain)
    )
    tmp = wl.wit_file.with_suffix(".tmp")
    tmp.write_text(wit + "\n")
    os.replace(tmp, wl.wit_file)
    return wit


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text if text.endswith("\n") else text + "\n")

"""The trust bundle: per trust domain, the WIT issuers' public keys (CONTRACT §3, PROFILE §3.1).

Keys come only from configuration, never from URLs or keys found in a token. The bundle is
one JSON object mapping each trust domain to its keys, in whichever form they are published:

* an object with ``keys`` (a JWKS, or a SPIFFE trust bundle document with
  ``spiffe_sequence``/``spiffe_refresh_hint`` and keys carrying ``use``), optionally with
  ``issuer`` (the ``iss`` every WIT of the domain must carry);
* a string: the path of a file holding such a document (a JWKS or SPIFFE bundle as
  published); relative paths are resolved against the bundle file's directory, or against
  the working directory for a bundle given as JSON in memory;
* an object with ``file`` (that path) and ``issuer``.

Only keys that may sign JWTs are taken: ``use`` absent, ``jwt-svid`` or ``sig``. A SPIFFE
bundle's ``x509-svid`` keys (and ``enc`` keys) are skipped, never trusted for WITs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError, ECTError
from .jws import UnverifiedToken
from .keys import InvalidKey, VerificationKey, public_key_from_jwk, same_algorithm_family

#: ``use`` values of keys that may sign WITs (a SPIFFE bundle's JWT-SVID keys, RFC 7517 sig).
SIGNING_USES = frozenset({"jwt-svid", "sig"})
_ENTRY_MEMBERS = frozenset({"keys", "spiffe_sequence", "spiffe_refresh_hint", "file", "issuer"})
_EXPECTED_SHAPE = (
    '{"spiffe://org-a.example": {"keys": [...]}, "spiffe://org-b.example": "org-b.jwks.json"}'
)


@dataclass(frozen=True)
class TrustBundle:
    domains: Mapping[str, tuple[VerificationKey, ...]]
    #: trust domain -> the WIT ``iss`` values accepted for it (domains without: any or none)
    issuers: Mapping[str, frozenset[str]] = field(default_factory=dict, kw_only=True)

    @classmethod
    def from_json(cls, data: Any, base: Path | None = None, source: str = "") -> TrustBundle:
        """The bundle ``data`` describes; relative file paths resolve against ``base`` (the
        working directory when None). ``source`` names the bundle in error messages."""
        where = f"trust bundle {source}".rstrip()
        if not isinstance(data, dict):
            raise ConfigurationError(f"{where} must be a JSON object of trust domains")
        if isinstance(data.get("keys"), list):
            raise ConfigurationError(
                f"{where} is a bare JWKS; a trust bundle maps each trust domain to its keys, "
                f"e.g. {_EXPECTED_SHAPE}"
            )
        domains: dict[str, tuple[VerificationKey, ...]] = {}
        issuers: dict[str, frozenset[str]] = {}
        for origin, entry in data.items():
            domain = f"{where}: {origin}"
            if isinstance(entry, str):
                entry = {"file": entry}
            if not isinstance(entry, dict):
                raise ConfigurationError(f"{domain}: expected keys, a file path or an object")
            unknown = sorted(set(entry) - _ENTRY_MEMBERS)
            if unknown:
                raise ConfigurationError(f"{domain}: unknown member {unknown[0]!r}")
            if "file" in entry and "keys" in entry:
                raise ConfigurationError(f"{domain}: give keys inline or a file, not both")
            document: Mapping[str, Any] = entry
            if "file" in entry:
                document, domain = _read_document(entry["file"], base, domain)
            domains[origin] = _signing_keys(document, domain)
            if "issuer" in entry:
                issuers[origin] = _issuers(entry["issuer"], f"{where}: {origin}")
        return cls(domains, issuers=issuers)

    @classmethod
    def load(cls, path: str | Path) -> TrustBundle:
        data = _read_json(Path(path), f"trust bundle {path}")
        return cls.from_json(data, Path(path).parent, str(path))

    @classmethod
    def from_setting(cls, text: str) -> TrustBundle:
        """A bundle given inline as JSON (``ECT_TRUST_BUNDLE={...}``): its relative file
        paths resolve against the working directory."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigurationError(
                f"ECT_TRUST_BUNDLE is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
            ) from None
        except RecursionError:
            raise ConfigurationError("ECT_TRUST_BUNDLE is not JSON") from None
        return cls.from_json(data, None, "ECT_TRUST_BUNDLE")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for origin, keys in self.domains.items():
            entry: dict[str, Any] = {"keys": [dict(k.jwk) for k in keys]}
            if origin in self.issuers:
                entry["issuer"] = sorted(self.issuers[origin])
            out[origin] = entry
        return out

    def check_issuer(self, domain: str, iss: object) -> None:
        """A domain configured with issuers accepts only WITs whose ``iss`` is one of them."""
        expected = self.issuers.get(domain)
        if expected is not None and iss not in expected:
            raise ECTError("wit.issuer_mismatch", "iss is not the trust domain's configured issuer")

    def issuer_key(self, domain: str, wit: UnverifiedToken) -> VerificationKey:
        """Select the one key of ``domain`` that may have signed ``wit``, bound to its alg."""
        keys = self.domains.get(domain)
        if keys is None:
            raise ECTError("wit.untrusted_domain", "trust domain is not in the trust bundle")
        kid = wit.kid
        if kid is None:
            if len(keys) != 1:
                raise ECTError("wit.unknown_kid", "no kid and the trust domain has several keys")
            key = keys[0]
        else:
            matching = [k for k in keys if k.kid == kid]
            if not matching:
                raise ECTError("wit.unknown_kid", "kid not found for this trust domain")
            key = matching[0]
        if not same_algorithm_family(wit.alg, key.alg):
            raise ECTError("wit.alg_not_allowed", "alg does not match the issuer key")
        return key


def _read_json(path: Path, what: str) -> Any:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"cannot read {what}: {exc.strerror}") from None
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(
            f"{what} is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except (ValueError, RecursionError):  # RecursionError: JSON nested too deeply
        raise ConfigurationError(f"{what} is not JSON") from None


def _read_document(file: object, base: Path | None, domain: str) -> tuple[Mapping[str, Any], str]:
    if not isinstance(file, str) or not file:
        raise ConfigurationError(f"{domain}: the file must be a non-empty path")
    path = Path(file)
    if not path.is_absolute() and base is not None:
        path = base / path
    where = f"{domain} (file {path})"
    document = _read_json(path, where)
    if not isinstance(document, dict):
        raise ConfigurationError(f"{where} must be a JWKS or SPIFFE bundle JSON object")
    return document, where


def _signing_keys(document: Mapping[str, Any], where: str) -> tuple[VerificationKey, ...]:
    keys = document.get("keys")
    if not isinstance(keys, list) or not keys:
        raise ConfigurationError(f"{where} needs a non-empty 'keys' list")
    for member in ("spiffe_sequence", "spiffe_refresh_hint"):
        value = document.get(member)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ConfigurationError(f"{where}: {member} must be an integer")
    out = []
    for number, jwk in enumerate(keys, 1):
        use = jwk.get("use") if isinstance(jwk, dict) else None
        if use is not None and use not in SIGNING_USES:
            continue  # an X.509-SVID or encryption key: never a WIT signer
        try:
            out.append(public_key_from_jwk(jwk))
        except InvalidKey as exc:
            raise ConfigurationError(f"{where}: key {number}: {exc}") from None
    if not out:
        raise ConfigurationError(f"{where} has no key usable for JWT signatures (use jwt-svid)")
    return tuple(out)


def _issuers(value: object, where: str) -> frozenset[str]:
    values = [value] if isinstance(value, str) else value
    if (
        not isinstance(values, list)
        or not values
        or not all(isinstance(v, str) and v for v in values)
    ):
        raise ConfigurationError(f"{where}: issuer must be a string or a list of strings")
    return frozenset(values)


def is_inline(setting: str) -> bool:
    """True when ``ECT_TRUST_BUNDLE`` holds the bundle itself rather than a file path."""
    return setting.lstrip().startswith("{")

"""The trust bundle: per trust domain, the WIT issuers' public keys (CONTRACT §3).

Keys come only from this configured file, never from URLs or keys found in a token.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from .jws import WIT, UnverifiedToken
from .keys import InvalidKey, VerificationKey, public_key_from_jwk, same_algorithm_family


@dataclass(frozen=True)
class TrustBundle:
    domains: Mapping[str, tuple[VerificationKey, ...]]

    @classmethod
    def from_json(cls, data: Any) -> TrustBundle:
        if not isinstance(data, dict):
            raise ConfigurationError("trust bundle must be a JSON object of trust domains")
        domains: dict[str, tuple[VerificationKey, ...]] = {}
        for origin, entry in data.items():
            keys = entry.get("keys") if isinstance(entry, dict) else None
            if not isinstance(keys, list) or not keys:
                raise ConfigurationError(f"trust bundle: {origin} needs a non-empty 'keys' list")
            try:
                domains[origin] = tuple(public_key_from_jwk(k) for k in keys)
            except InvalidKey as exc:
                raise ConfigurationError(f"trust bundle: {origin}: {exc}") from None
        return cls(domains)

    @classmethod
    def load(cls, path: str | Path) -> TrustBundle:
        try:
            data = json.loads(Path(path).read_bytes())
        except OSError as exc:
            raise ConfigurationError(f"cannot read trust bundle {path}: {exc.strerror}") from None
        except (ValueError, RecursionError):  # RecursionError: JSON nested too deeply
            raise ConfigurationError(f"trust bundle {path} is not JSON") from None
        return cls.from_json(data)

    def to_json(self) -> dict[str, Any]:
        return {o: {"keys": [dict(k.jwk) for k in ks]} for o, ks in self.domains.items()}

    def issuer_key(self, domain: str, wit: UnverifiedToken) -> VerificationKey:
        """Select the one key of ``domain`` that may have signed ``wit``, bound to its alg."""
        keys = self.domains.get(domain)
        if keys is None:
            raise WIT.error("untrusted_domain", "trust domain is not in the trust bundle")
        kid = wit.kid
        if kid is None:
            if len(keys) != 1:
                raise WIT.error("unknown_kid", "no kid and the trust domain has several keys")
            key = keys[0]
        else:
            matching = [k for k in keys if k.kid == kid]
            if not matching:
                raise WIT.error("unknown_kid", "kid not found for this trust domain")
            key = matching[0]
        if not same_algorithm_family(wit.alg, key.alg):
            raise WIT.error("alg_not_allowed", "alg does not match the issuer key")
        return key

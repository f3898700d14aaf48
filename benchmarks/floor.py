"""The crypto floor: what the signatures of one request cost with ``cryptography`` alone.

The middleware's own count of signature operations is observed on a real request (the
python-jose key classes are wrapped while one request runs), then the floor is that many
raw ``cryptography`` verifications and signatures: no JOSE encoding, no JSON, no base64,
no DER conversion (the signatures to verify are converted beforehand, outside the timing).

The floor's steps (``inbound``, ``outbound``, ``completion``) are those of
``benchmarks/placed.py``: ``run`` does them back to back, the "crypto floor in place"
variant at their places in the bare app.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from ect_middleware.tokens.encoding import b64url_decode
from ect_middleware.tokens.keys import PrivateKeyTypes, PublicKeyTypes

from .apps import Headers
from .identities import Identities

#: The signatures made in the outbound transport, before the peer is called: the outbound
#: ECT and its WPT. The request's other signatures (the completion ECT) come once the app
#: has answered.
OUTBOUND_SIGNATURES = 2


@dataclass(frozen=True)
class OpCount:
    verify: int
    sign: int

    def __str__(self) -> str:
        return f"{self.verify} verifications + {self.sign} signatures"

    @property
    def outbound_signs(self) -> int:
        return min(OUTBOUND_SIGNATURES, self.sign)

    @property
    def completion_signs(self) -> int:
        return self.sign - self.outbound_signs


@contextmanager
def count_signature_ops(*key_objects: Any) -> Iterator[dict[str, float]]:
    """Count ``sign``/``verify`` calls on the python-jose key classes of ``key_objects``,
    and add up the time spent in them (``seconds``)."""
    counts = {"sign": 0.0, "verify": 0.0, "seconds": 0.0}
    patched: list[tuple[type, str, Callable[..., Any]]] = []
    for cls in {type(k) for k in key_objects}:
        for name in ("sign", "verify"):
            original = getattr(cls, name)

            def counting(self: Any, *args: Any, _o: Any = original, _n: str = name) -> Any:
                counts[_n] += 1
                start = time.perf_counter()
                try:
                    return _o(self, *args)
                finally:
                    counts["seconds"] += time.perf_counter() - start

            patched.append((cls, name, original))
            setattr(cls, name, counting)
    try:
        yield counts
    finally:
        for cls, name, original in patched:
            setattr(cls, name, original)


class CryptoFloor:
    """Raw verifications with the caller's public key and signatures with the service's
    private key, as many per request as the middleware does."""

    def __init__(self, caller: PublicKeyTypes, service: PrivateKeyTypes, ops: OpCount) -> None:
        self._caller = caller
        self._service = service
        self.ops = ops

    def prepare(self, headers: Headers) -> list[tuple[bytes, bytes]]:
        """(signing input, signature in cryptography's form) of the request's WPT and ECTs,
        repeated to the counted number of verifications."""
        tokens = [v for k, v in headers if k in ("workload-proof-token", "execution-context")]
        pairs = [self._split(t) for t in tokens]
        return [pairs[i % len(pairs)] for i in range(self.ops.verify)]

    def run(self, prepared: list[list[tuple[bytes, bytes]]]) -> None:
        """The signature operations of ``len(prepared)`` requests, back to back."""
        for request in prepared:
            self.inbound(request)
            self.outbound(request)
            self.completion(request)

    def inbound(self, request: list[tuple[bytes, bytes]]) -> None:
        """Before the app: the verifications of the request's WPT and ECT."""
        verify = self._verify
        for message, signature in request:
            verify(signature, message)

    def outbound(self, request: list[tuple[bytes, bytes]]) -> None:
        """In the transport, before the peer is called: the outbound ECT and WPT."""
        self._signs(request, self.ops.outbound_signs)

    def completion(self, request: list[tuple[bytes, bytes]]) -> None:
        """Once the app has answered: the completion ECT."""
        self._signs(request, self.ops.completion_signs)

    def _signs(self, request: list[tuple[bytes, bytes]], count: int) -> None:
        message = request[0][0] if request else b"x" * 600
        for _ in range(count):
            self._sign(message)

    def _split(self, token: str) -> tuple[bytes, bytes]:
        signing_input, _, encoded = token.rpartition(".")
        raw = b64url_decode(encoded)
        if isinstance(self._caller, ec.EllipticCurvePublicKey):
            half = len(raw) // 2
            raw = encode_dss_signature(
                int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
            )
        return signing_input.encode("ascii"), raw

    def _verify(self, signature: bytes, message: bytes) -> None:
        key = self._caller
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        elif isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, message)
        else:
            raise TypeError("the benchmark identities are ES256 or Ed25519")

    def _sign(self, message: bytes) -> None:
        key = self._service
        if isinstance(key, ec.EllipticCurvePrivateKey):
            key.sign(message, ec.ECDSA(hashes.SHA256()))
        elif isinstance(key, ed25519.Ed25519PrivateKey):
            key.sign(message)
        else:
            raise TypeError("the benchmark identities are ES256 or Ed25519")


def count_ops(ids: Identities, call: Callable[[Headers], int]) -> OpCount:
    """The signature operations of one request through ``call``, once the caller's WIT is
    cached (the first request verifies it; later ones find it in the cache)."""
    call(ids.request_headers())
    headers = ids.request_headers()  # minted by the caller: not counted
    with count_signature_ops(ids.service_key.jose_key, ids.caller_key.public.jose_key) as n:
        status = call(headers)
    if status != 200:
        raise RuntimeError(f"the counted request was answered {status}")
    return OpCount(int(n["verify"]), int(n["sign"]))


def in_request_signature_time(
    ids: Identities, run_batch: Callable[[list[Headers]], object]
) -> float:
    """Seconds per request spent in the same signature operations *inside* requests
    (python-jose's key calls: the cryptography call and a DER conversion): with the
    request's code between them, caches are cold, and each costs more than in the floor's
    tight loop."""
    batch: list[Headers] = [ids.request_headers() for _ in range(200)]
    with count_signature_ops(ids.service_key.jose_key, ids.caller_key.public.jose_key) as n:
        run_batch(batch)
    return n["seconds"] / len(batch)

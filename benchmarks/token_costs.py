"""One ECT verified and one minted, next to python-jose's own calls for the signature
(``Key.verify``, ``Key.sign``: what CONTRACT §1 makes every implementation pay; and
``jws.sign``, the whole-token call ``tokens/jws.py`` no longer makes) and the raw
``cryptography`` cost of the same operation, measured interleaved in one run (medians,
best of three rounds).

    python -m benchmarks.token_costs
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from jose import jws

from ect_middleware.limits import Limits
from ect_middleware.tokens.ect import ECTClaims, mint_ect, verify_ect
from ect_middleware.tokens.encoding import b64url_decode
from ect_middleware.tokens.jws import ECT
from ect_middleware.tokens.keys import generate_signing_key
from ect_middleware.tokens.trust import TrustBundle
from ect_middleware.tokens.wit import WITVerifier, mint_wit

AUDIENCE = "spiffe://b.example/agent/b"


def median_us(fn: Callable[[], object], n: int) -> float:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e6


def measure(alg: str, n: int = 1500) -> dict[str, float]:
    issuer, key = generate_signing_key(alg), generate_signing_key(alg)
    bundle = TrustBundle.from_json({"spiffe://a.example": {"keys": [dict(issuer.public.jwk)]}})
    wit_token = mint_wit(
        issuer, "spiffe://a.example/agent/a", key.public, lifetime=3600, clock=time.time
    )
    wit = WITVerifier(lambda: bundle, Limits(), time.time).verify(wit_token)

    def mint() -> ECTClaims:
        return mint_ect(
            key, iss=wit.sub, aud=AUDIENCE, par=[str(uuid.uuid4())], exec_act="task",
            wid=str(uuid.uuid4()), limits=Limits(), clock=time.time,
        )  # fmt: skip

    token = mint().token
    message = token.rsplit(".", 1)[0].encode()
    payload, raw_signature = (b64url_decode(part) for part in token.split(".")[1:])
    headers = {"typ": ECT.typ, "kid": key.kid}
    private = key.private
    if isinstance(private, ec.EllipticCurvePrivateKey):
        ecdsa = ec.ECDSA(hashes.SHA256())
        der = private.sign(message, ecdsa)
        public_ec = private.public_key()
        raw_sign: Callable[[], object] = lambda: private.sign(message, ecdsa)  # noqa: E731
        raw_verify: Callable[[], object] = lambda: public_ec.verify(der, message, ecdsa)  # noqa: E731
    else:
        assert isinstance(private, ed25519.Ed25519PrivateKey)
        signature, public_ed = private.sign(message), private.public_key()
        raw_sign = lambda: private.sign(message)  # noqa: E731
        raw_verify = lambda: public_ed.verify(signature, message)  # noqa: E731
    cases = {
        "verify ECT": lambda: verify_ect(token, wit, {AUDIENCE}, Limits(), time.time),
        "jose verify": lambda: key.public.jose_key.verify(message, raw_signature),
        "raw verify": raw_verify,
        "mint ECT": mint,
        "jws.sign": lambda: jws.sign(payload, key.jose_key, headers=headers, algorithm=alg),
        "jose sign": lambda: key.jose_key.sign(message),
        "raw sign": raw_sign,
    }
    best: dict[str, float] = {}
    for _ in range(3):  # interleaved rounds: a busy machine slows every case alike
        for name, fn in cases.items():
            best[name] = min(best.get(name, float("inf")), median_us(fn, n))
    return best


#: column -> the raw operation it is compared with
COLUMNS = {
    "verify ECT": "raw verify",
    "jose verify": "raw verify",
    "raw verify": "raw verify",
    "mint ECT": "raw sign",
    "jws.sign": "raw sign",
    "jose sign": "raw sign",
    "raw sign": "raw sign",
}


def main() -> None:
    """One line per algorithm: each case in µs and as a multiple of the raw operation."""
    print(f"{'alg':<6}" + "".join(f"{name:>15}" for name in COLUMNS))
    for alg in ("ES256", "EdDSA"):
        r = measure(alg)
        cells = (f"{r[name]:.1f}us {r[name] / r[raw]:.2f}x" for name, raw in COLUMNS.items())
        print(f"{alg:<6}" + "".join(f"{cell:>15}" for cell in cells))


if __name__ == "__main__":
    main()

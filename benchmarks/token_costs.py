"""One ECT verified and one minted, next to the raw ``cryptography`` cost of the same
signature operation, measured interleaved in one run (medians, best of three rounds).

    python -m benchmarks.token_costs
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from ect_middleware.limits import Limits
from ect_middleware.tokens.ect import ECTClaims, mint_ect, verify_ect
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
        "raw verify": raw_verify,
        "mint ECT": mint,
        "raw sign": raw_sign,
    }
    best: dict[str, float] = {}
    for _ in range(3):  # interleaved rounds: a busy machine slows every case alike
        for name, fn in cases.items():
            best[name] = min(best.get(name, float("inf")), median_us(fn, n))
    return best


def main() -> None:
    head = ("alg", "verify ECT", "raw verify", "ratio", "mint ECT", "raw sign", "ratio")
    print("{:<6} {:>11} {:>11} {:>6} {:>9} {:>9} {:>6}".format(*head))
    for alg in ("ES256", "EdDSA"):
        r = measure(alg)
        print(
            f"{alg:<6} {r['verify ECT']:>9.1f}us {r['raw verify']:>9.1f}us "
            f"{r['verify ECT'] / r['raw verify']:>5.2f}x {r['mint ECT']:>7.1f}us "
            f"{r['raw sign']:>7.1f}us {r['mint ECT'] / r['raw sign']:>5.2f}x"
        )


if __name__ == "__main__":
    main()

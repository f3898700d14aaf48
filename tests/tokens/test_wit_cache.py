"""The WIT cache: keyed by the exact string, bounded by exp, dropped when keys rotate."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ect_middleware.tokens.jws import UnverifiedToken
from ect_middleware.tokens.keys import VerificationKey, generate_signing_key
from ect_middleware.tokens.trust import TrustBundle
from ect_middleware.tokens.wit import WITVerifier

from ..support.clock import NOW
from ..support.tokens import A_DOMAIN, LIMITS, rejected, world

W = world("ES256")


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Bundles:
    def __init__(self, bundle: TrustBundle) -> None:
        self.bundle = bundle

    def __call__(self) -> TrustBundle:
        return self.bundle


def test_second_verification_returns_the_cached_object() -> None:
    verifier = W.verifier()
    first = verifier.verify(W.wit)
    assert verifier.verify(W.wit) is first


def test_cached_wit_still_expires() -> None:
    clock = Clock(NOW)
    verifier = WITVerifier(Bundles(W.bundle), LIMITS, clock)
    verifier.verify(W.wit)
    clock.now = NOW + 3600 + LIMITS.leeway - 1
    verifier.verify(W.wit)
    clock.now += 1
    with rejected("wit.expired"):
        verifier.verify(W.wit)


def test_replaced_trust_bundle_invalidates_the_cache() -> None:
    bundles = Bundles(W.bundle)
    verifier = WITVerifier(bundles, LIMITS, Clock(NOW))
    verifier.verify(W.wit)
    bundles.bundle = TrustBundle({A_DOMAIN: (generate_signing_key("ES256", kid="new").public,)})
    with rejected("wit.unknown_kid"):
        verifier.verify(W.wit)
    bundles.bundle = TrustBundle({})
    with rejected("wit.untrusted_domain"):
        verifier.verify(W.wit)


def test_cache_is_bounded() -> None:
    verifier = WITVerifier(Bundles(W.bundle), LIMITS, Clock(NOW), cache_size=1)
    first = verifier.verify(W.wit)
    verifier.verify(W.other_wit)
    again = verifier.verify(W.wit)
    assert again is not first
    assert again == first


@dataclass(frozen=True)
class RotatingBundle(TrustBundle):
    """A bundle that lets the keys rotate while a verification is in flight."""

    during_lookup: Callable[[], None] = lambda: None

    def issuer_key(self, domain: str, wit: UnverifiedToken) -> VerificationKey:
        key = super().issuer_key(domain, wit)
        self.during_lookup()
        return key


def test_wit_verified_with_rotated_out_keys_is_not_cached() -> None:
    bundles = Bundles(W.bundle)
    verifier = WITVerifier(bundles, LIMITS, Clock(NOW))

    def rotate() -> None:  # another request sees the new (empty) bundle first
        bundles.bundle = TrustBundle({})
        with rejected("wit.untrusted_domain"):
            verifier.verify(W.other_wit)

    bundles.bundle = RotatingBundle(W.bundle.domains, rotate)
    verifier.verify(W.wit)  # verified under the old keys, finishing after the rotation
    with rejected("wit.untrusted_domain"):
        verifier.verify(W.wit)

"""``ath`` binds the access token of ``Authorization: DPoP`` as it binds a ``Bearer`` one:
a WPT made for a request without it (or for another token) cannot be replayed with it."""

from __future__ import annotations

import pytest

from ect_middleware.runtime import Runtime
from ect_middleware.tokens.encoding import sha256_b64url

from ..support.clock import NOW
from ..support.mesh import Mesh
from ._hostile import Forger
from ._service import BASE, served


@pytest.mark.parametrize("scheme", ["Bearer", "DPoP", "dpop"])
def test_ath_binds_the_access_token_of_either_scheme(
    scheme: str, hostile_mesh: Mesh, forger: Forger
) -> None:
    runtime = Runtime(hostile_mesh.settings("b", BASE, clock=lambda: float(NOW)))
    url, token = BASE + "/x", "access-token-1"
    authorization = [("Authorization", f"{scheme} {token}")]
    with served(runtime) as client:

        def status_and_code(ath: str | None) -> tuple[int, str | None]:
            claims = {} if ath is None else {"ath": ath}
            response = client.get(
                "/x", headers=forger.headers(url, wpt_claims=claims, extra=authorization)
            )
            body = response.json() if response.status_code != 200 else {}
            return response.status_code, body.get("code")

        assert status_and_code(None) == (400, "wpt.ath_mismatch")  # unbound: refused
        assert status_and_code(sha256_b64url("another-token")) == (400, "wpt.ath_mismatch")
        assert status_and_code(sha256_b64url(token)) == (200, None)

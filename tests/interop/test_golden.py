"""Golden files, byte for byte, under fixed clocks.

* ``wimse-wpt-request.txt``: the example HTTP request of draft-ietf-wimse-wpt, as printed
  (RFC 8792 line wrapping), with the WIT issuer key of the drafts' example generator
  (``wimse-issuer.jwks.json``: EC P-256 without ``alg``, as published). Verified by the token
  layer and sent, exactly, through both middlewares.
* ``ect-00.jwt``/``ect-01.jwt``: one ECT in each draft's wire form, signed with the WIMSE
  example workload key (``wimse-workload.jwk.json``, Ed25519: deterministic signatures).
  joserfc writes the same bytes from the claims in ``ect-*.json``; so does ``mint_ect``.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path
from typing import Any

import pytest
from joserfc import jws as jose_jws
from joserfc.jwk import OKPKey

from ect_middleware.limits import Limits
from ect_middleware.tokens.ect import Policy, mint_ect, verify_ect
from ect_middleware.tokens.keys import load_signing_key
from ect_middleware.tokens.trust import TrustBundle
from ect_middleware.tokens.wit import VerifiedWIT, WITVerifier
from ect_middleware.tokens.wpt import Bindings, verify_wpt

from ._support import identity, serve

GOLDEN = Path(__file__).parent / "golden"
EXAMPLE_DOMAIN = "wimse://example.com"
EXAMPLE_CALLER = "wimse://example.com/specific-workload"
EXAMPLE_SERVICE = "https://workload.example.com"
#: between the example WIT's iat (1745508910) and the example WPT's exp (1745510016)
EXAMPLE_NOW = 1_745_509_900.0
REVIEWER = "spiffe://org-b.example/agent/reviewer"


def unwrap_rfc8792(text: str) -> str:
    """RFC 8792 §7 single-backslash unwrapping: drop the header, join continued lines."""
    lines = text.split("\n")
    assert "RFC 8792" in lines[0]
    assert lines[1] == ""
    out: list[str] = []
    continued = False
    for line in lines[2:]:
        if continued:
            out[-1] += line.lstrip(" ")
        else:
            out.append(line)
        continued = out[-1].endswith("\\")
        if continued:
            out[-1] = out[-1][:-1]
    return "\n".join(out)


def example_request() -> tuple[str, str, dict[str, str], bytes]:
    """(method, path, headers, body) of the WPT draft's example, exactly."""
    text = unwrap_rfc8792((GOLDEN / "wimse-wpt-request.txt").read_text())
    head, body = text.split("\n\n", 1)
    request_line, *fields = head.split("\n")
    method, path, _ = request_line.split(" ")
    headers = dict(f.split(": ", 1) for f in fields)
    return method, path, headers, body.rstrip("\n").encode()


def example_bundle() -> TrustBundle:
    return TrustBundle.from_json({EXAMPLE_DOMAIN: "wimse-issuer.jwks.json"}, GOLDEN)


def example_wit() -> VerifiedWIT:
    wit = example_request()[2]["Workload-Identity-Token"]
    bundle = example_bundle()
    return WITVerifier(lambda: bundle, Limits(), lambda: EXAMPLE_NOW).verify(wit)


def test_the_published_issuer_key_loads_with_its_implied_alg() -> None:
    (key,) = example_bundle().domains[EXAMPLE_DOMAIN]
    assert (key.alg, key.kid) == ("ES256", "June 5")


def test_the_wpt_drafts_example_request_verifies_under_a_fixed_clock() -> None:
    _, path, headers, _ = example_request()
    wit = example_wit()
    assert (wit.sub, wit.cnf.alg) == (EXAMPLE_CALLER, "EdDSA")
    bearer = Bindings.bearer_from(headers["Authorization"])
    wpt = verify_wpt(
        headers["Workload-Proof-Token"],
        wit,
        [EXAMPLE_SERVICE + path],
        Bindings(bearer=bearer),
        Limits(),
        lambda: EXAMPLE_NOW,
    )
    assert wpt.jti == "__bwc4ESC3acc2LTC1-_x"


@pytest.fixture
def example_service(tmp_path: Path) -> Any:
    """Settings for a service at https://workload.example.com trusting the example issuer."""
    shutil.copy(GOLDEN / "wimse-issuer.jwks.json", tmp_path / "wimse-issuer.jwks.json")
    me = identity(tmp_path / "me", "spiffe://org-b.example/agent/workload")
    bundle = tmp_path / "trust-bundle.json"
    bundle.write_text(json.dumps({EXAMPLE_DOMAIN: "wimse-issuer.jwks.json"}))
    return me.settings(
        trust_bundle=str(bundle),
        audience=(EXAMPLE_SERVICE,),
        clock=lambda: EXAMPLE_NOW,
    )


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_the_wpt_drafts_example_request_passes_the_middleware(
    kind: str, example_service: Any
) -> None:
    method, path, headers, body = example_request()
    with serve(kind, example_service) as client:
        response = client.request(method, path, headers=headers, content=body)
    assert response.status_code == 200, response.text
    assert response.json()["caller"] == EXAMPLE_CALLER


def _claims_of(draft: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((GOLDEN / f"ect-{draft}.json").read_text())
    return data


def _joserfc_token(draft: str) -> str:
    data = _claims_of(draft)
    key = OKPKey.import_key(json.loads((GOLDEN / "wimse-workload.jwk.json").read_text()))
    payload = json.dumps(data["claims"], separators=(",", ":"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # joserfc prefers RFC 9864's name for EdDSA
        token: str = jose_jws.serialize_compact(data["header"], payload, key, algorithms=["EdDSA"])
    return token


@pytest.mark.parametrize("draft", ["00", "01"])
def test_joserfc_and_mint_ect_write_the_golden_ect_bytes(draft: str) -> None:
    minted = mint_ect(
        load_signing_key(GOLDEN / "wimse-workload.jwk.json"),
        iss=EXAMPLE_CALLER,
        aud=REVIEWER,
        par=["550e8400-e29b-41d4-a716-446655440001"],
        exec_act="review_document",
        wid="a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d",
        limits=Limits(),
        clock=lambda: 1_745_509_000.0,
        jti="550e8400-e29b-41d4-a716-446655440002",
        inp_hash="n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg",
        ext={"model": "reviewer-7b", "jurisdiction": "EU"},
        policy=Policy("clinical-review-policy", "approved", REVIEWER),
        draft=draft,  # type: ignore[arg-type]
    )
    golden = (GOLDEN / f"ect-{draft}.jwt").read_text().strip()
    assert _joserfc_token(draft) == golden
    assert minted.token == golden


def test_both_golden_ects_verify_into_one_model() -> None:
    wit = example_wit()
    models = []
    for draft in ("00", "01"):
        token = (GOLDEN / f"ect-{draft}.jwt").read_text().strip()
        claims = verify_ect(token, wit, {REVIEWER}, Limits(), lambda: 1_745_509_100.0)
        assert claims.token == token
        assert claims.draft == draft
        models.append((claims.jti, claims.par, claims.ext, claims.policy, claims.inp_hash))
    assert models[0] == models[1]
    assert models[0][2] == {"model": "reviewer-7b", "jurisdiction": "EU"}
    assert models[0][3] == Policy("clinical-review-policy", "approved", REVIEWER)


def test_an_inline_bundle_resolves_files_against_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ECT_TRUST_BUNDLE given as JSON: relative file paths are the working directory's."""
    shutil.copy(GOLDEN / "wimse-issuer.jwks.json", tmp_path / "wimse-issuer.jwks.json")
    me = identity(tmp_path / "me", "spiffe://org-b.example/agent/workload")
    monkeypatch.chdir(tmp_path)
    inline = json.dumps({EXAMPLE_DOMAIN: "wimse-issuer.jwks.json"})
    settings = me.settings(
        trust_bundle=inline, audience=(EXAMPLE_SERVICE,), clock=lambda: EXAMPLE_NOW
    )
    method, path, headers, body = example_request()
    with serve("wsgi", settings) as client:
        response = client.request(method, path, headers=headers, content=body)
    assert response.status_code == 200, response.text
    assert response.json()["caller"] == EXAMPLE_CALLER


def test_an_inline_bundle_that_is_not_json_names_the_setting() -> None:
    from ect_middleware.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match=r"ECT_TRUST_BUNDLE is not JSON: .*line 1"):
        TrustBundle.from_setting('{"wimse://example.com": ')

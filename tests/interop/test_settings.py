"""The interop settings (README): ECT_PEERS objects, ECT_DRAFT, ECT_REQUIRE_ECT_BINDING;
misconfiguration fails at startup, naming the setting."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ect_middleware import Settings
from ect_middleware.config import Peer
from ect_middleware.errors import ConfigurationError

B = "spiffe://org-b.example/agent/b"
BASE = {
    "ECT_WORKLOAD_ID": "spiffe://org-a.example/agent/a",
    "ECT_KEY_FILE": "key.pem",
    "ECT_WIT_FILE": "wit.jwt",
    "ECT_TRUST_BUNDLE": "trust.json",
    "ECT_AUDIENCE": "https://a.example",
}


def settings(**env: str) -> Settings:
    return Settings.from_env({**BASE, **env})


def test_peer_values_are_workload_ids_or_objects() -> None:
    peers = {
        "http://b.example": B,
        "http://c.example": {"workload": B, "ect_draft": "01", "bind_ect": True},
        "http://d.example": {"workload": B},
    }
    got = settings(ECT_PEERS=json.dumps(peers)).peers
    assert got == {
        "http://b.example": Peer(B),
        "http://c.example": Peer(B, "01", True),
        "http://d.example": Peer(B, None, False),
    }


def test_peer_objects_given_as_keyword_arguments_are_read_the_same() -> None:
    made = Settings(peers={"http://b.example": {"workload": B, "ect_draft": "01"}})  # type: ignore[dict-item]
    assert made.peers == {"http://b.example": Peer(B, "01")}


@pytest.mark.parametrize(
    ("peer", "message"),
    [
        ({"workload": B, "draft": "01"}, "unknown key 'draft'"),
        ({"workload": B, "ect_draft": "02"}, "ect_draft"),
        ({"workload": B, "bind_ect": "yes"}, "bind_ect"),
        ({"ect_draft": "01"}, "not a workload identifier"),
        ({"workload": "b"}, "not a workload identifier"),
        (["b"], "expected a workload identifier or an object"),
    ],
)
def test_bad_peer_objects_name_the_setting(peer: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match="ECT_PEERS") as info:
        settings(ECT_PEERS=json.dumps({"http://b.example": peer}))
    assert message in str(info.value)


def test_draft_and_binding_defaults() -> None:
    made = settings()
    assert (made.ect_draft, made.require_ect_binding) == ("00", False)


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("1", True), ("false", False)])
def test_require_ect_binding(value: str, expected: bool) -> None:
    assert settings(ECT_REQUIRE_ECT_BINDING=value).require_ect_binding is expected


@pytest.mark.parametrize(
    ("name", "value"), [("ECT_DRAFT", "02"), ("ECT_REQUIRE_ECT_BINDING", "maybe")]
)
def test_bad_values_name_the_setting(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        settings(**{name: value})


def test_ect_draft_01_for_all() -> None:
    assert settings(ECT_DRAFT="01").ect_draft == "01"

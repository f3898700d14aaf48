"""Task and workflow ids: ``new_uuid`` writes what ``uuid.uuid4`` would."""

from __future__ import annotations

import os
import uuid

import pytest

from ect_middleware.tokens.claims import is_uuid
from ect_middleware.tokens.identifiers import new_uuid


@pytest.mark.parametrize(
    "octets", [bytes(16), b"\xff" * 16, bytes(range(16)), bytes(range(240, 256))]
)
def test_new_uuid_is_uuid4_of_the_same_octets(
    octets: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "urandom", lambda n: octets[:n])
    assert new_uuid() == str(uuid.UUID(bytes=octets, version=4))


def test_new_uuid_is_random_version_4() -> None:
    ids = [new_uuid() for _ in range(1000)]
    assert len(set(ids)) == len(ids)
    for value in ids:
        parsed = uuid.UUID(value)
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        assert str(parsed) == value
        assert is_uuid(value)

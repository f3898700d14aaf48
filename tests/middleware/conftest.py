from __future__ import annotations

import pytest


@pytest.fixture(params=["asgi", "wsgi"])
def kind(request: pytest.FixtureRequest) -> str:
    """Each middleware in turn, in-process (``tests.support.stacks.open_stack``)."""
    return str(request.param)

from __future__ import annotations

import pytest

from ..support.mesh import Mesh
from ._support import Agents, run_agents


@pytest.fixture(scope="module")
def agents(mesh: Mesh, tmp_path_factory: pytest.TempPathFactory) -> Agents:
    """One real two-agent workflow per test module (servers are costly to start)."""
    return run_agents(mesh, tmp_path_factory.mktemp("agents"))

"""``ect demo``: the example agents, run as real servers through a cross-org workflow.

The example services are shipped in the package (``ect_middleware/examples``, package data
linked to the repository's ``examples/``), so the demo runs from any installation. This
module imports nothing beyond the standard library: the demo's own dependencies (the
``demo`` extra) load only when it runs (``demo.scenario``).
"""

from pathlib import Path

#: fastapi_app/, flask_app/ and mcp_server/, each started from its folder as ``main:app``
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

#: The modules the demo imports, its servers run, and the extra that installs them.
DEMO_MODULES = ("httpx", "requests", "fastapi", "flask", "uvicorn", "waitress")
#: What ``ect demo --mcp`` needs beyond them (the ``mcp`` extra).
MCP_DEMO_MODULES = ("mcp", "httpx2")

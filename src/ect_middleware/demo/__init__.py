"""``ect demo``: the example agents, run as real servers through a cross-org workflow."""

from .scenario import run_demo

__all__ = ["run_demo"]

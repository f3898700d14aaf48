"""What auditors look at: a workflow's DAG assembled from ledgers, as text and pictures."""

from .mermaid import to_mermaid
from .workflow import Task, Workflow, build_workflows, summary

__all__ = ["Task", "Workflow", "build_workflows", "summary", "to_mermaid"]

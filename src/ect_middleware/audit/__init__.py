"""What auditors look at: a workflow's DAG assembled from ledgers, as text and pictures
(Mermaid, DOT, a self-contained HTML page), and bundles of its tokens that a third party
re-verifies offline."""

from .dot import to_dot
from .html import to_html
from .mermaid import to_mermaid
from .workflow import Task, Workflow, build_workflows, summary

__all__ = ["Task", "Workflow", "build_workflows", "summary", "to_dot", "to_html", "to_mermaid"]

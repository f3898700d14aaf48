"""Application policy checkpoints."""

from __future__ import annotations

from typing import Any

from ..logs import log
from .task import current_task


def checkpoint(policy: str, decision: str, **details: Any) -> str | None:
    """Record that ``policy`` decided ``decision`` (``approved``, ``rejected``, ...).

    Inside a request it becomes a signed ECT of its own (``pol``, ``pol_decision``,
    ``pol_enforcer``, with ``details`` as ``ext``), recorded in the ledger, logged with the
    workflow and task ids, and made a parent of everything the request does afterwards.
    Returns that ECT's jti; outside a request the checkpoint is only logged (None).
    """
    if not policy or not decision:
        raise ValueError("policy and decision must be non-empty strings")
    task = current_task()
    if task is None:
        log.warning("ect.checkpoint", policy=policy, decision=decision, outside_request=True)
        return None
    return task.checkpoint(policy, decision, details).jti

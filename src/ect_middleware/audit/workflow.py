"""A workflow's DAG, assembled from ledger entries (of one ledger, or several agents').

Entries are decoded without re-verifying signatures: this is a view of what the ledgers
recorded, whose integrity ``verify_chain`` establishes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..context.task import INBOUND_POLICY
from ..ledger.base import LedgerEntry
from ..tokens.ect import Policy, model_view
from ..tokens.jws import read_payload

Role = Literal["call", "received", "checkpoint", "completion"]


@dataclass
class Task:
    jti: str
    iss: str
    exec_act: str
    iat: float
    par: tuple[str, ...]
    claims: Mapping[str, Any] = field(repr=False)
    recorded_by: set[str] = field(default_factory=set)
    first_seen: int = 0  # position among all entries read, to order tasks stably
    #: how the ledgers read hold it: ``minted`` by its issuer, ``received`` by another
    directions: set[str] = field(default_factory=set)
    #: when it was first recorded (microseconds since the epoch), in any ledger read
    recorded_us: int | None = None
    #: the OpenTelemetry traces its entries were recorded in
    trace_ids: set[str] = field(default_factory=set)

    @property
    def aud(self) -> tuple[str, ...]:
        aud = self.claims.get("aud")
        return (aud,) if isinstance(aud, str) else tuple(a for a in aud or () if isinstance(a, str))

    @property
    def extension(self) -> Mapping[str, Any] | None:
        """The extension object, whichever draft's spelling the ECT uses."""
        return model_view(self.claims)[1]

    @property
    def checkpoint(self) -> Policy | None:
        """The policy checkpoint, whichever draft's spelling the ECT uses."""
        return model_view(self.claims)[2]

    @property
    def http_status(self) -> int | None:
        ext = self.extension
        status = ext.get("http_status") if ext is not None else None
        return status if isinstance(status, int) and not isinstance(status, bool) else None

    @property
    def decision(self) -> str | None:
        checkpoint = self.checkpoint
        return None if checkpoint is None else checkpoint.decision

    @property
    def policy(self) -> str | None:
        checkpoint = self.checkpoint
        return None if checkpoint is None else checkpoint.policy

    @property
    def role(self) -> Role:
        """What the task is: a service's ``completion`` of a request (its decision on the
        request and the HTTP status), a policy ``checkpoint``, an ECT ``received`` from a
        service whose own ledger was not read, or one ``call`` to another service."""
        if self.policy == INBOUND_POLICY:
            return "completion"
        if self.policy is not None and self.aud == (self.iss,):
            return "checkpoint"
        if self.directions == {"received"}:
            return "received"
        return "call"

    @property
    def target(self) -> str:
        """Whom the task is for: the service called or answered, the services that
        received it, or the checkpoint's policy ("" when there is no one else)."""
        role = self.role
        if role == "checkpoint":
            return self.policy or ""
        if role == "received":
            return ", ".join(sorted(self.recorded_by - {self.iss}))
        return ", ".join(a for a in self.aud if a != self.iss) or ", ".join(
            self.aud if role == "call" else ()
        )

    @property
    def failed(self) -> bool:
        """The request it completes was answered with an HTTP error (400 or more),
        whatever the policy decided."""
        return self.http_status is not None and self.http_status >= 400


@dataclass
class Workflow:
    wid: str
    tasks: dict[str, Task] = field(default_factory=dict)

    @property
    def edges(self) -> list[tuple[str, str]]:
        """(parent, child) pairs, parents that were never recorded included."""
        return [(p, t.jti) for t in self.ordered() for p in t.par]

    @property
    def unresolved(self) -> list[str]:
        return list(dict.fromkeys(p for t in self.ordered() for p in t.par if p not in self.tasks))

    def ordered(self) -> list[Task]:
        """Parents before children; otherwise in the order the ledgers recorded them."""
        pending = sorted(self.tasks.values(), key=lambda t: t.first_seen)
        placed: set[str] = set()
        ordered: list[Task] = []
        while pending:
            ready = [t for t in pending if all(p in placed or p not in self.tasks for p in t.par)]
            for task in ready or pending[:1]:  # a cycle cannot be ordered: take the oldest
                ordered.append(task)
                placed.add(task.jti)
            pending = [t for t in pending if t.jti not in placed]
        return ordered

    def fan_in(self) -> list[Task]:
        return [t for t in self.ordered() if len(t.par) > 1]

    def fan_out(self) -> list[str]:
        children: dict[str, int] = {}
        for parent, _ in self.edges:
            children[parent] = children.get(parent, 0) + 1
        return [p for p, n in children.items() if n > 1]


def build_workflows(entries: Iterable[LedgerEntry]) -> dict[str, Workflow]:
    """Group entries into workflows by ``wid``; an ECT recorded twice is one task."""
    workflows: dict[str, Workflow] = {}
    for position, entry in enumerate(entries):
        claims = read_payload(entry.ect) or {}
        wid = entry.wid or ""
        flow = workflows.setdefault(wid, Workflow(wid))
        task = flow.tasks.get(entry.jti)
        if task is None:
            task = Task(
                jti=entry.jti,
                iss=entry.iss,
                exec_act=str(claims.get("exec_act", "?")),
                iat=entry.iat,
                par=entry.par,
                claims=claims,
                first_seen=position,
            )
            flow.tasks[entry.jti] = task
        task.recorded_by.add(entry.recorder)
        task.directions.add(entry.direction)
        if isinstance(entry.recorded_us, int) and (
            task.recorded_us is None or entry.recorded_us < task.recorded_us
        ):
            task.recorded_us = entry.recorded_us
        if entry.trace_id:
            task.trace_ids.add(entry.trace_id)
    return workflows


def short_issuer(iss: str) -> str:
    """``spiffe://org-a.example/agent/planner`` -> ``org-a.example/agent/planner``."""
    return iss.split("://", 1)[-1]


def label(task: Task) -> str:
    """``exec_act by issuer -> audience [policy: decision] (HTTP status)``."""
    text = f"{task.exec_act} by {short_issuer(task.iss)}"
    others = [short_issuer(a) for a in task.aud if a != task.iss]
    if others:
        text += " -> " + ", ".join(others)
    if task.decision:
        text += f" [{task.policy}: {task.decision}]"
    if task.http_status is not None:
        text += f" (HTTP {task.http_status})"
    return text


def summary(flow: Workflow) -> str:
    """A readable outline: each task, then its parents."""
    number = {t.jti: i for i, t in enumerate(flow.ordered(), 1)}
    lines = [f"workflow {flow.wid}: {len(flow.tasks)} tasks, {len(flow.edges)} edges"]
    for task in flow.ordered():
        parents = ", ".join(f"#{number[p]}" if p in number else "(unresolved)" for p in task.par)
        after = f"  <- {parents}" if parents else "  (root)"
        lines.append(f"  #{number[task.jti]:<3} {label(task)}{after}")
    if flow.fan_in():
        lines.append("  fan-in at " + ", ".join(f"#{number[t.jti]}" for t in flow.fan_in()))
    return "\n".join(lines)

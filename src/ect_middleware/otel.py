"""The OpenTelemetry bridge: execution context on the spans the application already has.

When a span is current (an OpenTelemetry server instrumentation runs outside the ECT
middleware), a request's span gets ``ect.workflow_id``, ``ect.task_id``, ``ect.caller`` and
``ect.parent_ids``; each checkpoint is a span event ``ect.checkpoint``; an outbound HTTP
client span gets ``ect.jti``, the task id of the ECT it carries; and every ledger entry the
request makes records the trace id (``LedgerEntry.trace_id``), so an auditor can go from a
task of the DAG to its trace.

Only the OpenTelemetry API is used (the ``otel`` extra), and never imported here: a span
can only be current if the application imported ``opentelemetry.trace`` itself, so each
hook first looks the module up in ``sys.modules`` and does nothing when it is not there.
An application without OpenTelemetry pays one dictionary look-up per hook.

The httpx instrumentation patches ``httpx.HTTPTransport`` itself, so with
``ECTTransport(httpx.HTTPTransport())`` or ``ect_middleware.instrument()`` applied first,
its client span starts inside our transport, after the ECT is attached: pass
``request_hook`` / ``async_request_hook`` to ``HTTPXClientInstrumentor().instrument()`` and
they read the jti from the request's ``Execution-Context`` header. When the client span is
already current as we attach the ECT (``HTTPXClientInstrumentor.instrument_client``, or
any instrumentation wrapping the client outside our transport or adapter), it is tagged
directly and the hooks have nothing to add.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .tokens.ect import ECTClaims
from .tokens.jws import read_payload

_TRACE = "opentelemetry.trace"
_HEADER = "execution-context"

#: Attribute names, under the ``ect`` namespace (lowercase, dot-separated, as OpenTelemetry's
#: attribute naming rules ask of names outside its own semantic conventions).
WORKFLOW_ID = "ect.workflow_id"
TASK_ID = "ect.task_id"
CALLER = "ect.caller"
PARENT_IDS = "ect.parent_ids"
JTI = "ect.jti"
CHECKPOINT_EVENT = "ect.checkpoint"
POLICY = "ect.policy"
DECISION = "ect.decision"
ENFORCER = "ect.enforcer"
CODE = "ect.code"


def request_started(
    workflow_id: str, task_id: str, caller: str | None, parents: Sequence[ECTClaims]
) -> str | None:
    """Tag the current span with a request's execution context; the current trace id
    (32 lowercase hex digits) for its ledger entries, or None when no trace is current."""
    trace = sys.modules.get(_TRACE)
    if trace is None:
        return None
    span = trace.get_current_span()
    context = span.get_span_context()
    if not context.is_valid:
        return None
    if span.is_recording():
        attributes: dict[str, Any] = {
            WORKFLOW_ID: workflow_id,
            TASK_ID: task_id,
            PARENT_IDS: [p.jti for p in parents],
        }
        if caller is not None:
            attributes[CALLER] = caller
        span.set_attributes(attributes)
    return format(context.trace_id, "032x")


def checkpoint(
    policy: str, decision: str, enforcer: str, *, jti: str | None, code: str | None
) -> None:
    """Add an ``ect.checkpoint`` event to the current span: which policy decided what, and
    the checkpoint's own ECT (``jti``) or the rejection's ``code`` when there is one."""
    trace = sys.modules.get(_TRACE)
    if trace is None:
        return
    span = trace.get_current_span()
    if not span.is_recording():
        return
    attributes = {POLICY: policy, DECISION: decision, ENFORCER: enforcer}
    if jti is not None:
        attributes[JTI] = jti
    if code is not None:
        attributes[CODE] = code
    span.add_event(CHECKPOINT_EVENT, attributes)


def outbound(jti: str) -> None:
    """Tag the current span with ``ect.jti`` if it is an HTTP client span (its
    instrumentation runs outside our hook); any other span is left alone, since it may
    cover several calls."""
    trace = sys.modules.get(_TRACE)
    if trace is None:
        return
    span = trace.get_current_span()
    if span.is_recording() and getattr(span, "kind", None) == trace.SpanKind.CLIENT:
        span.set_attribute(JTI, jti)


def request_hook(span: Any, request: Any) -> None:
    """``HTTPXClientInstrumentor().instrument(request_hook=...)``: tag the client span with
    the jti of the ECT the request carries, if any."""
    jti = _sent_jti(getattr(request, "headers", None))
    if jti is not None and span is not None and span.is_recording():
        span.set_attribute(JTI, jti)


async def async_request_hook(span: Any, request: Any) -> None:
    """``request_hook`` for ``async_request_hook=``."""
    request_hook(span, request)


def _sent_jti(headers: Mapping[Any, Any] | Iterable[Any] | None) -> str | None:
    """The jti of the (first) ECT in an ``Execution-Context`` header, read without trust:
    it is the one this service just minted and attached."""
    if headers is None:
        return None
    items = headers.items() if isinstance(headers, Mapping) else headers
    for item in items:
        try:
            name, value = item
        except (TypeError, ValueError):
            return None
        if isinstance(name, bytes):
            name, value = name.decode("latin-1"), value.decode("latin-1")
        if isinstance(name, str) and name.lower() == _HEADER and isinstance(value, str):
            payload = read_payload(value.split(",", 1)[0].strip()) or {}
            jti = payload.get("jti")
            return jti if isinstance(jti, str) else None
    return None

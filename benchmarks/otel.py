"""OpenTelemetry's ASGI middleware as a production would run it: the SDK's tracer provider
with a batch span processor, and the SDK's meter provider. Spans go to an exporter that
drops them, so no network cost is counted, only what the middleware does per request."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from starlette.applications import Starlette


class _Drop(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def instrument(app: Starlette) -> Any:
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(_Drop()))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    app.add_middleware(
        OpenTelemetryMiddleware, tracer_provider=tracer_provider, meter_provider=meter_provider
    )
    return app

"""W3C trace context across the places gRPC metadata does not reach: the outbox, the job queue.

gRPC calls carry ``traceparent`` in their metadata (the OpenTelemetry interceptors do that).
Work that continues later from a stored row — an outbox event, a queued OCR job — stores the
``traceparent`` of the request that caused it and resumes the trace from it::

    job.traceparent = current_traceparent()            # when queuing, inside the request
    with continue_trace("ocr.job", job.traceparent):   # when a worker picks the job up
        ...

When tracing is off these helpers cost almost nothing and never fail on a bad value.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

__all__ = ["context_of", "continue_trace", "current_traceparent", "is_traceparent"]

_PROPAGATOR = TraceContextTextMapPropagator()
_TRACEPARENT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")


def is_traceparent(value: str | None) -> bool:
    """Whether ``value`` is a well-formed version-00 W3C traceparent with non-zero ids."""
    if not value or not _TRACEPARENT.match(value):
        return False
    _, trace_id, span_id, _ = value.split("-")
    return trace_id != "0" * 32 and span_id != "0" * 16


def current_traceparent() -> str | None:
    """The traceparent of the current span, or ``None`` when there is no sampled trace."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    value = carrier.get("traceparent")
    return value if is_traceparent(value) else None


def context_of(traceparent: str | None) -> otel_context.Context:
    """An OpenTelemetry context whose parent is ``traceparent`` (empty when missing or bad)."""
    if not is_traceparent(traceparent):
        return otel_context.Context()
    return _PROPAGATOR.extract({"traceparent": traceparent})  # type: ignore[dict-item]


@contextmanager
def continue_trace(
    name: str,
    traceparent: str | None,
    *,
    attributes: Mapping[str, Any] | None = None,
    kind: trace.SpanKind = trace.SpanKind.CONSUMER,
    tracer_name: str = "hoso",
) -> Iterator[trace.Span]:
    """A span named ``name`` that continues the trace of ``traceparent``.

    Without a valid ``traceparent`` the span starts a new trace. The span is current inside
    the block, so gRPC calls made there carry the trace on.
    """
    tracer = trace.get_tracer(tracer_name)
    with tracer.start_as_current_span(
        name, context=context_of(traceparent), kind=kind, attributes=dict(attributes or {})
    ) as span:
        yield span

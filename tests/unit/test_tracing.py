"""Trace context through stored rows, and the domain metrics helpers."""

from __future__ import annotations

import pytest
from hoso.common import telemetry
from hoso.common.tracing import context_of, continue_trace, current_traceparent, is_traceparent
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader


def test_traceparent_round_trips_through_a_stored_string(memory_spans) -> None:
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("put-file") as request_span:
        stored = current_traceparent()
    assert stored is not None and is_traceparent(stored)
    request_context = request_span.get_span_context()
    assert stored == (
        f"00-{request_context.trace_id:032x}-{request_context.span_id:016x}"
        f"-{int(request_context.trace_flags):02x}"
    )
    # later, elsewhere: the worker continues the same trace from the stored value
    with continue_trace("ocr.job", stored, attributes={"job": "jobs/1"}) as job_span:
        assert current_traceparent().split("-")[1] == f"{request_context.trace_id:032x}"
    spans = {s.name: s for s in memory_spans.get_finished_spans()}
    assert spans["ocr.job"].parent.span_id == request_context.span_id
    assert spans["ocr.job"].context.trace_id == request_context.trace_id
    assert spans["ocr.job"].attributes["job"] == "jobs/1"
    assert job_span.kind == trace.SpanKind.CONSUMER


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "garbage",
        "01-" + "a" * 32 + "-" + "b" * 16 + "-01",
        "00-" + "0" * 32 + "-" + "b" * 16 + "-01",
        "00-" + "a" * 32 + "-" + "0" * 16 + "-01",
        "00-" + "A" * 32 + "-" + "b" * 16 + "-01",
    ],
)
def test_bad_traceparents_start_a_new_trace_instead_of_failing(memory_spans, value) -> None:
    assert not is_traceparent(value)
    assert not trace.get_current_span(context_of(value)).get_span_context().is_valid
    with continue_trace("job", value) as span:
        assert span.get_span_context().is_valid
    (finished,) = memory_spans.get_finished_spans()
    assert finished.parent is None


def test_no_traceparent_outside_a_span() -> None:
    assert current_traceparent() is None


def test_domain_metrics_are_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("hoso")
    monkeypatch.setattr(telemetry, "_meter", meter)
    monkeypatch.setattr(telemetry, "_instruments", {})
    telemetry.record_queue_depth("ocr", 7)
    telemetry.record_queue_depth("ocr", 3)
    telemetry.record_ocr_pages(4, 2.0)
    telemetry.record_signature("B-LT", 0.05)
    telemetry.record_signature("B-LT", 0.07)
    points = {}
    for resource_metrics in reader.get_metrics_data().resource_metrics:
        for scope in resource_metrics.scope_metrics:
            for metric in scope.metrics:
                points[metric.name] = list(metric.data.data_points)
    assert points["hoso.queue.depth"][0].value == 3
    assert points["hoso.queue.depth"][0].attributes == {"queue": "ocr"}
    assert points["hoso.ocr.pages"][0].value == 4
    assert points["hoso.ocr.page.duration"][0].sum == pytest.approx(0.5)
    assert points["hoso.signing.signatures"][0].value == 2
    assert points["hoso.signing.duration"][0].count == 2

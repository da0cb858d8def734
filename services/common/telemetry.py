"""OpenTelemetry traces and metrics: OTLP export when an endpoint is configured, off otherwise.

The providers are process-wide. ``record_rpc`` and the other helpers are cheap no-ops until
:func:`setup` installs real providers (OpenTelemetry's API defaults to no-op).
"""

from __future__ import annotations

from typing import Any

from hoso.common.settings import TelemetrySettings
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

__all__ = [
    "counter",
    "histogram",
    "record_ocr_pages",
    "record_queue_depth",
    "record_rpc",
    "record_signature",
    "setup",
    "tracer",
]

_meter = metrics.get_meter("hoso")
_instruments: dict[str, Any] = {}
_configured = False


def tracer(name: str = "hoso") -> trace.Tracer:
    return trace.get_tracer(name)


def histogram(name: str, unit: str, description: str) -> Any:
    """A process-wide histogram (created once; follows the provider set by :func:`setup`)."""
    if name not in _instruments:
        _instruments[name] = _meter.create_histogram(name, unit=unit, description=description)
    return _instruments[name]


def counter(name: str, unit: str, description: str) -> Any:
    if name not in _instruments:
        _instruments[name] = _meter.create_counter(name, unit=unit, description=description)
    return _instruments[name]


def record_rpc(method: str, code: str, seconds: float) -> None:
    """Record one served call's latency, labelled by method and status."""
    histogram("hoso.rpc.server.duration", "s", "Latency of served RPCs").record(
        seconds, {"rpc.method": method, "rpc.grpc.status_code": code}
    )


def setup(settings: TelemetrySettings, *, span_exporter: SpanExporter | None = None) -> None:
    """Install trace and metric providers for this process (once)."""
    global _configured
    if _configured:
        return
    resource = Resource.create({"service.name": settings.service_name})
    exporters: list[SpanExporter] = []
    readers = []
    if settings.otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        exporters.append(OTLPSpanExporter(endpoint=settings.otlp_endpoint, insecure=True))
        readers.append(
            PeriodicExportingMetricReader(
                OTLPMetricExporter(endpoint=settings.otlp_endpoint, insecure=True)
            )
        )
    if settings.console_traces:
        exporters.append(ConsoleSpanExporter())
    if span_exporter is not None:
        exporters.append(span_exporter)
    if not exporters and not readers:
        return
    provider = TracerProvider(resource=resource)
    for exporter in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    if readers:
        metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=readers))
    _configured = True


# -- domain metrics: small helpers the services call at the moment something happens -----


def record_queue_depth(queue: str, depth: int) -> None:
    """Report how many jobs wait in ``queue`` (e.g. ``ocr``), for dashboards and autoscaling."""
    _gauge("hoso.queue.depth", "{job}", "Jobs waiting in a queue").set(depth, {"queue": queue})


def record_ocr_pages(pages: int, seconds: float, *, outcome: str = "ok") -> None:
    """Count OCR'd pages and the time they took (pages/s = rate of the counter)."""
    counter("hoso.ocr.pages", "{page}", "Pages processed by OCR").add(pages, {"outcome": outcome})
    histogram("hoso.ocr.page.duration", "s", "OCR time per page").record(
        seconds / max(pages, 1), {"outcome": outcome}
    )


def record_signature(level: str, seconds: float, *, kind: str = "pades") -> None:
    """Count one signature made (signatures/s = rate of the counter) and its latency."""
    attributes = {"level": level, "kind": kind}
    counter("hoso.signing.signatures", "{signature}", "Signatures made").add(1, attributes)
    histogram("hoso.signing.duration", "s", "Time to make one signature").record(
        seconds, attributes
    )


def _gauge(name: str, unit: str, description: str) -> Any:
    if name not in _instruments:
        _instruments[name] = _meter.create_gauge(name, unit=unit, description=description)
    return _instruments[name]

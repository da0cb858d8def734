"""One trace follows a file from PutFile through the archive's outbox and the OCR queue to the
text index (spans collected in memory; see ``tests/fixtures/telemetry.py``).
"""

from __future__ import annotations

import asyncio
import importlib.util

import pytest
from hoso.client import Clients
from hoso.ocr.v1 import ocr_pb2 as ocr_pb
from hoso.storage.v1 import storage_pb2 as storage_pb
from opentelemetry import trace

from tests.fixtures.ocr_pages import clean_page, scanned_pdf

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(300)]


async def test_one_trace_from_put_file_through_ocr_to_indexing(
    start_server, memory_spans, sqlite_url
) -> None:
    if importlib.util.find_spec("hoso.ocr.service") is None:
        pytest.skip("the OCR service (hoso.ocr.service, issue #7) cannot be served yet")
    handle = await start_server(
        ["storage", "ocr"],
        overrides={"ocr": {"workers": 1, "poll_seconds": 0.2}},
        database_url=sqlite_url,
    )
    hoso = Clients(handle.channel("backend"))
    dossier = storage_pb.Dossier(
        dossier_code="H26-TRACE-1",
        procedure_code="1.001612",
        agency_code="000.00.01.H26",
        title="Đăng ký hộ kinh doanh",
    )
    dossier.receive_time.GetCurrentTime()
    created = await hoso.archive.create_dossier(dossier)
    with trace.get_tracer("test").start_as_current_span("backend.intake") as root:
        stored = await hoso.archive.put_file(
            storage_pb.PutFileHeader(
                dossier=created.name,
                filename="scan.pdf",
                component_type=storage_pb.COMPONENT_TYPE_APPLICATION_FORM,
            ),
            scanned_pdf([clean_page(0)]),
        )
    trace_id = root.get_span_context().trace_id
    (job,) = await hoso.ocr.wait_for_dossier(created.name, [stored.name], timeout=240)

    # the outbox event carries the request's trace, so the OCR job continues it
    events = await Clients(handle.channel("operator")).archive.list_events()
    archived = [e for e in events.events if e.file_version == stored.name]
    assert archived and archived[0].traceparent.split("-")[1] == f"{trace_id:032x}"

    # the worker ends its "ocr.job" span just after committing the job, so a client can see
    # SUCCEEDED a moment before the span is finished: wait for it, bounded
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while True:
        spans = [s for s in memory_spans.get_finished_spans() if s.context.trace_id == trace_id]
        if any(s.name == "ocr.job" for s in spans) or loop.time() > deadline:
            break
        await asyncio.sleep(0.05)
    names = [s.name for s in spans]
    by_id = {s.context.span_id: s for s in spans}
    put = next(
        s
        for s in spans
        if s.name.endswith("ArchiveService/PutFile") and s.kind == trace.SpanKind.SERVER
    )
    ocr = [s for s in spans if s.name == "ocr.job"]
    assert len(ocr) == 1, f"not one OCR job span in the trace: {names}"
    index = [s for s in spans if "index" in s.name.lower()]
    assert index, f"no indexing span in the trace: {names}"
    assert all(s.parent is not None and s.parent.span_id in by_id for s in index), names

    def descends_from(span, ancestor) -> bool:  # type: ignore[no-untyped-def]
        while span.parent is not None:
            if span.parent.span_id == ancestor.context.span_id:
                return True
            span = by_id.get(span.parent.span_id)
            if span is None:
                return False
        return False

    assert all(descends_from(s, put) for s in ocr + index), names
    assert all(descends_from(s, ocr[0]) for s in index), names
    assert job.state == ocr_pb.JOB_STATE_SUCCEEDED


async def test_put_file_continues_the_callers_trace_into_the_outbox(
    start_server, memory_spans, sqlite_url
) -> None:
    handle = await start_server(["storage"], database_url=sqlite_url)
    hoso = Clients(handle.channel("operator"))
    dossier = storage_pb.Dossier(
        dossier_code="H26-TRACE-2",
        procedure_code="1.001612",
        agency_code="000.00.01.H26",
    )
    dossier.receive_time.GetCurrentTime()
    created = await hoso.archive.create_dossier(dossier)
    with trace.get_tracer("test").start_as_current_span("backend.intake") as root:
        stored = await hoso.archive.put_file(
            storage_pb.PutFileHeader(
                dossier=created.name,
                filename="scan.pdf",
                component_type=storage_pb.COMPONENT_TYPE_APPLICATION_FORM,
            ),
            scanned_pdf([clean_page(0)]),
        )
    trace_id = root.get_span_context().trace_id
    spans = [s for s in memory_spans.get_finished_spans() if s.context.trace_id == trace_id]
    server = [
        s
        for s in spans
        if s.name.endswith("ArchiveService/PutFile") and s.kind == trace.SpanKind.SERVER
    ]
    assert len(server) == 1, [s.name for s in spans]
    events = (await hoso.archive.list_events()).events
    (archived,) = [e for e in events if e.file_version == stored.name]
    _, event_trace, event_span, _ = archived.traceparent.split("-")
    assert event_trace == f"{trace_id:032x}"
    # the event names the server's PutFile span (or one inside it) as its parent
    inside = {f"{s.context.span_id:016x}" for s in spans}
    assert event_span in inside

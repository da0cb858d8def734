"""The archive follower: one job per OCR-able original, none for other types or renditions,
the event's trace carried into the job, and a cursor that survives restarts and races.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hoso.client import Clients
from hoso.common.db import create_engine
from hoso.ocr.archive import ArchiveConnection
from hoso.ocr.follower import ArchiveFollower
from hoso.ocr.models import OcrJob
from hoso.ocr.runner import job_template, make_queue
from hoso.ocr.settings import OcrSettings
from hoso.storage.v1 import storage_pb2 as storage_pb
from opentelemetry import trace
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import async_sessionmaker

from tests.fixtures.grpc_server import TOKENS
from tests.fixtures.ocr_pages import clean_page, scanned_pdf

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(120)]


async def _put(hoso: Clients, dossier: str, name: str, data: bytes, **kw: Any) -> Any:
    header = storage_pb.PutFileHeader(
        dossier=dossier,
        filename=name,
        component_type=storage_pb.COMPONENT_TYPE_SUPPORTING_DOCUMENT,
        **kw,
    )
    return await hoso.archive.put_file(header, data)


async def _drain(follower: ArchiveFollower) -> None:
    for _ in range(100):
        if not await follower.step():
            return
    raise AssertionError("the follower never caught up")


async def test_follower_queues_each_original_once_and_resumes(
    start_server: Any, database_url: str, memory_spans: Any
) -> None:
    server = await start_server(
        ["storage", "ocr"], overrides={"ocr": {"enabled": False}}, database_url=database_url
    )
    hoso = Clients(server.channel("operator"))
    dossier = storage_pb.Dossier(
        dossier_code="H26-FOLLOW-1", procedure_code="1.001612", agency_code="000.00.01.H26"
    )
    dossier.receive_time.GetCurrentTime()
    name = (await hoso.archive.create_dossier(dossier)).name
    with trace.get_tracer("test").start_as_current_span("intake") as root:
        pdf = await _put(hoso, name, "scan.pdf", scanned_pdf([clean_page(0)]))
    png = await _put(hoso, name, "scan.png", clean_page(1).png())
    xml = await _put(hoso, name, "form.xml", b"<?xml version='1.0'?><form/>")
    rendition = await _put(
        hoso,
        name,
        "scan.ocr.pdf",
        scanned_pdf([clean_page(0)]),
        derived_from=pdf.name,
        rendition_kind=storage_pb.RENDITION_KIND_OCR_PDFA,
    )

    settings = OcrSettings(storage_address=server.address, storage_token=TOKENS["ocr-worker"])
    engine = create_engine(database_url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    connection = ArchiveConnection(settings)
    queue = make_queue(sessions, settings)
    template = job_template(settings)
    try:
        first = ArchiveFollower(sessions, queue, connection, template)
        racer = ArchiveFollower(sessions, queue, connection, template)
        # two followers on one cursor at once: one records the page, the other backs off
        outcomes = await asyncio.gather(first.step(), racer.step(), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                assert type(outcome).__name__ == "_CursorMoved" or isinstance(
                    outcome, IntegrityError | OperationalError
                ), outcome
        await _drain(first)
        await _drain(racer)

        async with sessions() as session:
            jobs = list(await session.scalars(select(OcrJob).order_by(OcrJob.file_version)))
        assert sorted(j.file_version for j in jobs) == sorted([pdf.name, png.name])
        assert xml.name not in {j.file_version for j in jobs}
        assert rendition.name not in {j.file_version for j in jobs}
        by_version = {j.file_version: j for j in jobs}
        assert (
            by_version[pdf.name].traceparent.split("-")[1]
            == f"{root.get_span_context().trace_id:032x}"
        )
        assert by_version[pdf.name].agency == "000.00.01.H26"
        assert by_version[pdf.name].component_type == "SUPPORTING_DOCUMENT"
        assert by_version[png.name].file_digest == png.sha256
        events = (await hoso.archive.list_events()).events
        assert await first.position() == max(e.sequence for e in events)

        # a restarted follower continues from the stored cursor: only the new file is queued
        later = await _put(hoso, name, "later.png", clean_page(2).png())
        restarted = ArchiveFollower(sessions, queue, connection, template)
        await _drain(restarted)
        async with sessions() as session:
            versions = list(await session.scalars(select(OcrJob.file_version)))
        assert sorted(versions) == sorted([pdf.name, png.name, later.name])
    finally:
        await connection.close()
        await engine.dispose()

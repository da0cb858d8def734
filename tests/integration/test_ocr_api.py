"""OcrService through gRPC, with the archive in the same server: the happy path from an upload
to search, and every kind of bad input. Runs on SQLite and on PostgreSQL.

Jobs are made by the follower from the archive's events; tests wait for them with bounded
deadlines (polling the service, never sleeping as synchronisation).
"""

from __future__ import annotations

import asyncio
import io
from typing import Any

import grpc
import pikepdf
import pytest
import pytest_asyncio
from hoso.client import Clients
from hoso.ocr.models import OcrCursor
from hoso.ocr.v1 import ocr_pb2 as ocr_pb
from hoso.storage.v1 import storage_pb2 as storage_pb
from PIL import Image
from sqlalchemy import select

from tests.fixtures.ocr_pages import clean_page, scanned_pdf

pytestmark = [pytest.mark.asyncio, pytest.mark.tesseract, pytest.mark.timeout(300)]

_DEADLINE = 180.0


@pytest_asyncio.fixture
async def server(start_server, database_url) -> Any:  # type: ignore[no-untyped-def]
    return await start_server(
        ["storage", "ocr"],
        overrides={
            "ocr": {"workers": 1, "poll_seconds": 0.1},
            "storage": {"allow_encrypted_pdf": True},
        },
        database_url=database_url,
    )


async def _dossier(hoso: Clients, code: str) -> str:
    dossier = storage_pb.Dossier(
        dossier_code=code,
        procedure_code="1.001612",
        agency_code="000.00.01.H26",
        title="Đăng ký hộ kinh doanh",
    )
    dossier.receive_time.GetCurrentTime()
    return (await hoso.archive.create_dossier(dossier)).name


async def _upload(
    hoso: Clients,
    dossier: str,
    filename: str,
    data: bytes,
    component: int = storage_pb.COMPONENT_TYPE_APPLICATION_FORM,
) -> storage_pb.FileVersion:
    header = storage_pb.PutFileHeader(dossier=dossier, filename=filename, component_type=component)
    return await hoso.archive.put_file(header, data)


async def _job_for(hoso: Clients, dossier: str, version: str) -> ocr_pb.Job:
    (job,) = await hoso.ocr.wait_for_dossier(dossier, [version], timeout=_DEADLINE, poll=0.1)
    return job


async def _code(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    return raised.value


async def _followed_past(server: Any, sequence: int) -> None:
    """Wait (bounded) until the follower's cursor reached ``sequence``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _DEADLINE
    while True:
        async with server.runtime.session() as session:
            cursor = await session.scalar(select(OcrCursor).where(OcrCursor.name == "archive"))
        if cursor is not None and int(cursor.position) >= sequence:
            return
        assert loop.time() < deadline, f"the follower did not reach event {sequence}"
        await asyncio.sleep(0.05)  # polling the database, bounded by the deadline


def _pdf_with_huge_second_page() -> bytes:
    pdf = pikepdf.open(io.BytesIO(scanned_pdf([clean_page(0)])))
    big = pikepdf.Dictionary(
        Type=pikepdf.Name.Page,
        MediaBox=[0, 0, 14400, 14400],
        Contents=pdf.make_stream(b"0 0 m 10 10 l S\n"),
        Resources=pikepdf.Dictionary(),
    )
    pdf.pages.append(pikepdf.Page(pdf.make_indirect(big)))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def _encrypted_pdf() -> bytes:
    pdf = pikepdf.open(io.BytesIO(scanned_pdf([clean_page(0)])))
    out = io.BytesIO()
    pdf.save(out, encryption=pikepdf.Encryption(owner="owner", user="secret", R=6))
    return out.getvalue()


def _bomb_png() -> bytes:
    out = io.BytesIO()
    Image.new("1", (10_000, 8_000), 1).save(out, format="PNG")  # 80 MP, a few kB
    return out.getvalue()


async def test_upload_is_ocrd_searchable_and_has_a_rendition(server) -> None:  # type: ignore[no-untyped-def]
    hoso = Clients(server.channel("operator"))
    backend = Clients(server.channel("backend"))
    dossier = await _dossier(hoso, "H26-OCR-HAPPY-1")
    sample = clean_page(0)
    stored = await _upload(hoso, dossier, "don-dang-ky.png", sample.png())

    job = await _job_for(backend, dossier, stored.name)
    snapshots = [j async for j in backend.ocr.watch(job.name, timeout=_DEADLINE)]
    final = snapshots[-1]
    assert final.state == ocr_pb.JOB_STATE_SUCCEEDED, final
    assert final.pages_total == final.pages_done == 1
    assert final.file_version == stored.name and final.dossier == dossier
    assert final.rendition_file_version and not final.page_errors

    found = await backend.ocr.search("ho so dang ky", dossier=dossier)
    assert [(r.file_version, r.page) for r in found.results] == [(stored.name, 1)]
    hit = found.results[0]
    marked = [hit.snippet[h.start : h.end].lower() for h in hit.highlights]
    assert "hồ" in marked and "đăng" in marked
    exact = await backend.ocr.search("Đăng ký", dossier=dossier)
    assert exact.results and exact.results[0].exact_match
    assert not (await backend.ocr.search("ho so", dossier="dossiers/H26-OTHER")).results

    text = await backend.ocr.get_text(stored.name, include_words=True)
    assert text.page_count == 1
    (page,) = text.pages
    assert "hồ sơ đăng ký" in page.text.lower()
    assert (page.width_px, page.height_px, page.dpi) == (*sample.image.size, 300)
    assert not page.error and not page.low_confidence and page.mean_confidence > 60
    words = {w.text.lower().strip(".,") for w in page.words}
    assert {"hồ", "sơ", "đăng", "ký"} <= words
    assert all(w.box.width > 0 and w.box.height > 0 for w in page.words)
    assert all(w.box.left + w.box.width <= page.width_px for w in page.words)

    renditions = await hoso.archive.list_renditions(stored.name)
    assert [r.name for r in renditions] == [final.rendition_file_version]
    assert renditions[0].rendition_kind == storage_pb.RENDITION_KIND_OCR_PDFA
    assert renditions[0].derived_from == stored.name
    _, pdf_bytes = await hoso.archive.read_file(renditions[0].name)
    with pikepdf.open(io.BytesIO(pdf_bytes)) as pdf:
        assert len(pdf.pages) == 1
        assert "pdfaid" in str(pdf.open_metadata())

    # the rendition's own event makes no job: the follower skips derived files
    events = (await hoso.archive.list_events()).events
    last = max(e.sequence for e in events)
    await _followed_past(server, last)
    jobs = await backend.ocr.list_jobs(dossier=dossier)
    assert [j.name for j in jobs] == [job.name]
    succeeded = await backend.ocr.list_jobs(state=ocr_pb.JOB_STATE_SUCCEEDED)
    assert job.name in [j.name for j in succeeded]
    # submitting the same version again returns the same job (idempotent)
    again = await backend.ocr.submit(stored.name)
    assert again.name == job.name


async def test_a_bad_page_fails_alone_and_bad_files_fail_with_a_reason(server) -> None:  # type: ignore[no-untyped-def]
    hoso = Clients(server.channel("operator"))
    dossier = await _dossier(hoso, "H26-OCR-BAD-1")
    mixed = await _upload(hoso, dossier, "mixed.pdf", _pdf_with_huge_second_page())
    locked = await _upload(hoso, dossier, "locked.pdf", _encrypted_pdf())
    bomb = await _upload(hoso, dossier, "bomb.png", _bomb_png())

    jobs = await hoso.ocr.wait_for_dossier(
        dossier, [mixed.name, locked.name, bomb.name], timeout=_DEADLINE, poll=0.1
    )
    by_version = {j.file_version: j for j in jobs}

    mixed_job = by_version[mixed.name]
    assert mixed_job.state == ocr_pb.JOB_STATE_SUCCEEDED
    assert [e.page for e in mixed_job.page_errors] == [2]
    assert "RESOURCE_EXHAUSTED" in mixed_job.page_errors[0].message
    text = await hoso.ocr.get_text(mixed.name)
    assert text.page_count == 2
    assert "đăng ký" in text.pages[0].text.lower() and not text.pages[0].error
    assert "limit" in text.pages[1].error and not text.pages[1].text

    locked_job = by_version[locked.name]
    assert locked_job.state == ocr_pb.JOB_STATE_FAILED
    assert "encrypted" in locked_job.error_message or "password" in locked_job.error_message

    bomb_job = by_version[bomb.name]
    assert bomb_job.state == ocr_pb.JOB_STATE_FAILED
    assert "limit" in bomb_job.error_message and "MP" in bomb_job.error_message
    # asked directly, the header's dimensions are refused before any job is queued
    error = await _code(hoso.ocr.submit(bomb.name, options=ocr_pb.OcrOptions(languages=["eng"])))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "max_megapixels" in error.details()

    # text the archive accepts but OCR cannot read is refused at once, and never queued
    xml = await _upload(
        hoso,
        dossier,
        "form.xml",
        b'<?xml version="1.0" encoding="UTF-8"?><form><name>Nguyen</name></form>',
    )
    error = await _code(hoso.ocr.submit(xml.name))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "PDF, TIFF, JPEG or PNG" in error.details()
    error = await _code(hoso.ocr.get_text(xml.name))
    assert error.code() == grpc.StatusCode.NOT_FOUND


async def test_unknown_names_and_bad_requests_get_precise_statuses(server) -> None:  # type: ignore[no-untyped-def]
    hoso = Clients(server.channel("operator"))
    ocr = hoso.ocr
    unknown_version = "dossiers/H26-NOPE/files/00000000-0000-4000-8000-000000000000/versions/1"
    cases = [
        (lambda: ocr.submit(unknown_version), grpc.StatusCode.NOT_FOUND, "H26-NOPE"),
        (lambda: ocr.submit("not a name"), grpc.StatusCode.INVALID_ARGUMENT, "file_version"),
        (lambda: ocr.submit(""), grpc.StatusCode.INVALID_ARGUMENT, "file_version"),
        (lambda: ocr.get_job("jobs/0123abcd"), grpc.StatusCode.NOT_FOUND, "jobs/0123abcd"),
        (lambda: ocr.get_job("0123abcd"), grpc.StatusCode.INVALID_ARGUMENT, "jobs/{id}"),
        (lambda: ocr.cancel("jobs/0123abcd"), grpc.StatusCode.NOT_FOUND, "0123abcd"),
        (lambda: ocr.wait("jobs/0123abcd", timeout=10), grpc.StatusCode.NOT_FOUND, "0123abcd"),
        (lambda: ocr.get_text(unknown_version), grpc.StatusCode.NOT_FOUND, "no OCR result"),
        (lambda: ocr.search(""), grpc.StatusCode.INVALID_ARGUMENT, "query"),
        (lambda: ocr.search('  *** "" () '), grpc.StatusCode.INVALID_ARGUMENT, "no words"),
        (
            lambda: ocr.search("ho so", page_token="%%%"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "page_token",
        ),
        (lambda: ocr.search("ho so", dossier="H26"), grpc.StatusCode.INVALID_ARGUMENT, "dossier"),
        (lambda: ocr.list_jobs(dossier="x/y"), grpc.StatusCode.INVALID_ARGUMENT, "dossier"),
    ]
    for call, code, words in cases:
        error = await _code(call())
        assert error.code() == code, (words, error)
        assert words in error.details(), (words, error.details())

    submit = ocr.submit(unknown_version, options=ocr_pb.OcrOptions(languages=["klingon"]))
    error = await _code(submit)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "klingon" in error.details()
    error = await _code(ocr.submit(unknown_version, priority=11))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "priority" in error.details()

    # what FTS5 or tsquery would choke on is plain text to search for, never an error
    hostile = [
        'NEAR("ho so", 2',
        '"unbalanced phrase',
        "ho AND OR NOT so",
        "ho* -so ^dang",
        "'; DROP TABLE ocr_jobs; --",
        "so:ho (dang) {ky}",
        "Đ" * 200,
        "hồ sơ \u0000 đăng",
    ]
    for query in hostile:
        answer = await ocr.search(query)
        assert answer.total_size >= 0


async def test_cancel_and_rebuild(server) -> None:  # type: ignore[no-untyped-def]
    hoso = Clients(server.channel("operator"))
    dossier = await _dossier(hoso, "H26-OCR-REBUILD-1")
    stored = await _upload(hoso, dossier, "scan.pdf", scanned_pdf([clean_page(0)]))
    job = await _job_for(hoso, dossier, stored.name)
    assert job.state == ocr_pb.JOB_STATE_SUCCEEDED
    error = await _code(hoso.ocr.cancel(job.name))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION

    stub = hoso.ocr._stub
    rebuilt = await stub.RebuildIndex(ocr_pb.RebuildIndexRequest(dossier=dossier))
    assert (rebuilt.files_indexed, rebuilt.pages_indexed) == (1, 1)
    assert (await hoso.ocr.search("dang ky", dossier=dossier)).results
    everything = await stub.RebuildIndex(ocr_pb.RebuildIndexRequest())
    assert everything.files_indexed >= 1
    assert (await hoso.ocr.search("dang ky", dossier=dossier)).results

    requeued = await stub.RebuildIndex(ocr_pb.RebuildIndexRequest(dossier=dossier, reocr=True))
    assert requeued.files_indexed == 1
    again = await hoso.ocr.wait(job.name, timeout=_DEADLINE)
    assert again.state == ocr_pb.JOB_STATE_SUCCEEDED and again.name == job.name
    assert (await hoso.ocr.search("ho so dang ky", dossier=dossier)).results
    error = await _code(stub.RebuildIndex(ocr_pb.RebuildIndexRequest(dossier="bad")))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT

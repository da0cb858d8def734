"""OCR jobs are identified by file digest + engine settings: identical bytes are OCR'd once.

Engine invocations are counted by wrapping the process pool the worker OCRs pages with, so the
tests prove the engine did not run for a job that reused another's result.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import multiprocessing
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pikepdf
import pytest
import pytest_asyncio
from hoso.client import Clients
from hoso.common import migrate
from hoso.common.db import create_engine
from hoso.ocr.engine import EngineOptions
from hoso.ocr.index import SearchFilters, open_index, parse_query
from hoso.ocr.models import JobState, OcrJob, OcrPage
from hoso.ocr.pool import PageOutcome, RuntimePool
from hoso.ocr.queue import JobQueue
from hoso.ocr.reuse import finished_source
from hoso.ocr.settings import DEFAULT_TESSDATA
from hoso.ocr.v1 import ocr_pb2 as ocr_pb
from hoso.ocr.worker import FolderSink, FolderSource, OcrWorker
from hoso.storage.v1 import storage_pb2 as storage_pb
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.fixtures.ocr_pages import clean_page, scanned_pdf

pytestmark = [pytest.mark.asyncio, pytest.mark.tesseract, pytest.mark.timeout(300)]

OPTIONS = EngineOptions(tessdata=str(DEFAULT_TESSDATA))
ENGLISH = replace(OPTIONS, languages="eng")
_DEADLINE = 180.0


@pytest_asyncio.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    await asyncio.to_thread(migrate.upgrade, database_url)
    engine = create_engine(database_url)
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


@pytest.fixture
def executor() -> Iterator[ProcessPoolExecutor]:
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("forkserver")) as pool:
        yield pool


class CountingPool:
    """Runs pages in real OCR processes and records the languages of every page OCR'd."""

    def __init__(self, executor: ProcessPoolExecutor) -> None:
        self.executor = executor
        self.languages: list[str] = []

    async def run_cpu(self, fn: Any, *args: Any) -> PageOutcome:
        options: EngineOptions = args[0]  # ocr_page_with(options, ref, dpi, redo)
        self.languages.append(options.languages)
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)


def _queue(sessions: async_sessionmaker[AsyncSession]) -> JobQueue:
    return JobQueue(sessions, lease_seconds=60, max_attempts=3, backoff_seconds=0)


async def _drain(worker: OcrWorker) -> int:
    """Run jobs until none is runnable; how many ran."""
    ran = 0
    while await worker.run_once():
        ran += 1
    return ran


async def test_same_bytes_are_ocrd_once_and_other_settings_again(
    sessions: async_sessionmaker[AsyncSession], executor: ProcessPoolExecutor, tmp_path: Path
) -> None:
    data = scanned_pdf([clean_page(0), clean_page(1)])
    digest = hashlib.sha256(data).hexdigest()
    for version in ("a", "b", "c", "d"):
        (tmp_path / version).write_bytes(data)
    queue = _queue(sessions)
    first, _ = await queue.enqueue(
        file_version="a", fingerprint=OPTIONS.fingerprint(), file_digest=digest, dossier="dA"
    )
    second, _ = await queue.enqueue(
        file_version="b", fingerprint=OPTIONS.fingerprint(), file_digest=digest, dossier="dB"
    )
    english, _ = await queue.enqueue(
        file_version="c",
        fingerprint=ENGLISH.fingerprint(),
        options_json=json.dumps({"languages": "eng"}),
        file_digest=digest,
        dossier="dA",
    )
    assert first.source_job_id is None and english.source_job_id is None
    assert second.source_job_id == first.id

    # While the first job is on its way the second is not runnable.
    claimed = {(await queue.claim("probe")).id, (await queue.claim("probe")).id}  # type: ignore[union-attr]
    assert claimed == {first.id, english.id}
    assert await queue.claim("probe") is None
    assert await queue.release(first.id, "probe") and await queue.release(english.id, "probe")

    counting = CountingPool(executor)
    dialect = sessions.kw["bind"].dialect.name
    index = open_index(dialect)
    worker = OcrWorker(
        sessions=sessions,
        queue=queue,
        pool=RuntimePool(counting.run_cpu, OPTIONS),
        index=index,
        source=FolderSource(tmp_path),
        sink=FolderSink(tmp_path),
        owner="w",
    )
    assert await _drain(worker) == 3
    # two pages OCR'd with the default settings (once, for a and b) and two with English
    assert sorted(counting.languages) == sorted([OPTIONS.languages] * 2 + ["eng"] * 2)

    done = {v: await queue.get(j.id) for v, j in (("a", first), ("b", second), ("c", english))}
    for job in done.values():
        assert job.state == JobState.SUCCEEDED and job.attempts == 1 and job.completions == 1
        assert job.pages_total == job.pages_done == 2
    assert done["b"].mean_confidence == done["a"].mean_confidence
    async with sessions() as session:
        pages = {
            version: [
                (p.page, p.text, p.words_json, p.confidence, p.dpi)
                for p in await session.scalars(
                    select(OcrPage).where(OcrPage.job_id == job.id).order_by(OcrPage.page)
                )
            ]
            for version, job in done.items()
        }
        in_b = await index.search(
            session, parse_query("dang ky"), SearchFilters(dossier="dB"), limit=5, offset=0
        )
        everywhere = await index.search(
            session, parse_query("dang ky"), SearchFilters(), limit=10, offset=0
        )
    assert pages["b"] == pages["a"] and len(pages["a"]) == 2
    assert "đăng ký" in pages["a"][0][1].lower()
    assert [(h.file_version, h.page) for h in in_b.hits] == [("b", 1)]
    assert {(h.file_version, h.page) for h in everywhere.hits} == {("a", 1), ("b", 1), ("c", 1)}

    # b has a rendition of its own, titled with its own version
    assert done["b"].rendition_file_version == f"{second.id}.pdf"
    assert done["b"].rendition_file_version != done["a"].rendition_file_version
    with pikepdf.open(tmp_path / done["b"].rendition_file_version) as pdf:
        assert len(pdf.pages) == 2
        assert pdf.open_metadata()["dc:title"] == "b"

    # bytes archived again after the result exists: completed from it, the engine idle
    later, _ = await queue.enqueue(
        file_version="d", fingerprint=OPTIONS.fingerprint(), file_digest=digest, dossier="dD"
    )
    assert later.source_job_id in {first.id, second.id}
    assert await _drain(worker) == 1
    assert len(counting.languages) == 4
    assert (await queue.get(later.id)).state == JobState.SUCCEEDED

    # the result's rendition was deleted meanwhile: nothing to copy, so the engine runs
    (tmp_path / "e").write_bytes(data)
    for job in done.values():
        (tmp_path / job.rendition_file_version).unlink()
    (tmp_path / (await queue.get(later.id)).rendition_file_version).unlink()
    redo, _ = await queue.enqueue(
        file_version="e", fingerprint=OPTIONS.fingerprint(), file_digest=digest, dossier="dE"
    )
    assert redo.source_job_id is not None
    assert await _drain(worker) == 1
    assert len(counting.languages) == 6
    rerun = await queue.get(redo.id)
    assert rerun.state == JobState.SUCCEEDED and rerun.completions == 1
    assert (tmp_path / rerun.rendition_file_version).read_bytes().startswith(b"%PDF")


async def test_a_job_whose_source_did_not_succeed_runs_the_engine_itself(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    queue = _queue(sessions)
    first, _ = await queue.enqueue(file_version="a", fingerprint="f", file_digest="d1")
    second, _ = await queue.enqueue(file_version="b", fingerprint="f", file_digest="d1")
    no_pdfa, _ = await queue.enqueue(
        file_version="c",
        fingerprint="f",
        file_digest="d1",
        options_json=json.dumps({"produce_pdfa": False}),
    )
    unknown_digest, _ = await queue.enqueue(file_version="e", fingerprint="f")
    assert second.source_job_id == first.id
    assert no_pdfa.source_job_id is None  # a different result: no rendition
    assert unknown_digest.source_job_id is None
    # the same version submitted again is still the same job
    again, created = await queue.enqueue(file_version="b", fingerprint="f", file_digest="d1")
    assert again.id == second.id and not created

    await queue.cancel(first.id)
    claimed = []
    while (job := await queue.claim("w")) is not None:
        claimed.append(job)
    assert {j.id for j in claimed} == {second.id, no_pdfa.id, unknown_digest.id}
    reclaimed = next(j for j in claimed if j.id == second.id)
    assert await finished_source(sessions, reclaimed) is None

    # a new upload of the bytes waits for the one now running the engine, not the cancelled one
    third, _ = await queue.enqueue(file_version="g", fingerprint="f", file_digest="d1")
    assert third.source_job_id == second.id
    assert await queue.claim("w") is None


@pytest_asyncio.fixture
async def server(start_server, database_url) -> Any:  # type: ignore[no-untyped-def]
    return await start_server(
        ["storage", "ocr"],
        overrides={"ocr": {"workers": 1, "poll_seconds": 0.1}},
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


async def test_same_scan_in_two_dossiers_has_text_search_and_rendition_in_both(server) -> None:  # type: ignore[no-untyped-def]
    hoso = Clients(server.channel("operator"))
    scan = clean_page(0).png()
    uploads = []
    for code in ("H26-OCR-SAME-1", "H26-OCR-SAME-2"):
        dossier = await _dossier(hoso, code)
        header = storage_pb.PutFileHeader(
            dossier=dossier,
            filename="don.png",
            component_type=storage_pb.COMPONENT_TYPE_APPLICATION_FORM,
        )
        uploads.append((dossier, await hoso.archive.put_file(header, scan)))
    (dossier_a, a), (dossier_b, b) = uploads
    (job_a,) = await hoso.ocr.wait_for_dossier(dossier_a, [a.name], timeout=_DEADLINE, poll=0.1)
    (job_b,) = await hoso.ocr.wait_for_dossier(dossier_b, [b.name], timeout=_DEADLINE, poll=0.1)
    assert job_a.state == job_b.state == ocr_pb.JOB_STATE_SUCCEEDED
    assert job_b.attempts == 1 and job_b.pages_total == job_b.pages_done == 1

    async with server.runtime.session() as session:
        rows = {
            row.file_version: row
            for row in await session.scalars(
                select(OcrJob).where(OcrJob.file_version.in_([a.name, b.name]))
            )
        }
    assert rows[b.name].source_job_id == rows[a.name].id
    assert rows[a.name].file_digest == rows[b.name].file_digest == a.sha256 == b.sha256

    text_a = await hoso.ocr.get_text(a.name, include_words=True)
    text_b = await hoso.ocr.get_text(b.name, include_words=True)
    assert text_b == text_a and "hồ sơ đăng ký" in text_b.pages[0].text.lower()

    found = await hoso.ocr.search("ho so dang ky", dossier=dossier_b)
    assert [(r.file_version, r.page) for r in found.results] == [(b.name, 1)]

    renditions = await hoso.archive.list_renditions(b.name)
    assert [r.name for r in renditions] == [job_b.rendition_file_version]
    assert renditions[0].derived_from == b.name and renditions[0].dossier == dossier_b
    assert renditions[0].rendition_kind == storage_pb.RENDITION_KIND_OCR_PDFA
    assert job_b.rendition_file_version != job_a.rendition_file_version
    _, pdf_bytes = await hoso.archive.read_file(renditions[0].name)
    with pikepdf.open(io.BytesIO(pdf_bytes)) as pdf:
        assert pdf.open_metadata()["dc:title"] == b.name


async def test_reocr_reads_the_file_again_instead_of_copying(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    from hoso.ocr.rebuild import IndexRebuilder

    queue = _queue(sessions)
    first, _ = await queue.enqueue(file_version="a", fingerprint="f", file_digest="d2")
    second, _ = await queue.enqueue(file_version="b", fingerprint="f", file_digest="d2")
    assert second.source_job_id == first.id
    async with sessions.begin() as session:
        for job in await session.scalars(select(OcrJob)):
            job.state = JobState.SUCCEEDED
    engine_name = sessions.kw["bind"].dialect.name
    rebuilder = IndexRebuilder(sessions, open_index(engine_name), queue)
    counts = await rebuilder.rebuild(reocr=True)
    assert counts["files_indexed"] == 2
    async with sessions() as session:
        requeued = await session.get(OcrJob, second.id)
    assert requeued is not None
    assert requeued.state == JobState.QUEUED
    assert requeued.source_job_id is None

"""The durable OCR queue: a killed worker's job is reclaimed and completed exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from hoso.common import migrate
from hoso.common.db import create_engine
from hoso.ocr.engine import EngineOptions
from hoso.ocr.index import SearchFilters, open_index, parse_query
from hoso.ocr.models import JobState, OcrIndexPage, OcrJob, OcrPage
from hoso.ocr.pool import OcrPool
from hoso.ocr.queue import JobQueue, LeaseLost, utc_now
from hoso.ocr.settings import DEFAULT_TESSDATA
from hoso.ocr.worker import FolderSink, FolderSource, OcrWorker
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.fixtures.ocr_pages import clean_page, scanned_pdf

pytestmark = [pytest.mark.asyncio, pytest.mark.tesseract]

OPTIONS = EngineOptions(tessdata=str(DEFAULT_TESSDATA))

# Worker A: claims the job, announces it, then hangs until killed (a crash mid-job).
_WORKER_A = """
import asyncio, sys
from pathlib import Path
from sqlalchemy.ext.asyncio import async_sessionmaker
from hoso.common.db import create_engine
from hoso.ocr.engine import EngineOptions
from hoso.ocr.index import open_index
from hoso.ocr.pool import OcrPool
from hoso.ocr.queue import JobQueue
from hoso.ocr.worker import FolderSink, FolderSource, OcrWorker, WorkerHooks

async def hang(job):
    print("claimed", job.id, flush=True)
    await asyncio.Event().wait()

async def main(url, folder):
    engine = create_engine(url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    queue = JobQueue(sessions, lease_seconds=60, max_attempts=3, backoff_seconds=0)
    pool = OcrPool(EngineOptions(tessdata=sys.argv[3]), 1)
    worker = OcrWorker(sessions=sessions, queue=queue, pool=pool,
        index=open_index(engine.dialect.name), source=FolderSource(Path(folder)),
        sink=FolderSink(Path(folder)), owner="worker-a", hooks=WorkerHooks(after_claim=hang))
    await worker.run_once()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


@pytest_asyncio.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    await asyncio.to_thread(migrate.upgrade, database_url)
    engine = create_engine(database_url)
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


def _queue(sessions: async_sessionmaker[AsyncSession], shift: timedelta = timedelta()) -> JobQueue:
    return JobQueue(
        sessions,
        lease_seconds=60,
        max_attempts=3,
        backoff_seconds=0,
        clock=lambda: utc_now() + shift,
    )


async def test_killed_worker_job_completes_exactly_once(
    sessions: async_sessionmaker[AsyncSession], database_url: str, tmp_path: Path
) -> None:
    (tmp_path / "v1").write_bytes(scanned_pdf([clean_page(0), clean_page(1)]))
    queue = _queue(sessions)
    job, created = await queue.enqueue(
        file_version="v1", fingerprint=OPTIONS.fingerprint(), dossier="D1"
    )
    assert created
    again, created_again = await queue.enqueue(file_version="v1", fingerprint=OPTIONS.fingerprint())
    assert again.id == job.id and not created_again

    worker_a = subprocess.Popen(
        [sys.executable, "-c", _WORKER_A, database_url, str(tmp_path), str(DEFAULT_TESSDATA)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        line = await asyncio.wait_for(asyncio.to_thread(worker_a.stdout.readline), 60)
        assert line.split() == ["claimed", job.id]
    finally:
        worker_a.send_signal(signal.SIGKILL)
        worker_a.wait(timeout=30)
    held = await queue.get(job.id)
    assert held.state == JobState.RUNNING and held.lease_owner == "worker-a"

    # While worker A's lease is valid nobody else may take the job.
    assert await queue.claim("worker-b") is None
    # Past the lease (a clock shifted beyond it instead of a wait), worker B reclaims it.
    later = _queue(sessions, shift=timedelta(seconds=61))
    engine_dialect = sessions.kw["bind"].dialect.name
    async with OcrPool(OPTIONS, 1) as pool:
        worker_b = OcrWorker(
            sessions=sessions,
            queue=later,
            pool=pool,
            index=open_index(engine_dialect),
            source=FolderSource(tmp_path),
            sink=FolderSink(tmp_path),
            owner="worker-b",
        )
        assert await worker_b.run_once()
        assert not await worker_b.run_once()  # nothing left: the job is not run twice

    done = await queue.get(job.id)
    assert done.state == JobState.SUCCEEDED
    assert done.attempts == 2 and done.completions == 1
    assert done.pages_total == done.pages_done == 2
    assert (tmp_path / done.rendition_file_version).read_bytes().startswith(b"%PDF")
    async with sessions() as session:
        pages = await session.scalar(select(func.count()).select_from(OcrPage))
        indexed = await session.scalar(select(func.count()).select_from(OcrIndexPage))
        hits = await open_index(engine_dialect).search(
            session, parse_query("dang ky"), SearchFilters(), limit=5, offset=0
        )
    assert pages == 2 and indexed == 2
    assert [(h.file_version, h.page) for h in hits.hits] == [("v1", 1)]

    # Worker A, had it woken up, could not record a second result.
    async with sessions.begin() as session:
        with pytest.raises(LeaseLost):
            await later.hold(session, job.id, "worker-a")


async def test_cancel_and_unknown_job(sessions: async_sessionmaker[AsyncSession]) -> None:
    queue = _queue(sessions)
    job, _ = await queue.enqueue(file_version="v2", fingerprint="f")
    cancelled = await queue.cancel(job.id)
    assert cancelled.state == JobState.CANCELLED
    assert await queue.claim("w") is None
    from hoso.ocr.errors import JobNotFound

    with pytest.raises(JobNotFound) as caught:
        await queue.get("missing")
    assert caught.value.code.name == "NOT_FOUND"


async def test_failed_attempts_back_off_then_fail(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    queue = _queue(sessions)
    job, _ = await queue.enqueue(file_version="v3", fingerprint="f")
    claimed = await queue.claim("w")
    assert claimed is not None and claimed.id == job.id
    assert await queue.retry_or_fail(job.id, "w", "UNAVAILABLE", "archive down") == JobState.QUEUED
    claimed = await queue.claim("w")
    assert claimed is not None and claimed.attempts == 2
    state = await queue.retry_or_fail(job.id, "w", "INVALID_ARGUMENT", "corrupt file")
    assert state == JobState.FAILED
    async with sessions() as session:
        row = await session.get(OcrJob, job.id)
    assert row is not None and row.error_code == "INVALID_ARGUMENT"

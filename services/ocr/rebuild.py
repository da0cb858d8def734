"""Rebuild the text index: from the page text each file's latest OCR result stored, or by
queueing OCR again so every file is read from the archive anew."""

from __future__ import annotations

import asyncio

from hoso.ocr.index import IndexedPage, TextIndex
from hoso.ocr.models import JobState, OcrJob, OcrPage
from hoso.ocr.queue import JobQueue
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

__all__ = ["IndexRebuilder"]


class IndexRebuilder:
    """One rebuild at a time per process.

    Args:
        sessions: Catalog session factory.
        index: The text index.
        queue: The job queue (re-OCR).
    """

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], index: TextIndex, queue: JobQueue
    ) -> None:
        self._sessions, self._index, self._queue = sessions, index, queue
        self._lock = asyncio.Lock()

    @property
    def running(self) -> bool:
        """Whether a rebuild is in progress."""
        return self._lock.locked()

    async def rebuild(self, *, dossier: str = "", reocr: bool = False) -> dict[str, int]:
        """Rebuild the index of ``dossier`` (empty: everything).

        Returns:
            ``files_indexed``, ``pages_indexed``, ``files_skipped``, ``files_failed``.
        """
        async with self._lock:
            if reocr:
                return await self._requeue(dossier)
            return await self._reindex(dossier)

    async def _latest_jobs(self, session: AsyncSession, dossier: str) -> dict[str, OcrJob | None]:
        """Per file version: its latest succeeded job (``None`` when it has none)."""
        query = select(OcrJob).order_by(OcrJob.created_at, OcrJob.id)
        if dossier:
            query = query.where(OcrJob.dossier == dossier)
        latest: dict[str, OcrJob | None] = {}
        for job in await session.scalars(query):
            if job.state == JobState.SUCCEEDED:
                latest[job.file_version] = job
            else:
                latest.setdefault(job.file_version, None)
        return latest

    async def _reindex(self, dossier: str) -> dict[str, int]:
        files = pages_indexed = skipped = 0
        async with self._sessions.begin() as session:
            latest = await self._latest_jobs(session, dossier)
            if not dossier:
                await self._index.clear(session)
            for version, job in latest.items():
                if dossier:
                    await self._index.delete_file(session, version)
                if job is None:
                    skipped += 1
                    continue
                rows = await session.scalars(
                    select(OcrPage).where(OcrPage.job_id == job.id).order_by(OcrPage.page)
                )
                pages = [
                    IndexedPage(
                        file_version=version,
                        page=row.page,
                        text=row.text,
                        dossier=job.dossier,
                        agency=job.agency,
                        procedure=job.procedure,
                        component_type=job.component_type,
                        archived_at=job.created_at,
                    )
                    for row in rows
                    if row.text and not row.error_code
                ]
                await self._index.upsert(session, pages)
                files += 1
                pages_indexed += len(pages)
        return {
            "files_indexed": files,
            "pages_indexed": pages_indexed,
            "files_skipped": skipped,
            "files_failed": 0,
        }

    async def _requeue(self, dossier: str) -> dict[str, int]:
        queued = skipped = 0
        now = self._queue.clock()
        async with self._sessions.begin() as session:
            query = select(OcrJob).order_by(OcrJob.created_at, OcrJob.id)
            if dossier:
                query = query.where(OcrJob.dossier == dossier)
            latest: dict[str, OcrJob] = {}
            for job in await session.scalars(query):
                latest[job.file_version] = job
            for job in latest.values():
                if job.state in (JobState.QUEUED, JobState.RUNNING):
                    skipped += 1  # already on its way
                    continue
                job.state, job.attempts, job.completions = JobState.QUEUED, 0, 0
                job.not_before, job.finished_at = now, None
                job.pages_done, job.error_code, job.error_message = 0, "", ""
                # Re-OCR means reading the file again, not copying another job's result.
                job.source_job_id = None
                queued += 1
        return {
            "files_indexed": queued,
            "pages_indexed": 0,
            "files_skipped": skipped,
            "files_failed": 0,
        }

"""Reuse a finished OCR result for the same bytes and engine settings.

When a file's bytes were already OCR'd with the same settings (same SHA-256, same engine
fingerprint, see :mod:`hoso.ocr.queue`), the later job does not run the engine: it copies
the finished job's page rows (text, word boxes, confidence, errors) under its own job id and
file version, indexes them with its own dossier facts, and stores the rendition again as a
file derived from its own version. Copies rather than references, so each version's result
lives in its own dossier (retention, legal holds, access) and outlives a re-OCR or deletion
of the other; ``GetText``, ``Search`` and ``ListRenditions`` work for it as for any job.
Completion goes through the same lease-holder guard as OCR, so a copy is recorded once.
"""

from __future__ import annotations

import asyncio
import io
from typing import TYPE_CHECKING

import pikepdf
from hoso.ocr.errors import NotFound
from hoso.ocr.index import IndexedPage, TextIndex
from hoso.ocr.models import JobState, OcrJob, OcrPage
from hoso.ocr.queue import JobQueue, result_options
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

if TYPE_CHECKING:
    from hoso.ocr.worker import RenditionSink

__all__ = ["copy_result", "finished_source", "retitle_rendition"]

# Columns of a page row that belong to the job and version, not to the page's result.
_OWN_COLUMNS = frozenset({"id", "job_id", "file_version"})


async def finished_source(sessions: async_sessionmaker[AsyncSession], job: OcrJob) -> OcrJob | None:
    """The succeeded job whose result ``job`` copies (``None``: ``job`` runs the engine)."""
    if not job.source_job_id:
        return None
    async with sessions() as session:
        source = await session.get(OcrJob, job.source_job_id)
    if source is None or source.state != JobState.SUCCEEDED:
        return None
    return source


def retitle_rendition(data: bytes, title: str) -> bytes:
    """``data`` (a rendition PDF) with ``title`` as its XMP title: the copy names its own
    version, not the other dossier's."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
            meta["dc:title"] = title
        out = io.BytesIO()
        pdf.save(out, deterministic_id=True)
    return out.getvalue()


async def copy_result(
    *,
    sessions: async_sessionmaker[AsyncSession],
    queue: JobQueue,
    index: TextIndex,
    sink: RenditionSink,
    job: OcrJob,
    source: OcrJob,
    owner: str,
) -> bool:
    """Complete ``job`` with a copy of ``source``'s result.

    Returns:
        ``False`` when the source's rendition is gone (deleted from the archive): nothing was
        recorded, and the caller runs the engine instead.

    Raises:
        LeaseLost: ``owner`` no longer holds ``job``; nothing is recorded.
    """
    async with sessions() as session:
        pages = list(
            await session.scalars(
                select(OcrPage).where(OcrPage.job_id == source.id).order_by(OcrPage.page)
            )
        )
    rendition_version = ""
    _, wants_pdfa = result_options(job.options_json)
    if wants_pdfa and source.rendition_file_version:
        try:
            data, signed = await sink.load(source.rendition_file_version)
        except (NotFound, FileNotFoundError):
            return False
        data = await asyncio.to_thread(retitle_rendition, data, job.file_version)
        rendition_version = await sink.store(job, data, signed=signed)
    async with sessions.begin() as session:
        held = await queue.hold(session, job.id, owner)
        await session.execute(delete(OcrPage).where(OcrPage.job_id == job.id))
        for page in pages:
            values = {
                column.key: getattr(page, column.key)
                for column in OcrPage.__table__.columns
                if column.key not in _OWN_COLUMNS
            }
            session.add(OcrPage(job_id=job.id, file_version=job.file_version, **values))
        await index.delete_file(session, job.file_version)
        await index.upsert(
            session,
            [
                IndexedPage(
                    file_version=job.file_version,
                    page=page.page,
                    text=page.text,
                    dossier=job.dossier,
                    agency=job.agency,
                    procedure=job.procedure,
                    component_type=job.component_type,
                    archived_at=job.created_at,
                )
                for page in pages
                if page.text and not page.error_code
            ],
        )
        held.state = JobState.SUCCEEDED
        held.pages_total = held.pages_done = len(pages)
        held.mean_confidence = source.mean_confidence
        held.rendition_file_version = rendition_version
        held.error_code, held.error_message = source.error_code, source.error_message
        held.finished_at = queue.clock()
        held.lease_owner, held.lease_expires_at = None, None
    return True

"""The OCR worker loop: claim a job, fetch the file, OCR its pages, store and index the result.

Files come from a :class:`FileSource` and renditions go to a :class:`RenditionSink`: the
archive's gRPC API in the service, a local folder for the CLI and tests. Everything the job
produces (page rows, index entries, job state) is recorded in one transaction that first
checks the worker still holds the lease, so a job is completed exactly once even when a
worker that was presumed dead wakes up late.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path

from hoso.common.telemetry import record_ocr_pages, record_queue_depth, tracer
from hoso.common.tracing import continue_trace
from hoso.ocr.document import DocumentOcr, ocr_document_async
from hoso.ocr.errors import HosoError, NotFound, error_code_name
from hoso.ocr.index import IndexedPage, TextIndex
from hoso.ocr.models import JobState, OcrJob, OcrPage
from hoso.ocr.pages import DocumentPlan
from hoso.ocr.pool import PageOutcome, PageRunner
from hoso.ocr.queue import JobQueue, LeaseLost, rows_changed
from hoso.ocr.reuse import copy_result, finished_source
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

__all__ = ["FileSource", "FolderSink", "FolderSource", "OcrWorker", "RenditionSink", "WorkerHooks"]

_log = logging.getLogger(__name__)


class FileSource(ABC):
    """Where a worker reads the bytes of a file version."""

    @abstractmethod
    async def fetch(self, file_version: str, target: Path) -> None:
        """Write the file's bytes to ``target``.

        Raises:
            NotFound: No such file version.
        """


class RenditionSink(ABC):
    """Where a worker stores the searchable PDF/A of a job."""

    @abstractmethod
    async def store(self, job: OcrJob, rendition: bytes, *, signed: bool = False) -> str:
        """Store ``rendition`` as a file derived from ``job.file_version``; return its version.

        ``signed``: the original is a signed PDF, so ``rendition`` is a sidecar next to it
        (the original is never rewritten). Must be idempotent per job id: a retried job
        stores one rendition, not two.
        """

    @abstractmethod
    async def load(self, rendition_version: str) -> tuple[bytes, bool]:
        """The bytes of a rendition this sink stored, and whether it is a signed PDF's
        sidecar (a job reusing the result of the same bytes stores it again as its own)."""


class FolderSource(FileSource):
    """Files named by their version inside a folder (CLI, tests)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def fetch(self, file_version: str, target: Path) -> None:
        source = self.folder / file_version
        if "/" in file_version or not source.is_file():
            raise NotFound(f"no file {file_version!r}", field="file_version")
        await asyncio.to_thread(target.write_bytes, source.read_bytes())


class FolderSink(RenditionSink):
    """Renditions written as ``<job id>.pdf`` (idempotent: same name on retry)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def store(self, job: OcrJob, rendition: bytes, *, signed: bool = False) -> str:
        path = self.folder / f"{job.id}{'.sidecar' if signed else ''}.pdf"
        await asyncio.to_thread(path.write_bytes, rendition)
        return path.name

    async def load(self, rendition_version: str) -> tuple[bytes, bool]:
        data = await asyncio.to_thread((self.folder / rendition_version).read_bytes)
        return data, rendition_version.endswith(".sidecar.pdf")


@dataclass(frozen=True)
class WorkerHooks:
    """Fault-injection points for tests (compare OCRmyPDF's crash plugins)."""

    after_claim: Callable[[OcrJob], Awaitable[None]] | None = None


class OcrWorker:
    """Runs jobs from the queue through the OCR pool.

    Args:
        sessions: Catalog session factory.
        queue: The job queue.
        pool: OCR processes.
        index: The text index.
        source: Where files are read.
        sink: Where renditions go.
        dpi: Rendering resolution for PDF pages.
        low_confidence: Pages under this mean confidence are flagged.
        owner: This worker's name in leases.
    """

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        queue: JobQueue,
        pool: PageRunner,
        index: TextIndex,
        source: FileSource,
        sink: RenditionSink,
        dpi: int = 300,
        low_confidence: float = 60.0,
        owner: str | None = None,
        hooks: WorkerHooks = WorkerHooks(),
    ) -> None:
        self.sessions, self.queue, self.pool, self.index = sessions, queue, pool, index
        self.source, self.sink, self.dpi, self.low_confidence = source, sink, dpi, low_confidence
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}"
        self.hooks = hooks

    async def run(self, stop: asyncio.Event, poll_seconds: float = 1.0) -> None:
        """Process jobs until ``stop`` is set, waiting ``poll_seconds`` when idle.

        ``stop`` is checked between jobs: a job being processed finishes first. Cancelling
        the task instead gives the current job back to the queue (see :meth:`run_once`).
        """
        while not stop.is_set():
            try:
                worked = await self.run_once()
            except Exception:  # the database is away: log, wait, try again
                _log.exception("OCR worker %s could not claim a job", self.owner)
                worked = False
            if not worked:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), poll_seconds)

    async def run_once(self) -> bool:
        """Claim and process one job; ``False`` when there was none.

        When the task is cancelled mid-job (shutdown), the job is released to the queue
        without counting the attempt, and another worker picks it up.
        """
        job = await self.queue.claim(self.owner)
        record_queue_depth("ocr", await self.queue.depth())
        if job is None:
            return False
        try:
            with continue_trace(
                "ocr.job",
                job.traceparent,
                attributes={"hoso.ocr.job": job.id, "hoso.file_version": job.file_version},
            ):
                await self._run_claimed(job)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.queue.release(job.id, self.owner))
            raise
        return True

    async def _run_claimed(self, job: OcrJob) -> None:
        if self.hooks.after_claim is not None:
            await self.hooks.after_claim(job)
        renewer = asyncio.create_task(self._renew(job.id))
        try:
            await self._process(job)
        except LeaseLost:
            _log.warning("job %s was taken over or cancelled; result dropped", job.id)
        except HosoError as e:
            await self._give_up(job, e.code.name, e.message)
        except Exception as e:
            _log.exception("job %s failed", job.id)
            await self._give_up(job, error_code_name(e), "OCR failed unexpectedly; retrying")
        finally:
            renewer.cancel()

    async def _give_up(self, job: OcrJob, code: str, message: str) -> None:
        with contextlib.suppress(LeaseLost):
            await self.queue.retry_or_fail(job.id, self.owner, code, message)

    async def _renew(self, job_id: str) -> None:
        interval = self.queue.lease.total_seconds() / 3
        with contextlib.suppress(LeaseLost):
            while True:
                await asyncio.sleep(interval)
                await self.queue.renew(job_id, self.owner)

    async def _process(self, job: OcrJob) -> None:
        # The same bytes were OCR'd with these settings: copy that result, engine idle.
        source = await finished_source(self.sessions, job)
        if source is not None and await copy_result(
            sessions=self.sessions,
            queue=self.queue,
            index=self.index,
            sink=self.sink,
            job=job,
            source=source,
            owner=self.owner,
        ):
            return
        options = json.loads(job.options_json or "{}")
        engine = {k: options[k] for k in ("languages", "deskew", "auto_rotate") if k in options}
        pool = self.pool.with_options(replace(self.pool.options, **engine))
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="hoso-ocr-") as folder:
            path = Path(folder) / "input"
            await self.source.fetch(job.file_version, path)
            done = 0

            async def planned(plan: DocumentPlan) -> None:
                await self._progress(job.id, pages_total=len(plan.pages))

            async def progress(_outcome: PageOutcome) -> None:
                nonlocal done
                done += 1
                await self._progress(job.id, pages_done=done)

            result = await ocr_document_async(
                path,
                pool,
                dpi=self.dpi,
                redo=bool(options.get("redo_pages_with_text")),
                title=job.file_version,
                on_page=progress,
                on_plan=planned,
            )
        if result.rendition is None:
            first = result.failed_pages[0] if result.failed_pages else None
            raise _DocumentFailed(first)
        rendition_version = ""
        if options.get("produce_pdfa", True):
            rendition_version = await self.sink.store(
                job, result.rendition, signed=result.plan.signed
            )
        await self._complete(job, result, rendition_version)
        failed = len(result.failed_pages)
        seconds = time.monotonic() - started
        if failed:
            record_ocr_pages(failed, seconds, outcome="failed")
        record_ocr_pages(len(result.outcomes) - failed, seconds)

    async def _progress(self, job_id: str, **values: int) -> None:
        """Record progress; a job cancelled meanwhile stops here (``LeaseLost``)."""
        async with self.sessions.begin() as session:
            result = await session.execute(
                update(OcrJob)
                .where(
                    OcrJob.id == job_id,
                    OcrJob.lease_owner == self.owner,
                    OcrJob.state == JobState.RUNNING,
                )
                .values(**values)
            )
            if rows_changed(result) != 1:
                raise LeaseLost(job_id)

    async def _complete(self, job: OcrJob, result: DocumentOcr, rendition_version: str) -> None:
        async with self.sessions.begin() as session:
            held = await self.queue.hold(session, job.id, self.owner)
            await session.execute(delete(OcrPage).where(OcrPage.job_id == job.id))
            indexed: list[IndexedPage] = []
            confidences: list[float] = []
            for outcome in result.outcomes:
                session.add(self._page_row(job, outcome))
                if outcome.result is not None:
                    confidences.append(outcome.result.confidence)
                    indexed.append(
                        IndexedPage(
                            file_version=job.file_version,
                            page=outcome.index + 1,
                            text=outcome.result.text,
                            dossier=job.dossier,
                            agency=job.agency,
                            procedure=job.procedure,
                            component_type=job.component_type,
                            archived_at=job.created_at,
                        )
                    )
            with tracer().start_as_current_span(
                "ocr.index", attributes={"hoso.file_version": job.file_version}
            ):
                await self.index.delete_file(session, job.file_version)
                await self.index.upsert(session, indexed)
            failed = result.failed_pages
            held.state = JobState.SUCCEEDED
            held.pages_total = held.pages_done = len(result.outcomes)
            held.mean_confidence = sum(confidences) / len(confidences) if confidences else 0.0
            held.rendition_file_version = rendition_version
            held.error_code = failed[0].error_code or "" if failed else ""
            held.error_message = f"{len(failed)} page(s) failed" if failed else ""
            held.finished_at = self.queue.clock()
            held.lease_owner, held.lease_expires_at = None, None

    def _page_row(self, job: OcrJob, outcome: PageOutcome) -> OcrPage:
        page = outcome.result
        words = [
            {"text": w.text, "confidence": w.confidence, "box": list(w.box)}
            for w in (page.words if page else ())
        ]
        return OcrPage(
            job_id=job.id,
            file_version=job.file_version,
            page=outcome.index + 1,
            text=page.text if page else "",
            words_json=json.dumps(words, ensure_ascii=False),
            width=page.processed_width if page else 0,
            height=page.processed_height if page else 0,
            dpi=round(page.dpi) if page else 0,
            confidence=page.confidence if page else 0.0,
            low_confidence=bool(page and page.confidence < self.low_confidence),
            skipped=outcome.skipped,
            error_code=outcome.error_code or "",
            error_message=outcome.error_message or "",
        )


class _DocumentFailed(HosoError):
    """No page of the document could be read; carries the first page's error code."""

    def __init__(self, first: PageOutcome | None) -> None:
        message = first.error_message if first and first.error_message else "no page readable"
        super().__init__(f"no page could be processed: {message}")
        if first and first.error_code:
            import grpc

            self.code = grpc.StatusCode[first.error_code]  # type: ignore[misc]

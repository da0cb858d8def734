"""The background side of the OCR service: worker loops and the archive follower.

``hoso serve`` starts them inside the server process (pages OCR'd in the server's worker
processes); ``hoso ocr-worker`` starts worker loops over its own OCR processes. Shutdown
stops claiming first, lets the current jobs finish within a grace period, and gives any
job still running back to the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from dataclasses import dataclass

from hoso.ocr.archive import ArchiveConnection, ArchiveSink, ArchiveSource
from hoso.ocr.engine import EngineOptions
from hoso.ocr.follower import ArchiveFollower, JobTemplate
from hoso.ocr.index import TextIndex
from hoso.ocr.pool import PageRunner
from hoso.ocr.queue import JobQueue
from hoso.ocr.settings import OcrSettings
from hoso.ocr.worker import OcrWorker
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

__all__ = ["OcrRunner", "engine_options", "job_template", "make_queue"]

_log = logging.getLogger(__name__)


def engine_options(settings: OcrSettings) -> EngineOptions:
    """The engine the settings describe (jobs may override languages, deskew, rotation)."""
    return EngineOptions(
        tessdata=str(settings.tessdata),
        languages=settings.languages,
        deskew=settings.deskew,
        auto_rotate=settings.auto_rotate,
        page_timeout_seconds=settings.page_timeout_seconds,
        max_megapixels=settings.max_megapixels,
    )


def job_template(settings: OcrSettings) -> JobTemplate:
    """Fingerprint and options of jobs queued from archive events."""
    options = engine_options(settings)
    return JobTemplate(
        fingerprint=options.fingerprint(),
        options_json=json.dumps(
            {
                "languages": options.languages,
                "deskew": options.deskew,
                "auto_rotate": options.auto_rotate,
                "produce_pdfa": True,
            }
        ),
    )


def make_queue(sessions: async_sessionmaker[AsyncSession], settings: OcrSettings) -> JobQueue:
    """The job queue with the configured lease, attempts and backoff."""
    return JobQueue(
        sessions,
        lease_seconds=settings.lease_seconds,
        max_attempts=settings.max_attempts,
        backoff_seconds=settings.retry_backoff_seconds,
    )


@dataclass
class OcrRunner:
    """Worker loops (and optionally the follower) over one queue.

    Args:
        sessions: Catalog session factory.
        settings: The ``[ocr]`` section.
        queue: The job queue.
        index: The text index.
        connection: The archive.
        pool: Where pages are OCR'd.
        loops: Jobs processed at once.
        follow: Also follow the archive's events.
    """

    sessions: async_sessionmaker[AsyncSession]
    settings: OcrSettings
    queue: JobQueue
    index: TextIndex
    connection: ArchiveConnection
    pool: PageRunner
    loops: int
    follow: bool

    def __post_init__(self) -> None:
        self._stop = asyncio.Event()
        self._workers: list[asyncio.Task[None]] = []
        self._follower: asyncio.Task[None] | None = None
        host = f"{socket.gethostname()}:{os.getpid()}"
        self.workers = [
            OcrWorker(
                sessions=self.sessions,
                queue=self.queue,
                pool=self.pool,
                index=self.index,
                source=ArchiveSource(self.connection),
                sink=ArchiveSink(self.connection),
                dpi=self.settings.render_dpi,
                low_confidence=self.settings.low_confidence,
                owner=f"{host}:{n}",
            )
            for n in range(self.loops)
        ]

    def start(self) -> None:
        """Start the loops in the running event loop."""
        poll = self.settings.poll_seconds
        self._workers = [
            asyncio.create_task(worker.run(self._stop, poll), name=f"ocr-worker-{n}")
            for n, worker in enumerate(self.workers)
        ]
        if self.follow:
            follower = ArchiveFollower(
                self.sessions, self.queue, self.connection, job_template(self.settings)
            )
            self._follower = asyncio.create_task(
                follower.run(self._stop, poll), name="ocr-follower"
            )

    async def stop(self, grace: float) -> None:
        """Stop claiming; wait up to ``grace`` seconds for running jobs, release the rest."""
        if self._stop.is_set() and all(task.done() for task in self._workers):
            return  # already drained
        self._stop.set()
        if self._follower is not None:
            self._follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follower
        if not self._workers:
            return
        _, pending = (
            await asyncio.wait(self._workers, timeout=grace)
            if grace > 0
            else ((), set(self._workers))
        )
        for task in pending:
            task.cancel()
        for task in self._workers:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if pending:
            _log.info("released %d running OCR job(s) to the queue", len(pending))

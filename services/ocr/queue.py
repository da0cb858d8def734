"""The durable OCR job queue, kept in the catalog database.

A job is claimed by one atomic ``UPDATE … RETURNING``: on PostgreSQL the candidate row is
picked with ``FOR UPDATE SKIP LOCKED`` so concurrent workers never wait on each other; SQLite
has a single writer, and the same conditional update (``WHERE state = 'queued' …``) is safe.
A claim is a lease: a worker renews it while working; when it stops (crash, kill), the lease
expires and another worker reclaims the job. Completion is conditional on still holding the
lease, so a job's result is recorded exactly once.

The OCR work is identified by the file's SHA-256 and the engine settings fingerprint (plus
the two options that change the result: redo pages with text, produce a PDF/A). The same
bytes archived twice (two versions, two dossiers) are OCR'd once: the later version gets a
job row of its own whose ``source_job_id`` names the job doing the work. It is not claimed
while that job is on its way; then it copies the finished result (page text, word boxes,
its own index rows and its own rendition in its own dossier, see :mod:`hoso.ocr.reuse`),
or, if the source failed or was cancelled, runs the engine itself. Its own row keeps every
per-version fact (dossier, search filters, rendition link, ``GetText``) where it was.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from hoso.common.db import UTCDateTime
from hoso.ocr.errors import JobNotFound
from hoso.ocr.models import FINAL_STATES, JobState, OcrJob
from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

__all__ = [
    "Clock",
    "JobQueue",
    "LeaseLost",
    "new_job_id",
    "result_options",
    "rows_changed",
    "utc_now",
]

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


def rows_changed(result: object) -> int:
    """Rows an ``UPDATE`` changed (``Result`` is typed without ``rowcount``)."""
    return int(getattr(result, "rowcount", 0) or 0)


async def _update_held(session: AsyncSession, job_id: str, owner: str, **values: Any) -> int:
    """Set ``values`` on ``job_id`` only while ``owner`` holds its lease; rows changed (0 or 1)."""
    result = await session.execute(
        update(OcrJob)
        .where(
            OcrJob.id == job_id,
            OcrJob.lease_owner == owner,
            OcrJob.state == JobState.RUNNING,
        )
        .values(**values)
    )
    return rows_changed(result)


def result_options(options_json: str) -> tuple[bool, bool]:
    """The job options besides the engine's that change its result: ``(redo, produce_pdfa)``."""
    options = json.loads(options_json or "{}")
    return bool(options.get("redo_pages_with_text")), bool(options.get("produce_pdfa", True))


async def _result_source(
    session: AsyncSession, digest: str, fingerprint: str, options_json: str
) -> str | None:
    """The job whose result a new job for these bytes and settings can copy, if any.

    A finished one is preferred; else the oldest still on its way (the new job waits for it).
    """
    if session.get_bind().dialect.name == "postgresql":
        # Two transactions queueing the same bytes at once must not both decide to run the
        # engine: the second waits here and then sees the first's job.
        await session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"ocr-job:{digest}:{fingerprint}"},
        )
    wanted = result_options(options_json)
    candidates = await session.scalars(
        select(OcrJob)
        .where(
            OcrJob.file_digest == digest,
            OcrJob.engine_fingerprint == fingerprint,
            OcrJob.state.in_((JobState.SUCCEEDED, JobState.QUEUED, JobState.RUNNING)),
        )
        .order_by(OcrJob.created_at, OcrJob.id)
    )
    usable = [job for job in candidates if result_options(job.options_json) == wanted]
    finished = [job for job in usable if job.state == JobState.SUCCEEDED]
    chosen = (finished or usable or [None])[0]
    return chosen.id if chosen is not None else None


def new_job_id() -> str:
    """A fresh job id."""
    return uuid.uuid4().hex


class LeaseLost(Exception):
    """The worker no longer holds the job (reclaimed after expiry, or cancelled)."""


class JobQueue:
    """Claims, renews, completes and retries jobs.

    Args:
        sessions: Session factory of the catalog database.
        lease_seconds: How long a claim lasts without renewal.
        max_attempts: Attempts before a job fails for good.
        backoff_seconds: Delay before the first retry, doubled each time.
        clock: Source of "now"; tests pass a shifted clock instead of waiting.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        lease_seconds: float,
        max_attempts: int,
        backoff_seconds: float,
        clock: Clock = utc_now,
    ) -> None:
        self._sessions = sessions
        self.lease = timedelta(seconds=lease_seconds)
        self.max_attempts = max_attempts
        self.backoff = timedelta(seconds=backoff_seconds)
        self.clock = clock

    async def enqueue(self, **fields: Any) -> tuple[OcrJob, bool]:
        """Queue OCR of a file version in a transaction of its own (see :meth:`enqueue_in`)."""
        async with self._sessions.begin() as session:
            return await self.enqueue_in(session, **fields)

    async def enqueue_in(
        self,
        session: AsyncSession,
        *,
        file_version: str,
        fingerprint: str,
        options_json: str = "{}",
        dossier: str = "",
        agency: str = "",
        procedure: str = "",
        component_type: str = "",
        file_digest: str = "",
        priority: int = 0,
        request_id: str | None = None,
        traceparent: str = "",
    ) -> tuple[OcrJob, bool]:
        """Queue OCR of ``file_version`` in ``session`` unless a job for it with these
        settings (or this request id) exists.

        When ``file_digest`` is given and a job for the same bytes and settings exists, the new
        job reuses that job's result instead of running the engine (``source_job_id``).

        Returns:
            The job and whether it was created now (``False``: the existing one).
        """
        if request_id:
            same_request = await session.scalar(
                select(OcrJob).where(OcrJob.request_id == request_id)
            )
            if same_request is not None:
                return same_request, False
        existing = await session.scalar(
            select(OcrJob).where(
                OcrJob.file_version == file_version, OcrJob.engine_fingerprint == fingerprint
            )
        )
        if existing is not None:
            return existing, False
        source_job_id = None
        if file_digest:
            source_job_id = await _result_source(session, file_digest, fingerprint, options_json)
        now = self.clock()
        job = OcrJob(
            id=new_job_id(),
            file_version=file_version,
            file_digest=file_digest,
            engine_fingerprint=fingerprint,
            dossier=dossier,
            agency=agency,
            procedure=procedure,
            component_type=component_type,
            options_json=options_json,
            state=JobState.QUEUED,
            priority=priority,
            attempts=0,
            completions=0,
            pages_total=0,
            pages_done=0,
            mean_confidence=0.0,
            rendition_file_version="",
            error_code="",
            error_message="",
            request_id=request_id,
            traceparent=traceparent,
            source_job_id=source_job_id,
            not_before=now,
            created_at=now,
        )
        session.add(job)
        await session.flush()
        return job, True

    async def depth(self) -> int:
        """How many jobs wait to be claimed."""
        async with self._sessions() as session:
            count = await session.scalar(
                select(func.count()).select_from(OcrJob).where(OcrJob.state == JobState.QUEUED)
            )
            return int(count or 0)

    async def release(self, job_id: str, owner: str) -> bool:
        """Give a claimed job back to the queue unfinished (graceful shutdown).

        The attempt is not counted: the worker stopped, the file did not fail.
        """
        async with self._sessions.begin() as session:
            changed = await _update_held(
                session,
                job_id,
                owner,
                state=JobState.QUEUED,
                lease_owner=None,
                lease_expires_at=None,
                attempts=OcrJob.attempts - 1,
                not_before=self.clock(),
            )
            return bool(changed)

    async def claim(self, owner: str) -> OcrJob | None:
        """Take the most urgent runnable job (queued and due, or with an expired lease).

        A job reusing another's result is not runnable while that job is queued or running.
        """
        now = self.clock()
        async with self._sessions.begin() as session:
            await self._fail_exhausted(session, now)
            lock = ""
            if session.get_bind().dialect.name == "postgresql":
                lock = " FOR UPDATE SKIP LOCKED"
            claimed = await session.execute(
                text(
                    "UPDATE ocr_jobs SET state = 'running', lease_owner = :owner, "
                    "lease_expires_at = :expires, attempts = attempts + 1, "
                    "started_at = COALESCE(started_at, :now) "
                    "WHERE id = (SELECT j.id FROM ocr_jobs j WHERE "
                    "((j.state = 'queued' AND j.not_before <= :now AND NOT EXISTS ("
                    "SELECT 1 FROM ocr_jobs s WHERE s.id = j.source_job_id "
                    "AND s.state IN ('queued', 'running'))) OR "
                    "(j.state = 'running' AND j.lease_expires_at < :now AND j.attempts < :max)) "
                    f"ORDER BY j.priority DESC, j.created_at, j.id LIMIT 1{lock}) "
                    "AND (state = 'queued' OR lease_expires_at < :now) "
                    "RETURNING id"
                ).bindparams(
                    bindparam("expires", type_=UTCDateTime()),
                    bindparam("now", type_=UTCDateTime()),
                ),
                {"owner": owner, "expires": now + self.lease, "now": now, "max": self.max_attempts},
            )
            job_id = claimed.scalar_one_or_none()
            if job_id is None:
                return None
            return await session.get(OcrJob, job_id, populate_existing=True)

    async def renew(self, job_id: str, owner: str) -> None:
        """Extend the lease.

        Raises:
            LeaseLost: Another worker took the job, or it was cancelled.
        """
        async with self._sessions.begin() as session:
            expires = self.clock() + self.lease
            if await _update_held(session, job_id, owner, lease_expires_at=expires) != 1:
                raise LeaseLost(job_id)

    async def hold(self, session: AsyncSession, job_id: str, owner: str) -> OcrJob:
        """Lock the job for completion inside ``session``'s transaction.

        Raises:
            LeaseLost: The caller no longer holds the job; nothing must be recorded.
        """
        if await _update_held(session, job_id, owner, completions=OcrJob.completions + 1) != 1:
            raise LeaseLost(job_id)
        job = await session.get(OcrJob, job_id, populate_existing=True)
        assert job is not None
        return job

    async def retry_or_fail(self, job_id: str, owner: str, code: str, message: str) -> str:
        """After a failed attempt: back to the queue with backoff, or failed for good."""
        now = self.clock()
        async with self._sessions.begin() as session:
            job = await session.get(OcrJob, job_id, with_for_update=True)
            if job is None or job.lease_owner != owner or job.state != JobState.RUNNING:
                raise LeaseLost(job_id)
            job.error_code, job.error_message = code, message
            job.lease_owner, job.lease_expires_at = None, None
            if job.attempts >= self.max_attempts or code in _PERMANENT:
                job.state, job.finished_at = JobState.FAILED, now
            else:
                job.state = JobState.QUEUED
                job.not_before = now + self.backoff * (2 ** (job.attempts - 1))
            return job.state

    async def cancel(self, job_id: str) -> OcrJob:
        """Cancel a job that has not finished; a finished job is returned unchanged.

        Raises:
            JobNotFound: No such job.
        """
        async with self._sessions.begin() as session:
            job = await session.get(OcrJob, job_id, with_for_update=True)
            if job is None:
                raise JobNotFound(
                    f"no OCR job jobs/{job_id}; list jobs to find its id", field="name"
                )
            if job.state not in FINAL_STATES:
                job.state, job.finished_at = JobState.CANCELLED, self.clock()
                job.lease_owner, job.lease_expires_at = None, None
            return job

    async def get(self, job_id: str) -> OcrJob:
        """The job with ``job_id``.

        Raises:
            JobNotFound: No such job.
        """
        async with self._sessions() as session:
            job = await session.get(OcrJob, job_id)
            if job is None:
                raise JobNotFound(
                    f"no OCR job jobs/{job_id}; list jobs to find its id", field="name"
                )
            return job

    async def _fail_exhausted(self, session: AsyncSession, now: datetime) -> None:
        """Jobs whose last allowed attempt died (lease expired) fail instead of looping."""
        stale = await session.scalars(
            select(OcrJob).where(
                OcrJob.state == JobState.RUNNING,
                OcrJob.lease_expires_at < now,
                OcrJob.attempts >= self.max_attempts,
            )
        )
        for job in stale:
            job.state, job.finished_at = JobState.FAILED, now
            job.error_code = job.error_code or "ABORTED"
            job.error_message = job.error_message or (
                f"the worker stopped {job.attempts} times on this file; it may crash Tesseract"
            )
            job.lease_owner, job.lease_expires_at = None, None


# Failures that another attempt cannot fix.
_PERMANENT = frozenset(
    {"INVALID_ARGUMENT", "FAILED_PRECONDITION", "RESOURCE_EXHAUSTED", "NOT_FOUND"}
)

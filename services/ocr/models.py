"""Catalog tables of the OCR service: jobs, per-page results, the event cursor, indexed pages.

The full-text tables (``ocr_page_fts``) depend on the database and are made by raw SQL in the
OCR migration; see :mod:`hoso.ocr.index`.
"""

from __future__ import annotations

import enum
from datetime import datetime

from hoso.common.db import Base, UTCDateTime
from sqlalchemy import Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

__all__ = ["JobState", "OcrCursor", "OcrIndexPage", "OcrJob", "OcrPage"]


class JobState(enum.StrEnum):
    """Where a job is in its life; ``succeeded``, ``failed`` and ``cancelled`` are final."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINAL_STATES = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})


class OcrJob(Base):
    """One file version to OCR with given engine settings.

    A version has one job per engine fingerprint. The OCR work itself is identified by the
    file's SHA-256 and the fingerprint: a job for bytes already OCR'd (or being OCR'd) with
    the same settings names that job in ``source_job_id`` and copies its result instead of
    running the engine again (see :mod:`hoso.ocr.reuse`).
    """

    __tablename__ = "ocr_jobs"
    __table_args__ = (
        UniqueConstraint("file_version", "engine_fingerprint"),
        Index("ix_ocr_jobs_claim", "state", "not_before", "priority"),
        Index("ix_ocr_jobs_digest", "file_digest", "engine_fingerprint"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    file_version: Mapped[str] = mapped_column(String(200))
    file_digest: Mapped[str] = mapped_column(String(64), default="")
    engine_fingerprint: Mapped[str] = mapped_column(String(200))
    dossier: Mapped[str] = mapped_column(String(200), default="", index=True)
    agency: Mapped[str] = mapped_column(String(200), default="")
    procedure: Mapped[str] = mapped_column(String(200), default="")
    component_type: Mapped[str] = mapped_column(String(100), default="")
    options_json: Mapped[str] = mapped_column(Text, default="{}")
    state: Mapped[str] = mapped_column(String(20), default=JobState.QUEUED)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime())
    lease_owner: Mapped[str | None] = mapped_column(String(100), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    pages_total: Mapped[int] = mapped_column(Integer, default=0)
    pages_done: Mapped[int] = mapped_column(Integer, default=0)
    mean_confidence: Mapped[float] = mapped_column(Float, default=0.0)
    rendition_file_version: Mapped[str] = mapped_column(String(200), default="")
    error_code: Mapped[str] = mapped_column(String(40), default="")
    error_message: Mapped[str] = mapped_column(Text, default="")
    request_id: Mapped[str | None] = mapped_column(String(100), nullable=True, unique=True)
    traceparent: Mapped[str] = mapped_column(String(64), default="", server_default="")
    """W3C traceparent of the request (or archive event) that queued the job."""
    source_job_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    """The job OCR'ing the same bytes with the same settings whose result this one copies
    (``None``: this job runs the engine itself)."""
    completions: Mapped[int] = mapped_column(Integer, default=0)
    """How many times a result was recorded; exactly-once completion keeps it at 1."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class OcrPage(Base):
    """The OCR result of one page of a job: text, words with boxes, confidence or error."""

    __tablename__ = "ocr_pages"
    __table_args__ = (UniqueConstraint("job_id", "page"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(40), index=True)
    file_version: Mapped[str] = mapped_column(String(200), index=True)
    page: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text, default="")
    words_json: Mapped[str] = mapped_column(Text, default="[]")
    width: Mapped[int] = mapped_column(Integer, default=0)
    height: Mapped[int] = mapped_column(Integer, default=0)
    dpi: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Resolution of the page image the word boxes refer to."""
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    low_confidence: Mapped[bool] = mapped_column(default=False)
    skipped: Mapped[bool] = mapped_column(default=False)
    error_code: Mapped[str] = mapped_column(String(40), default="")
    error_message: Mapped[str] = mapped_column(Text, default="")


class OcrCursor(Base):
    """How far the follower has read a named event stream (resumable, no event twice)."""

    __tablename__ = "ocr_cursors"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    position: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OcrIndexPage(Base):
    """A page in the search index: its text and the facts search filters on."""

    __tablename__ = "ocr_index_pages"
    __table_args__ = (UniqueConstraint("file_version", "page"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    file_version: Mapped[str] = mapped_column(String(200))
    page: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    dossier: Mapped[str] = mapped_column(String(200), default="", index=True)
    agency: Mapped[str] = mapped_column(String(200), default="", index=True)
    procedure: Mapped[str] = mapped_column(String(200), default="", index=True)
    component_type: Mapped[str] = mapped_column(String(100), default="")
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, index=True)

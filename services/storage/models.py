"""Catalog tables of the archive: dossiers, files, versions, the outbox and bookkeeping."""

from __future__ import annotations

from datetime import datetime

from hoso.common.db import Base, UTCDateTime
from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

__all__ = [
    "Dossier",
    "FileVersion",
    "FixityRun",
    "OutboxEvent",
    "RequestRecord",
    "StoredFile",
]

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
_SEQUENCE = BigInteger().with_variant(Integer(), "sqlite")


class Dossier(Base):
    """A one-stop-shop dossier (hồ sơ)."""

    __tablename__ = "storage_dossiers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    procedure_code: Mapped[str] = mapped_column(String(64), index=True)
    agency: Mapped[str] = mapped_column(String(64), index=True)
    applicant_id: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(String(500), default="")
    # Folded code + title (hoso.storage.names.search_text) for the accent-insensitive filter.
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    status: Mapped[str] = mapped_column(String(32), index=True)
    retention_class: Mapped[str | None] = mapped_column(String(32))
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    labels: Mapped[str] = mapped_column(Text, default="{}")
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    files: Mapped[list[StoredFile]] = relationship(back_populates="dossier", lazy="raise")


class StoredFile(Base):
    """A component of a dossier; its bytes live in versions."""

    __tablename__ = "storage_files"
    __table_args__ = (UniqueConstraint("dossier_id", "component_type", "ordinal"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    dossier_id: Mapped[str] = mapped_column(ForeignKey("storage_dossiers.id"), index=True)
    component_type: Mapped[str] = mapped_column(String(64))
    ordinal: Mapped[int] = mapped_column(Integer)
    retention_class: Mapped[str | None] = mapped_column(String(32))
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    dossier: Mapped[Dossier] = relationship(back_populates="files", lazy="raise")


class FileVersion(Base):
    """One immutable upload of a file (a new upload is a new version)."""

    __tablename__ = "storage_versions"
    __table_args__ = (UniqueConstraint("file_id", "number"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    file_id: Mapped[str] = mapped_column(ForeignKey("storage_files.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(128))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    object_key: Mapped[str] = mapped_column(String(512), index=True)
    object_version: Mapped[str | None] = mapped_column(String(128))
    tenant: Mapped[str] = mapped_column(String(64))
    source_version_id: Mapped[str | None] = mapped_column(
        ForeignKey("storage_versions.id"), index=True
    )
    rendition_kind: Mapped[str | None] = mapped_column(String(64))
    retention_class: Mapped[str | None] = mapped_column(String(32))
    retention_mode: Mapped[str | None] = mapped_column(String(16))
    retain_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    retain_permanently: Mapped[bool] = mapped_column(Boolean, default=False)
    lock_applied: Mapped[bool] = mapped_column(Boolean, default=False)
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    signed: Mapped[bool] = mapped_column(Boolean, default=False)
    encryption: Mapped[str] = mapped_column(String(16))
    labels: Mapped[str] = mapped_column(Text, default="{}")
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_fixity_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_fixity_ok: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))


class OutboxEvent(Base):
    """An event for other services (OCR), written in the transaction of its change."""

    __tablename__ = "storage_events"
    __table_args__ = (Index("ix_storage_events_type_sequence", "type", "sequence"),)

    sequence: Mapped[int] = mapped_column(_SEQUENCE, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    type: Mapped[str] = mapped_column(String(64))
    dossier_id: Mapped[str | None] = mapped_column(String(36))
    file_id: Mapped[str | None] = mapped_column(String(36))
    version_id: Mapped[str | None] = mapped_column(String(36))
    payload: Mapped[str] = mapped_column(Text)
    traceparent: Mapped[str | None] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RequestRecord(Base):
    """The result of a mutating request, so that a retry with the same id returns it."""

    __tablename__ = "storage_requests"

    request_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    method: Mapped[str] = mapped_column(String(64))
    fingerprint: Mapped[str] = mapped_column(String(64))
    result: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FixityRun(Base):
    """A fixity audit over all versions, with its progress."""

    __tablename__ = "storage_fixity_runs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    total: Mapped[int] = mapped_column(Integer, default=0)
    checked: Mapped[int] = mapped_column(Integer, default=0)
    mismatches: Mapped[int] = mapped_column(Integer, default=0)
    missing: Mapped[int] = mapped_column(Integer, default=0)
    ok: Mapped[int] = mapped_column(Integer, default=0)
    bytes_checked: Mapped[int] = mapped_column(BigInteger, default=0)
    failures: Mapped[str] = mapped_column(Text, default="[]")
    error_message: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

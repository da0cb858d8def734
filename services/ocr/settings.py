"""Settings of the OCR service: the ``[ocr]`` section."""

from __future__ import annotations

import enum
from pathlib import Path

from hoso.common.config import Section
from pydantic import Field, SecretStr, field_validator

__all__ = ["SECTION", "SECTION_NAME", "IndexBackend", "OcrSettings"]

SECTION_NAME = "ocr"

#: Where Debian's ``tesseract-ocr-*`` packages put the trained models; the tesserocr wheel
#: bundles Tesseract itself but no languages.
DEFAULT_TESSDATA = Path("/usr/share/tesseract-ocr/5/tessdata")


class IndexBackend(enum.StrEnum):
    """Which full-text index holds the OCR text."""

    AUTO = "auto"
    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"


class OcrSettings(Section):
    """Options of the OCR workers, the job queue and the search index."""

    enabled: bool = Field(True, description="Run OCR workers and follow the archive's events.")
    languages: str = Field(
        "vie",
        description=(
            "Tesseract languages joined by '+'. 'vie' alone reads Vietnamese best; "
            "'vie+eng' turns some Đ into D and is about 20% slower."
        ),
    )
    tessdata: Path = Field(DEFAULT_TESSDATA, description="Folder with the *.traineddata models.")
    workers: int = Field(
        2,
        ge=0,
        le=64,
        description="Jobs OCR'd at once. In 'hoso serve' their pages run in the server's worker "
        "processes and 0 leaves every job to 'hoso ocr-worker'; 'hoso ocr-worker' starts this "
        "many OCR processes (one Tesseract engine each, at least 1).",
    )
    page_timeout_seconds: float = Field(
        60.0, gt=0, description="A page that takes longer is abandoned and recorded as failed."
    )
    max_megapixels: float = Field(
        60.0,
        gt=0,
        description="Largest page image accepted (width × height in millions of pixels); "
        "larger pages fail with RESOURCE_EXHAUSTED instead of exhausting memory.",
    )
    low_confidence: float = Field(
        60.0, ge=0, le=100, description="Pages whose mean word confidence is below are flagged."
    )
    render_dpi: int = Field(300, ge=72, le=600, description="Resolution for rendering PDF pages.")
    deskew: bool = Field(True, description="Straighten pages tilted by more than half a degree.")
    auto_rotate: bool = Field(
        True, description="Detect pages turned by 90/180/270 degrees (Tesseract OSD) and fix them."
    )
    lease_seconds: float = Field(
        300.0, gt=0, description="A claimed job whose worker stops renewing is reclaimed after."
    )
    max_attempts: int = Field(3, ge=1, description="Attempts before a job is marked failed.")
    retry_backoff_seconds: float = Field(
        10.0, ge=0, description="Delay before the first retry; doubles with each attempt."
    )
    poll_seconds: float = Field(
        1.0, gt=0, description="How often an idle worker looks for queued jobs."
    )
    follow_archive: bool = Field(
        True, description="Queue a job for every file the archive reports as archived."
    )
    index_backend: IndexBackend = Field(
        IndexBackend.AUTO,
        description="Text index: 'auto' follows the catalog database (SQLite FTS5 or "
        "PostgreSQL full text with unaccent).",
    )
    storage_address: str = Field(
        "",
        description="host:port of the archive (ArchiveService) that files are read from and "
        "renditions stored in; empty = this process's own gRPC port (embedded mode).",
    )
    storage_token: SecretStr | None = Field(
        None,
        description="Bearer token for calls to storage_address (a caller with the 'ocr-worker' "
        "role); not needed for this process's own port.",
    )

    @field_validator("languages")
    @classmethod
    def _languages_are_plain(cls, value: str) -> str:
        parts = value.split("+")
        if not all(p and p.replace("_", "").isalnum() for p in parts):
            raise ValueError("languages must look like 'vie' or 'vie+eng'")
        return value


SECTION = OcrSettings

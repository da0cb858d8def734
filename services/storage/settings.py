"""Settings of the storage (archive) service: the ``[storage]`` section."""

from __future__ import annotations

import enum
from pathlib import Path

from hoso.common.config import Section
from pydantic import Field, SecretStr, field_validator, model_validator

__all__ = [
    "DEFAULT_ALLOWED_TYPES",
    "MIN_PART_SIZE",
    "SECTION",
    "SECTION_NAME",
    "Backend",
    "LockMode",
    "StorageSettings",
]

SECTION_NAME = "storage"

MiB = 1024 * 1024
# S3 refuses multipart parts below 5 MiB (except the last one).
MIN_PART_SIZE = 5 * MiB

_PDF = "application/pdf"
_IMAGES = ["image/tiff", "image/jpeg", "image/png"]
_OFFICE = [
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.oasis.opendocument.text",
]
_XML = ["application/xml", "text/xml"]

# Component types of a one-stop-shop dossier and what may be stored under each; "*" applies to
# a component type that has no entry of its own.
DEFAULT_ALLOWED_TYPES: dict[str, list[str]] = {
    "*": [_PDF, *_IMAGES, *_XML, *_OFFICE],
    "application_form": [_PDF, *_IMAGES, *_XML, *_OFFICE],
    "identity_document": [_PDF, *_IMAGES],
    "supporting_document": [_PDF, *_IMAGES, *_XML, *_OFFICE],
    "result": [_PDF, *_XML],
    "rendition": [_PDF, "text/plain", "application/json"],
}


class Backend(enum.StrEnum):
    """Where object bytes live."""

    LOCAL = "local"
    S3 = "s3"


class LockMode(enum.StrEnum):
    """S3 Object Lock mode applied to retained versions."""

    GOVERNANCE = "GOVERNANCE"
    COMPLIANCE = "COMPLIANCE"


class StorageSettings(Section):
    """Options of the archive: object store, type policy, retention and encryption."""

    backend: Backend = Field(
        Backend.LOCAL,
        description="Object store backend: `local` (a directory, the embedded default) or `s3`.",
    )
    local_root: Path = Field(
        Path("var/objects"),
        description="Directory of the local object store (created when missing).",
    )
    local_key: SecretStr | None = Field(
        None,
        description=(
            "AES-256-GCM key of the local store, 64 hex digits. Empty: a key is generated on first"
            " start into `<local_root>/.key` (mode 0600); set it explicitly in production."
        ),
    )
    s3_endpoint: str = Field(
        "127.0.0.1:7480", description="S3 endpoint as `host:port` (no scheme)."
    )
    s3_access_key: SecretStr | None = Field(None, description="S3 access key id.")
    s3_secret_key: SecretStr | None = Field(None, description="S3 secret access key.")
    s3_bucket: str = Field("hoso-archive", description="Bucket holding the archive objects.")
    s3_secure: bool = Field(True, description="Use HTTPS to reach the S3 endpoint.")
    s3_region: str | None = Field(
        None, description="S3 region; leave empty to let the client discover it."
    )
    # 3 × 6 MiB in flight holds as much as 2 × 8 MiB did, and keeps the S3 connection busier
    # (bench: put 0.74× → 0.8× of a direct minio put, same peak memory).
    part_size: int = Field(
        6 * MiB,
        ge=MIN_PART_SIZE,
        description="Multipart part size in bytes (at least 5 MiB, the S3 minimum).",
    )
    upload_parallelism: int = Field(
        3,
        ge=1,
        le=8,
        description="Parts uploaded to S3 at once; memory per upload is about (this + 1) parts.",
    )
    max_file_size: int = Field(2 * 1024 * MiB, gt=0, description="Largest accepted file in bytes.")
    allowed_types: dict[str, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_ALLOWED_TYPES.items()},
        description=(
            "Media types allowed per component type (detected from the content, not the name);"
            " the key `*` applies to component types without their own entry."
        ),
    )
    allow_encrypted_pdf: bool = Field(
        False, description="Accept password-protected (encrypted) PDFs."
    )
    reject_polyglots: bool = Field(
        True,
        description=(
            "Reject files that are valid as two formats at once (e.g. PDF + ZIP) or carry an"
            " executable; turning this off is only for forensic archives."
        ),
    )
    pdf_deep_check_max_bytes: int = Field(
        64 * MiB,
        ge=0,
        description=(
            "PDFs up to this size are also opened with pikepdf (encryption, structure);"
            " larger ones are checked by a streaming scan only. Spooled to a temporary file."
        ),
    )
    retention_classes: dict[str, int | None] = Field(
        default_factory=lambda: {"5y": 5, "10y": 10, "20y": 20, "permanent": None},
        description=(
            "Retention classes and their duration in years; `null` (or a missing value) means"
            " permanent. A dossier or file names one of these keys."
        ),
    )
    default_retention_class: str | None = Field(
        None,
        description=(
            "Retention class of dossiers that name none (`5y`, `10y`, `20y`, `permanent`);"
            " empty: no retention unless a dossier or file sets one."
        ),
    )
    object_lock_mode: LockMode = Field(
        LockMode.GOVERNANCE,
        description="S3 Object Lock mode for retained versions: GOVERNANCE or COMPLIANCE.",
    )
    permanent_lock_years: int = Field(
        100,
        ge=1,
        description="Object Lock period used for the `permanent` class (S3 needs a date).",
    )
    require_object_lock: bool = Field(
        False,
        description=(
            "Refuse to start when the bucket lacks Object Lock (retention then lives only in"
            " the catalog)."
        ),
    )
    sse_c_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description=(
            "SSE-C keys per tenant (agency code → 64 hex digits); the key `*` is used for"
            " tenants without their own. Empty: no server-side encryption with customer keys."
        ),
    )
    presign_max_seconds: int = Field(
        900,
        ge=1,
        le=7 * 24 * 3600,
        description="Longest lifetime of a presigned download URL, in seconds.",
    )
    stale_upload_seconds: int = Field(
        3600,
        ge=0,
        description="Incomplete uploads older than this are aborted at start.",
    )
    event_poll_seconds: float = Field(
        1.0,
        gt=0,
        description="How often WatchEvents looks for new events when none was signalled.",
    )
    signing_endpoint: str | None = Field(
        None,
        description=(
            "gRPC address of the signing service used by exports to attach signature"
            " verification reports; empty: use the in-process service when present."
        ),
    )

    @field_validator("local_key", mode="after")
    @classmethod
    def _check_local_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            _require_hex_key(value, "local_key")
        return value

    @field_validator("sse_c_keys", mode="after")
    @classmethod
    def _check_sse_keys(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for tenant, key in value.items():
            _require_hex_key(key, f"sse_c_keys.{tenant}")
        return value

    @model_validator(mode="after")
    def _check_backend(self) -> StorageSettings:
        if self.backend is Backend.S3 and (
            self.s3_access_key is None or self.s3_secret_key is None
        ):
            raise ValueError("backend = s3 needs s3_access_key and s3_secret_key")
        missing = {"5y", "10y", "20y", "permanent"} - set(self.retention_classes)
        if missing:
            raise ValueError(f"retention_classes must define {', '.join(sorted(missing))}")
        if (
            self.default_retention_class is not None
            and self.default_retention_class not in self.retention_classes
        ):
            raise ValueError("default_retention_class must name one of retention_classes")
        if "*" not in self.allowed_types:
            raise ValueError("allowed_types needs a `*` entry for other component types")
        return self

    def retention_years(self, retention_class: str) -> int | None:
        """Return the years of a class (None: permanent); ValueError when unknown."""
        if retention_class not in self.retention_classes:
            known = ", ".join(sorted(self.retention_classes))
            raise ValueError(f"unknown retention class {retention_class!r}; use one of {known}")
        return self.retention_classes[retention_class]

    def allowed_for(self, component_type: str) -> list[str]:
        """Return the media types allowed for a component type."""
        return self.allowed_types.get(component_type, self.allowed_types["*"])

    def sse_key_for(self, tenant: str) -> bytes | None:
        """Return the SSE-C key bytes of a tenant, or None when SSE-C is off."""
        key = self.sse_c_keys.get(tenant) or self.sse_c_keys.get("*")
        return bytes.fromhex(key.get_secret_value()) if key is not None else None


def _require_hex_key(value: SecretStr, field: str) -> None:
    try:
        raw = bytes.fromhex(value.get_secret_value())
    except ValueError as exc:
        raise ValueError(f"{field} must be 64 hex digits (a 256-bit key)") from exc
    if len(raw) != 32:
        raise ValueError(f"{field} must be 64 hex digits (a 256-bit key)")


SECTION = StorageSettings

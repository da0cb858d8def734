"""Errors of the OCR service, each with the gRPC status a caller receives."""

from __future__ import annotations

from hoso.common.errors import (
    DeadlineExceeded,
    FailedPrecondition,
    HosoError,
    Internal,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
)

__all__ = [
    "CorruptInput",
    "EncryptedPdf",
    "HosoError",
    "JobNotFound",
    "PageTimeout",
    "PageTooLarge",
    "UnsupportedInput",
    "error_code_name",
]


class UnsupportedInput(InvalidArgument):
    """The bytes are not a PDF, TIFF, JPEG or PNG."""


class CorruptInput(InvalidArgument):
    """The file (or a page of it) cannot be decoded."""


class EncryptedPdf(FailedPrecondition):
    """The PDF is encrypted; OCR needs it without a password."""


class PageTooLarge(ResourceExhausted):
    """A page image exceeds the configured megapixel limit (a decompression bomb guard)."""


class PageTimeout(DeadlineExceeded):
    """Tesseract did not finish a page within the page timeout."""


class JobNotFound(NotFound):
    """No OCR job has the given id."""


def error_code_name(error: BaseException) -> str:
    """Name of the gRPC status for ``error`` as stored with a failed page or job."""
    if isinstance(error, HosoError):
        return error.code.name
    return Internal.code.name

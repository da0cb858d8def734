"""Errors of the storage service, each carrying its gRPC status through the common root."""

from __future__ import annotations

from datetime import datetime

import grpc
from hoso.common.errors import (
    AlreadyExists,
    FailedPrecondition,
    HosoError,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Unavailable,
)

__all__ = [
    "BackendUnavailable",
    "DataLoss",
    "DigestMismatch",
    "DisallowedType",
    "DuplicateDossier",
    "EmptyFile",
    "EncryptedPdf",
    "FileTooLarge",
    "ObjectMissing",
    "OutOfRange",
    "RetentionActive",
    "StorageMisconfigured",
    "UnknownDossier",
    "UnknownFile",
]


class DigestMismatch(InvalidArgument):
    """The SHA-256 the client sent differs from the bytes received."""


class DisallowedType(InvalidArgument):
    """The content's type is not allowed, disagrees with the declared one, or is a polyglot."""


class FileTooLarge(ResourceExhausted):
    """The upload exceeds `storage.max_file_size`."""


class UnknownDossier(NotFound):
    """No dossier with that id or code."""


class UnknownFile(NotFound):
    """No file or version with that id."""


class ObjectMissing(NotFound):
    """The catalog knows the version but the object store does not have its bytes."""


class RetentionActive(FailedPrecondition):
    """Deleting is refused: retention or a legal hold protects the version.

    Attributes:
        until: End of retention (None for a legal hold or permanent retention).
    """

    def __init__(self, message: str, *, until: datetime | None = None) -> None:
        super().__init__(message)
        self.until = until


class BackendUnavailable(Unavailable):
    """The object store cannot be reached; nothing was stored and the call may be retried."""


class StorageMisconfigured(FailedPrecondition):
    """The backend lacks what the settings need (bucket missing, no object lock, ...)."""


class DuplicateDossier(AlreadyExists):
    """A dossier with that code already exists."""


class EncryptedPdf(FailedPrecondition):
    """The PDF is password-protected and the policy forbids encrypted PDFs."""


class EmptyFile(InvalidArgument):
    """The upload carried no bytes."""


class DataLoss(HosoError):
    """Stored bytes are gone or no longer match the catalog."""

    code = grpc.StatusCode.DATA_LOSS


class OutOfRange(HosoError):
    """A read starts beyond the end of the file."""

    code = grpc.StatusCode.OUT_OF_RANGE

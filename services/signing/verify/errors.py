"""Why a file is refused before any verdict: the caller must fix the request.

These are raised by the verification core. Each is also a :mod:`hoso.common.errors` class,
so the servicer can let it through unchanged and the common interceptor answers with the
right status (INVALID_ARGUMENT, FAILED_PRECONDITION, RESOURCE_EXHAUSTED) and field, and the CLI
can print the same status name without knowing the core's internals.
"""

from __future__ import annotations

from hoso.common.errors import FailedPrecondition, HosoError, InvalidArgument, ResourceExhausted

__all__ = [
    "EncryptedDocument",
    "MalformedSignature",
    "NotAPdf",
    "TooComplex",
    "VerifyRefused",
]


class VerifyRefused(HosoError):
    """Root: the file cannot be verified as sent.

    Pickles by its message alone (process pools send exceptions back that way), so the field
    is a class default rather than per-instance state the copy would lose.
    """

    default_field: str | None = "document"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message, field=field or self.default_field)

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (type(self), self.message, self.field))

    @property
    def status(self) -> str:
        """The gRPC status name, e.g. ``INVALID_ARGUMENT``."""
        return self.code.name


def _rebuild(cls: type[VerifyRefused], message: str, field: str | None) -> VerifyRefused:
    return cls(message, field=field)


class NotAPdf(VerifyRefused, InvalidArgument):
    """The bytes are not a PDF (no ``%PDF-`` header)."""


class MalformedSignature(VerifyRefused, InvalidArgument):
    """A detached signature that is not CMS SignedData, or not detached."""

    default_field = "header.cms"


class EncryptedDocument(VerifyRefused, FailedPrecondition):
    """The PDF is encrypted; signatures in encrypted files are not verified."""


class TooComplex(VerifyRefused, ResourceExhausted):
    """The file exceeds a configured limit (size, objects, revisions, signatures)."""

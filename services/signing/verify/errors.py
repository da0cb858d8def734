"""Why a file is refused before any verdict: the caller must fix the request.

These are raised by the verification core and carry the gRPC status they map to, so the
servicer (and the CLI) can answer precisely without knowing the core's internals.
"""

from __future__ import annotations

__all__ = ["EncryptedDocument", "NotAPdf", "TooComplex", "VerifyRefused"]


class VerifyRefused(Exception):
    """Root: the file cannot be verified as sent."""

    status = "INVALID_ARGUMENT"
    field: str | None = "document"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotAPdf(VerifyRefused):
    """The bytes are not a PDF (no ``%PDF-`` header)."""

    status = "INVALID_ARGUMENT"


class EncryptedDocument(VerifyRefused):
    """The PDF is encrypted; signatures in encrypted files are not verified."""

    status = "FAILED_PRECONDITION"


class TooComplex(VerifyRefused):
    """The file exceeds a configured limit (size, objects, revisions, signatures)."""

    status = "RESOURCE_EXHAUSTED"

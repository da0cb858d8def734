"""One root for every error hoso raises on purpose, each mapped to a gRPC status.

Service code raises these; the call pipeline (``hoso.common.interceptors``) turns them into
the status and a message a caller can act on. Anything else becomes ``INTERNAL`` without
detail, and its traceback goes to the log.
"""

from __future__ import annotations

from typing import ClassVar

import grpc

__all__ = [
    "Aborted",
    "AlreadyExists",
    "DeadlineExceeded",
    "FailedPrecondition",
    "HosoError",
    "Internal",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "ResourceExhausted",
    "Unauthenticated",
    "Unavailable",
]


class HosoError(Exception):
    """Base of every deliberate failure.

    Args:
        message: What went wrong and what the caller can do about it.
        field: For bad input, the request field at fault (dotted path); sent to the caller
            as a ``google.rpc.BadRequest`` field violation.
    """

    code: ClassVar[grpc.StatusCode] = grpc.StatusCode.INTERNAL

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    @property
    def retryable(self) -> bool:
        """Whether the same call may succeed later without change."""
        return self.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.ABORTED)


class InvalidArgument(HosoError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(HosoError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(HosoError):
    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(HosoError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class PermissionDenied(HosoError):
    code = grpc.StatusCode.PERMISSION_DENIED


class Unauthenticated(HosoError):
    code = grpc.StatusCode.UNAUTHENTICATED


class ResourceExhausted(HosoError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unavailable(HosoError):
    code = grpc.StatusCode.UNAVAILABLE


class DeadlineExceeded(HosoError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


class Aborted(HosoError):
    code = grpc.StatusCode.ABORTED


class Internal(HosoError):
    code = grpc.StatusCode.INTERNAL

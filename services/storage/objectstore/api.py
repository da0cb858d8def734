"""The object store interface used by the archive.

Keys are opaque ASCII paths chosen by the service (never client file names). A put is atomic:
the object becomes visible only when the whole stream was consumed and the producer did not
fail; a failing source (an exception from the iterator) leaves nothing visible. Every backend
is an async context manager; whoever builds one closes it (the service's ``close``).
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType

__all__ = [
    "Capabilities",
    "ObjectInfo",
    "ObjectStore",
    "PutResult",
    "RetentionMode",
    "StoredObject",
]

RetentionMode = str  # "GOVERNANCE" or "COMPLIANCE"


@dataclass(frozen=True)
class PutResult:
    """Outcome of a completed put."""

    key: str
    """Key the object was written under."""
    version_id: str | None
    """Backend version id (None when the backend keeps no versions)."""
    size: int
    """Bytes stored (plaintext size)."""


@dataclass(frozen=True)
class ObjectInfo:
    """What the backend knows about one stored object version."""

    key: str
    version_id: str | None
    size: int
    retain_until: datetime | None = None
    """End of the backend-enforced retention; None when not locked."""
    retention_mode: RetentionMode | None = None
    legal_hold: bool = False
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredObject:
    """One stored version as a listing shows it (for the orphan sweep)."""

    key: str
    version_id: str | None
    last_modified: datetime | None


@dataclass(frozen=True)
class Capabilities:
    """What the backend can enforce, probed at start and reported by GetStorageInfo."""

    backend: str
    versioning: bool
    object_lock: bool
    legal_hold: bool
    encryption: str
    """``sse-c``, ``aes-256-gcm`` or ``none``."""
    presign: bool
    detail: str = ""


class ObjectStore(abc.ABC):
    """Narrow async object store; implementations translate their errors to ours.

    Raises (every method):
        hoso.storage.errors.BackendUnavailable: the backend cannot be reached.
        hoso.storage.errors.ObjectMissing: the key or version does not exist.
    """

    name: str = "abstract"

    async def __aenter__(self) -> ObjectStore:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections and threads; the owner calls it once."""

    @abc.abstractmethod
    async def put(
        self,
        key: str,
        chunks: AsyncIterator[bytes],
        *,
        content_type: str,
        tenant: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> PutResult:
        """Store the stream under ``key`` atomically.

        If ``chunks`` raises, the exception propagates and no object is visible.
        """

    @abc.abstractmethod
    def get(
        self,
        key: str,
        *,
        version_id: str | None = None,
        offset: int = 0,
        length: int | None = None,
        tenant: str | None = None,
    ) -> AsyncIterator[bytes]:
        """Stream the bytes ``[offset, offset + length)`` of a version (all when None)."""

    @abc.abstractmethod
    async def stat(
        self, key: str, *, version_id: str | None = None, tenant: str | None = None
    ) -> ObjectInfo:
        """Return size, retention and legal hold of a version."""

    @abc.abstractmethod
    async def delete(self, key: str, *, version_id: str | None = None) -> None:
        """Delete a version; the backend refuses while it is locked (RetentionActive)."""

    @abc.abstractmethod
    async def set_retention(
        self, key: str, *, version_id: str | None, until: datetime, mode: RetentionMode
    ) -> None:
        """Lock a version until ``until`` (no-op where the backend has no lock)."""

    @abc.abstractmethod
    async def set_legal_hold(self, key: str, *, version_id: str | None, on: bool) -> None:
        """Set or clear a legal hold (no-op where unsupported)."""

    @abc.abstractmethod
    async def presign_get(
        self, key: str, *, version_id: str | None, expires_seconds: int
    ) -> str | None:
        """Return a time-limited download URL, or None where the backend cannot presign."""

    @abc.abstractmethod
    async def probe(self) -> Capabilities:
        """Check the backend is usable and report what it enforces.

        Raises:
            hoso.storage.errors.StorageMisconfigured: e.g. the bucket does not exist.
        """

    async def sweep_incomplete(self, *, older_than_seconds: int) -> int:
        """Abort uploads left behind by a crash; returns how many were removed."""
        return 0

    @abc.abstractmethod
    def list_versions(self, prefix: str) -> AsyncIterator[StoredObject]:
        """Every stored version whose key starts with ``prefix`` (order unspecified)."""

"""An in-memory object store for unit tests, with failure injection."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from hoso.storage.errors import BackendUnavailable, ObjectMissing
from hoso.storage.objectstore._common import check_key, refuse_if_locked
from hoso.storage.objectstore.api import (
    Capabilities,
    ObjectInfo,
    ObjectStore,
    PutResult,
    StoredObject,
)

__all__ = ["MemoryObjectStore"]


@dataclass
class _Version:
    data: bytes
    content_type: str
    metadata: dict[str, str]
    retain_until: datetime | None = None
    mode: str | None = None
    legal_hold: bool = False
    created: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class MemoryObjectStore(ObjectStore):
    """Versions kept in a dict, with failure injection for tests.

    ``down = True`` makes every call fail as unreachable; ``fail_put_after`` makes a put fail as
    unreachable once that many bytes arrived (the backend going away mid-upload), and the
    stream is not read further, as a real client stops sending.
    """

    name = "memory"
    objects: dict[str, dict[str, _Version]] = field(default_factory=dict)
    down: bool = False
    object_lock: bool = True
    fail_put_after: int | None = None

    def _check_up(self) -> None:
        if self.down:
            raise BackendUnavailable("the object store is unreachable; retry later")

    def _version(self, key: str, version_id: str | None) -> tuple[str, _Version]:
        versions = self.objects.get(check_key(key), {})
        if not versions:
            raise ObjectMissing(f"no object at {key}")
        vid = version_id or list(versions)[-1]
        if vid not in versions:
            raise ObjectMissing(f"no version {vid} of {key}")
        return vid, versions[vid]

    async def put(
        self,
        key: str,
        chunks: AsyncIterator[bytes],
        *,
        content_type: str,
        tenant: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> PutResult:
        """Collect the stream; store it only when the stream ended without error."""
        self._check_up()
        buffer = bytearray()
        async for chunk in chunks:
            buffer += chunk
            if self.fail_put_after is not None and len(buffer) > self.fail_put_after:
                raise BackendUnavailable("the object store went away during the upload; retry")
        self._check_up()
        vid = uuid.uuid4().hex
        self.objects.setdefault(check_key(key), {})[vid] = _Version(
            bytes(buffer), content_type, dict(metadata or {})
        )
        return PutResult(key=key, version_id=vid, size=len(buffer))

    async def get(
        self,
        key: str,
        *,
        version_id: str | None = None,
        offset: int = 0,
        length: int | None = None,
        tenant: str | None = None,
    ) -> AsyncIterator[bytes]:
        """Yield the range in 64 KiB pieces."""
        self._check_up()
        _, version = self._version(key, version_id)
        end = len(version.data) if length is None else min(len(version.data), offset + length)
        for start in range(offset, end, 65536):
            yield version.data[start : min(end, start + 65536)]

    async def stat(
        self, key: str, *, version_id: str | None = None, tenant: str | None = None
    ) -> ObjectInfo:
        """Describe a version."""
        self._check_up()
        vid, version = self._version(key, version_id)
        return ObjectInfo(
            key=key,
            version_id=vid,
            size=len(version.data),
            retain_until=version.retain_until,
            retention_mode=version.mode,
            legal_hold=version.legal_hold,
            metadata=dict(version.metadata),
        )

    async def delete(self, key: str, *, version_id: str | None = None) -> None:
        """Delete unless locked."""
        self._check_up()
        vid, version = self._version(key, version_id)
        refuse_if_locked(version.retain_until, version.legal_hold)
        del self.objects[key][vid]

    async def set_retention(
        self, key: str, *, version_id: str | None, until: datetime, mode: str
    ) -> None:
        """Record retention (extend only)."""
        self._check_up()
        _, version = self._version(key, version_id)
        if version.retain_until is None or until > version.retain_until:
            version.retain_until, version.mode = until, mode

    async def set_legal_hold(self, key: str, *, version_id: str | None, on: bool) -> None:
        """Record a legal hold."""
        self._check_up()
        _, version = self._version(key, version_id)
        version.legal_hold = on

    async def presign_get(
        self, key: str, *, version_id: str | None, expires_seconds: int
    ) -> str | None:
        """Return a fake but well-formed URL so presign paths can be exercised."""
        vid, _ = self._version(key, version_id)
        return f"memory://{key}?versionId={vid}&expires={expires_seconds}"

    async def probe(self) -> Capabilities:
        """Report memory capabilities."""
        self._check_up()
        return Capabilities(
            backend="memory",
            versioning=True,
            object_lock=self.object_lock,
            legal_hold=self.object_lock,
            encryption="none",
            presign=True,
        )

    async def list_versions(self, prefix: str) -> AsyncIterator[StoredObject]:
        """Stored versions under ``prefix``."""
        self._check_up()
        for key, versions in list(self.objects.items()):
            if key.startswith(prefix):
                for vid, version in list(versions.items()):
                    yield StoredObject(key, vid, version.created)

    def corrupt(self, key: str, version_id: str | None = None) -> None:
        """Flip a byte of a stored version (fixity tests)."""
        _, version = self._version(key, version_id)
        data = bytearray(version.data)
        data[0] ^= 0xFF
        version.data = bytes(data)

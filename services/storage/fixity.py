"""Fixity: re-read an object and compare its SHA-256 and size with the catalog."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from hoso.storage.errors import DataLoss, ObjectMissing
from hoso.storage.models import FileVersion
from hoso.storage.objectstore.api import ObjectStore

__all__ = ["FixityOutcome", "check_version"]


@dataclass(frozen=True)
class FixityOutcome:
    """Result of one check."""

    status: str
    """``ok``, ``mismatch`` or ``missing``."""
    expected_sha256: str
    actual_sha256: str
    expected_size: int
    actual_size: int
    checked_at: datetime

    @property
    def ok(self) -> bool:
        """Whether content and size match."""
        return self.status == "ok"


async def check_version(store: ObjectStore, version: FileVersion) -> FixityOutcome:
    """Stream the version back and hash it; a missing object is an outcome, not an error."""
    digest = hashlib.sha256()
    size = 0
    try:
        async for chunk in store.get(
            version.object_key, version_id=version.object_version, tenant=version.tenant
        ):
            digest.update(chunk)
            size += len(chunk)
    except ObjectMissing:
        return FixityOutcome("missing", version.sha256, "", version.size, 0, datetime.now(UTC))
    except DataLoss:
        # The local store's authenticated encryption caught a changed frame.
        return FixityOutcome("mismatch", version.sha256, "", version.size, size, datetime.now(UTC))
    actual = digest.hexdigest()
    status = "ok" if actual == version.sha256 and size == version.size else "mismatch"
    return FixityOutcome(status, version.sha256, actual, version.size, size, datetime.now(UTC))

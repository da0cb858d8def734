"""Start-up sweep of objects no catalog row references (orphans).

Ingest stores the object first and writes the catalog row afterwards (see
:mod:`hoso.storage.ingest`), so a crash between the two leaves a complete object that nothing
references. Such an orphan is harmless (it is never served) but takes space and, on S3, would
survive forever, so every start lists the archive's objects and deletes those that no version
row names and that are older than ``storage.stale_upload_seconds`` (younger ones may belong to
an upload another replica is finishing right now). Keys are checked against the catalog in
batches, so memory stays bounded however large the archive is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from hoso.storage.errors import ObjectMissing, RetentionActive
from hoso.storage.objectstore.api import ObjectStore, StoredObject
from hoso.storage.repository import StorageRepository

__all__ = ["OBJECT_PREFIX", "sweep_orphans"]

log = logging.getLogger("hoso.storage.sweep")

#: Every archived object lives under this prefix (``d/<dossier id>/<uuid>``).
OBJECT_PREFIX = "d/"
_BATCH = 500


async def sweep_orphans(
    runtime: Any,
    store: ObjectStore,
    *,
    older_than_seconds: int,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[str]:
    """Delete unreferenced objects older than the limit; return their keys."""
    limit = clock() - timedelta(seconds=older_than_seconds)
    removed: list[str] = []
    batch: list[StoredObject] = []

    async def flush() -> None:
        async with runtime.session() as session:
            known = await StorageRepository(session).known_object_keys([o.key for o in batch])
        for obj in batch:
            if obj.key in known:
                continue
            try:
                await store.delete(obj.key, version_id=obj.version_id)
            except (ObjectMissing, RetentionActive) as exc:
                log.warning("orphan object %s not removed: %s", obj.key, exc)
                continue
            removed.append(obj.key)
        batch.clear()

    async for obj in store.list_versions(OBJECT_PREFIX):
        if obj.last_modified is not None and obj.last_modified > limit:
            continue
        batch.append(obj)
        if len(batch) >= _BATCH:
            await flush()
    if batch:
        await flush()
    if removed:
        log.warning("removed %d orphan objects left by an interrupted upload", len(removed))
    return removed

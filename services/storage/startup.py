"""Opening the archive at start: build the configured object store, probe and sweep it."""

from __future__ import annotations

import logging
from typing import Any

from hoso.storage.objectstore.api import ObjectStore
from hoso.storage.service import ArchiveCore
from hoso.storage.settings import StorageSettings

__all__ = ["open_store", "start_core"]

log = logging.getLogger("hoso.storage")


async def open_store(settings: StorageSettings, data_dir: Any = None) -> ObjectStore:
    """Build the configured object store (the caller owns and closes it)."""
    from pathlib import Path

    if settings.backend.value == "s3":
        from hoso.storage.objectstore.s3 import S3Config, S3ObjectStore

        assert settings.s3_access_key is not None and settings.s3_secret_key is not None
        return S3ObjectStore(
            S3Config(
                endpoint=settings.s3_endpoint,
                access_key=settings.s3_access_key.get_secret_value(),
                secret_key=settings.s3_secret_key.get_secret_value(),
                bucket=settings.s3_bucket,
                secure=settings.s3_secure,
                region=settings.s3_region,
                part_size=settings.part_size,
                parallel_uploads=settings.upload_parallelism,
                tenant_keys=settings.sse_key_for,
            )
        )
    from hoso.storage.objectstore.local import LocalObjectStore, load_or_create_key

    root = settings.local_root
    if not root.is_absolute() and data_dir is not None:
        root = Path(data_dir) / root
    configured = (
        bytes.fromhex(settings.local_key.get_secret_value()) if settings.local_key else None
    )
    return LocalObjectStore(root, load_or_create_key(root, configured))


async def start_core(runtime: Any, settings: StorageSettings) -> ArchiveCore:
    """Open the store, probe it, refuse misconfiguration, sweep leftovers; return the core.

    Raises:
        StorageMisconfigured: the bucket is missing, or object lock is required but absent.
    """
    from hoso.storage.errors import StorageMisconfigured
    from hoso.storage.sweep import sweep_orphans

    store = await open_store(settings, getattr(runtime, "data_dir", None))
    try:
        capabilities = await store.probe()
        reasons = [
            reason
            for reason, needed in (
                ("storage.require_object_lock is on", settings.require_object_lock),
                (
                    "storage.object_lock_mode is COMPLIANCE",
                    settings.object_lock_mode.value == "COMPLIANCE",
                ),
                (
                    f"storage.default_retention_class is {settings.default_retention_class}",
                    settings.default_retention_class is not None,
                ),
            )
            if needed
        ]
        if reasons and not capabilities.object_lock:
            raise StorageMisconfigured(
                f"the {capabilities.backend} backend ({capabilities.detail}) has no object lock,"
                f" but {' and '.join(reasons)}; create the bucket with object lock enabled"
            )
        removed = await store.sweep_incomplete(older_than_seconds=settings.stale_upload_seconds)
        if removed:
            log.info("aborted %d incomplete uploads left by an earlier crash", removed)
        await sweep_orphans(runtime, store, older_than_seconds=settings.stale_upload_seconds)
    except BaseException:
        await store.close()
        raise
    return ArchiveCore(runtime, settings, store, capabilities)

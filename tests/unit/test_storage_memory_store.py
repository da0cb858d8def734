"""The in-memory object store used by unit tests, including its failure injection."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from hoso.storage.errors import BackendUnavailable, ObjectMissing, RetentionActive
from hoso.storage.fixity import check_version
from hoso.storage.objectstore.memory import MemoryObjectStore

pytestmark = pytest.mark.asyncio


async def _chunks(data: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def _read(store: MemoryObjectStore, key: str, **kwargs: object) -> bytes:
    return b"".join([c async for c in store.get(key, **kwargs)])  # type: ignore[arg-type]


async def test_down_backend_fails_every_call_as_unavailable() -> None:
    store = MemoryObjectStore()
    put = await store.put("d/1/a", _chunks(b"abc"), content_type="x")
    store.down = True
    with pytest.raises(BackendUnavailable):
        await store.put("d/1/b", _chunks(b"abc"), content_type="x")
    with pytest.raises(BackendUnavailable):
        await _read(store, "d/1/a")
    with pytest.raises(BackendUnavailable):
        await store.stat("d/1/a")
    with pytest.raises(BackendUnavailable):
        await store.delete("d/1/a", version_id=put.version_id)
    with pytest.raises(BackendUnavailable):
        await store.probe()
    store.down = False
    assert await _read(store, "d/1/a") == b"abc"


async def test_failure_mid_upload_stores_nothing_and_stops_reading() -> None:
    store = MemoryObjectStore(fail_put_after=2500)
    read = 0

    async def source() -> AsyncIterator[bytes]:
        nonlocal read
        for _ in range(10):
            read += 1000
            yield b"x" * 1000

    with pytest.raises(BackendUnavailable, match="during the upload"):
        await store.put("d/1/a", source(), content_type="x")
    assert read == 3000 and store.objects == {}
    assert [o async for o in store.list_versions("d/")] == []


async def test_failing_source_stores_nothing() -> None:
    store = MemoryObjectStore()

    async def broken() -> AsyncIterator[bytes]:
        yield b"x"
        raise ValueError("digest mismatch")

    with pytest.raises(ValueError):
        await store.put("d/1/a", broken(), content_type="x")
    assert store.objects == {}


async def test_versions_ranges_locks_and_listing() -> None:
    store = MemoryObjectStore()
    first = await store.put("d/1/a", _chunks(b"0123456789"), content_type="x")
    second = await store.put("d/1/a", _chunks(b"abcdef"), content_type="x")
    assert await _read(store, "d/1/a") == b"abcdef"
    assert await _read(store, "d/1/a", version_id=first.version_id, offset=2, length=3) == b"234"
    until = datetime.now(UTC) + timedelta(days=1)
    await store.set_retention("d/1/a", version_id=first.version_id, until=until, mode="GOVERNANCE")
    with pytest.raises(RetentionActive):
        await store.delete("d/1/a", version_id=first.version_id)
    await store.delete("d/1/a", version_id=second.version_id)
    listed = [(o.key, o.version_id) async for o in store.list_versions("d/")]
    assert listed == [("d/1/a", first.version_id)]
    with pytest.raises(ObjectMissing):
        await store.stat("d/1/a", version_id=second.version_id)


async def test_fixity_sees_corruption_and_missing_objects() -> None:
    import hashlib
    from types import SimpleNamespace

    store = MemoryObjectStore()
    data = "hồ sơ".encode() * 100
    put = await store.put("d/1/a", _chunks(data), content_type="x")
    version = SimpleNamespace(
        object_key="d/1/a",
        object_version=put.version_id,
        tenant="H26",
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
    )
    assert (await check_version(store, version)).status == "ok"  # type: ignore[arg-type]
    store.corrupt("d/1/a")
    outcome = await check_version(store, version)  # type: ignore[arg-type]
    assert outcome.status == "mismatch" and outcome.actual_size == len(data)
    store.objects.clear()
    assert (await check_version(store, version)).status == "missing"  # type: ignore[arg-type]

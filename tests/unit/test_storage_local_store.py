"""The local object store: AES-256-GCM frames, tamper and truncation detection, range reads."""

from __future__ import annotations

import os
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hoso.storage.errors import DataLoss, ObjectMissing, RetentionActive
from hoso.storage.objectstore.local import FRAME, LocalObjectStore, load_or_create_key

pytestmark = pytest.mark.asyncio

KEY = bytes(range(32))
DATA = random.Random(6).randbytes(5 * FRAME + 1234)


async def _chunks(data: bytes, size: int = 100_000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def _read(store: LocalObjectStore, key: str, **kwargs: object) -> bytes:
    return b"".join([c async for c in store.get(key, **kwargs)])  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(tmp_path, KEY)


def _object_file(tmp_path: Path, key: str, version: str) -> Path:
    return tmp_path / "objects" / key / f"{version}.obj"


async def test_round_trip_is_encrypted_at_rest(store: LocalObjectStore, tmp_path: Path) -> None:
    put = await store.put("d/1/a", _chunks(DATA), content_type="application/pdf")
    assert put.size == len(DATA) and put.version_id
    raw = _object_file(tmp_path, "d/1/a", put.version_id).read_bytes()
    assert DATA[:64] not in raw and DATA[-64:] not in raw
    assert await _read(store, "d/1/a") == DATA
    assert list((tmp_path / "staging").iterdir()) == []


@pytest.mark.parametrize(
    ("offset", "length"),
    [(0, 1), (FRAME - 1, 2), (FRAME, FRAME), (3 * FRAME + 5, None), (len(DATA) - 1, 10), (7, 0)],
)
async def test_range_reads(store: LocalObjectStore, offset: int, length: int | None) -> None:
    put = await store.put("d/1/r", _chunks(DATA), content_type="x")
    got = await _read(store, "d/1/r", version_id=put.version_id, offset=offset, length=length)
    end = len(DATA) if length is None else offset + length
    assert got == DATA[offset:end]


async def test_a_changed_byte_is_detected(store: LocalObjectStore, tmp_path: Path) -> None:
    put = await store.put("d/1/t", _chunks(DATA), content_type="x")
    path = _object_file(tmp_path, "d/1/t", put.version_id or "")
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(DataLoss, match="integrity check at frame"):
        await _read(store, "d/1/t")
    # A range read that avoids the damaged frame still works (frames are independent).
    assert await _read(store, "d/1/t", offset=0, length=10) == DATA[:10]


async def test_swapped_frames_are_detected(store: LocalObjectStore, tmp_path: Path) -> None:
    put = await store.put("d/1/s", _chunks(DATA), content_type="x")
    path = _object_file(tmp_path, "d/1/s", put.version_id or "")
    raw = path.read_bytes()
    header, sealed = raw[:20], raw[20:]
    size = FRAME + 16
    frames = [sealed[i : i + size] for i in range(0, len(sealed), size)]
    frames[0], frames[1] = frames[1], frames[0]
    path.write_bytes(header + b"".join(frames))
    with pytest.raises(DataLoss):
        await _read(store, "d/1/s")


@pytest.mark.parametrize("cut", ["whole-frame", "mid-frame"])
async def test_truncation_is_detected(store: LocalObjectStore, tmp_path: Path, cut: str) -> None:
    put = await store.put("d/1/c", _chunks(DATA), content_type="x")
    path = _object_file(tmp_path, "d/1/c", put.version_id or "")
    raw = path.read_bytes()
    last_frame = len(raw) - (1234 + 16)
    path.write_bytes(raw[:last_frame] if cut == "whole-frame" else raw[: last_frame - 100])
    with pytest.raises(DataLoss):
        await _read(store, "d/1/c")


async def test_another_key_cannot_read(store: LocalObjectStore, tmp_path: Path) -> None:
    await store.put("d/1/k", _chunks(DATA), content_type="x")
    with pytest.raises(DataLoss):
        await _read(LocalObjectStore(tmp_path, bytes(32)), "d/1/k")


async def test_failed_stream_leaves_nothing(store: LocalObjectStore, tmp_path: Path) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield DATA[: FRAME * 3]
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await store.put("d/1/f", broken(), content_type="x")
    assert list((tmp_path / "staging").iterdir()) == []
    assert [o async for o in store.list_versions("d/")] == []
    with pytest.raises(ObjectMissing):
        await store.stat("d/1/f")


async def test_retention_and_hold_block_deletes(store: LocalObjectStore) -> None:
    put = await store.put("d/1/l", _chunks(b"x" * 10), content_type="x")
    until = datetime.now(UTC) + timedelta(days=1)
    await store.set_retention("d/1/l", version_id=put.version_id, until=until, mode="GOVERNANCE")
    # Shortening is ignored, like S3 compliance mode.
    await store.set_retention(
        "d/1/l", version_id=put.version_id, until=until - timedelta(hours=1), mode="GOVERNANCE"
    )
    assert (await store.stat("d/1/l")).retain_until == until
    with pytest.raises(RetentionActive, match="retained until"):
        await store.delete("d/1/l", version_id=put.version_id)
    held = await store.put("d/1/h", _chunks(b"y"), content_type="x")
    await store.set_legal_hold("d/1/h", version_id=held.version_id, on=True)
    with pytest.raises(RetentionActive, match="legal hold"):
        await store.delete("d/1/h", version_id=held.version_id)
    await store.set_legal_hold("d/1/h", version_id=held.version_id, on=False)
    await store.delete("d/1/h", version_id=held.version_id)
    assert [o.key for o in [o async for o in store.list_versions("d/")]] == ["d/1/l"]


async def test_stale_staging_files_are_swept(store: LocalObjectStore, tmp_path: Path) -> None:
    stale = tmp_path / "staging" / "dead.part"
    stale.write_bytes(b"half")
    old = datetime.now(UTC).timestamp() - 7200
    os.utime(stale, (old, old))
    fresh = tmp_path / "staging" / "live.part"
    fresh.write_bytes(b"in progress")
    assert await store.sweep_incomplete(older_than_seconds=3600) == 1
    assert sorted(p.name for p in (tmp_path / "staging").iterdir()) == ["live.part"]


async def test_generated_key_is_kept_private(tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path, None)
    assert len(key) == 32 and load_or_create_key(tmp_path, None) == key
    assert (tmp_path / ".key").stat().st_mode & 0o077 == 0
    assert load_or_create_key(tmp_path, KEY) == KEY

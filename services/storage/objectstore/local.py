"""A directory object store with AES-256-GCM encryption at rest.

Layout under the root::

    objects/<key>/<version>.obj    encrypted frames (see below)
    objects/<key>/<version>.json   size, content type, retention and legal hold
    staging/<uuid>.part            uploads in progress (removed on failure, swept at start)

Each object starts with a header (magic, frame size, 8-byte random nonce prefix) followed by
frames of ``FRAME`` plaintext bytes, each sealed with AES-GCM under the nonce ``prefix ||
frame index`` and the associated data ``version:index:last``. Binding the index stops frames
from being reordered and the ``last`` flag stops truncation; fixed-size frames let a range read
start at any frame without decrypting what comes before. A put writes into ``staging/`` and
renames into place only after the last frame was written and fsynced, so a crash never leaves
a visible partial object. Retention and legal holds are enforced from the metadata file.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import struct
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hoso.common.errors import Internal
from hoso.storage.errors import DataLoss, ObjectMissing
from hoso.storage.objectstore._common import check_key, refuse_if_locked
from hoso.storage.objectstore.api import (
    Capabilities,
    ObjectInfo,
    ObjectStore,
    PutResult,
    StoredObject,
)

__all__ = ["FRAME", "LocalObjectStore", "load_or_create_key"]

MAGIC = b"HOSOAEG1"
FRAME = 64 * 1024
_TAG = 16
_HEADER = struct.Struct(">8sI8s")  # magic, frame size, nonce prefix
# Write to disk in batches of frames to keep thread hops few.
_BATCH = 16 * FRAME


def load_or_create_key(root: Path, configured: bytes | None) -> bytes:
    """Return the configured key or one kept in ``<root>/.key`` (created 0600 on first use)."""
    if configured is not None:
        return configured
    root.mkdir(parents=True, exist_ok=True)
    path = root / ".key"
    if path.exists():
        return bytes.fromhex(path.read_text().strip())
    key = AESGCM.generate_key(bit_length=256)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key.hex())
    return key


class LocalObjectStore(ObjectStore):
    """Objects in a directory, encrypted with one AES-256-GCM key."""

    name = "local"

    def __init__(self, root: Path, key: bytes) -> None:
        """Create the store; ``key`` is 32 bytes."""
        if len(key) != 32:
            raise ValueError("the local store key must be 32 bytes")
        self._root = root
        self._objects = root / "objects"
        self._staging = root / "staging"
        self._aead = AESGCM(key)
        self._objects.mkdir(parents=True, exist_ok=True)
        self._staging.mkdir(parents=True, exist_ok=True)

    # -- paths -------------------------------------------------------------------------------
    def _paths(self, key: str, version_id: str | None) -> tuple[Path, Path]:
        folder = self._objects / check_key(key)
        if version_id is None:
            version_id = self._latest(folder)
        if not version_id.isalnum():
            raise ObjectMissing(f"no version {version_id!r} of {key}")
        return folder / f"{version_id}.obj", folder / f"{version_id}.json"

    def _latest(self, folder: Path) -> str:
        metas = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
        if not metas:
            raise ObjectMissing(f"no object at {folder.name}")
        return metas[-1].stem

    def _read_meta(self, meta_path: Path) -> dict[str, object]:
        try:
            return json.loads(meta_path.read_text())  # type: ignore[no-any-return]
        except FileNotFoundError as exc:
            raise ObjectMissing(
                f"object {meta_path.parent.name}/{meta_path.stem} is missing"
            ) from exc

    def _write_meta(self, meta_path: Path, meta: dict[str, object]) -> None:
        tmp = meta_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(meta))
        os.replace(tmp, meta_path)

    # -- put ---------------------------------------------------------------------------------
    async def put(
        self,
        key: str,
        chunks: AsyncIterator[bytes],
        *,
        content_type: str,
        tenant: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> PutResult:
        """Encrypt the stream into staging, then rename it into place (see module doc)."""
        folder = self._objects / check_key(key)
        version_id = uuid.uuid4().hex
        staging = self._staging / f"{version_id}.part"
        prefix = secrets.token_bytes(8)
        handle = await asyncio.to_thread(open, staging, "wb")
        size = 0
        index = 0
        pending = bytearray()
        try:
            handle.write(_HEADER.pack(MAGIC, FRAME, prefix))
            async for chunk in chunks:
                pending += chunk
                size += len(chunk)
                # Keep at least one byte back: the last frame must be sealed as last.
                if len(pending) > _BATCH:
                    cut = ((len(pending) - 1) // FRAME) * FRAME
                    batch, pending = bytes(pending[:cut]), pending[cut:]
                    index = await asyncio.to_thread(
                        self._seal_frames, handle, version_id, prefix, index, batch, False
                    )
            await asyncio.to_thread(
                self._seal_frames, handle, version_id, prefix, index, bytes(pending), True
            )
            await asyncio.to_thread(self._commit, handle, staging, folder, version_id)
        except BaseException:
            handle.close()
            staging.unlink(missing_ok=True)
            raise
        meta = {
            "size": size,
            "content_type": content_type,
            "metadata": metadata or {},
            "retain_until": None,
            "mode": None,
            "legal_hold": False,
        }
        await asyncio.to_thread(self._write_meta, folder / f"{version_id}.json", meta)
        return PutResult(key=key, version_id=version_id, size=size)

    def _seal_frames(
        self, handle: object, version_id: str, prefix: bytes, index: int, data: bytes, final: bool
    ) -> int:
        write = handle.write  # type: ignore[attr-defined]
        frames = [data[i : i + FRAME] for i in range(0, len(data), FRAME)] or [b""]
        for position, frame in enumerate(frames):
            last = final and position == len(frames) - 1
            nonce = prefix + struct.pack(">I", index)
            write(self._aead.encrypt(nonce, frame, f"{version_id}:{index}:{int(last)}".encode()))
            index += 1
        return index

    def _commit(self, handle: object, staging: Path, folder: Path, version_id: str) -> None:
        handle.flush()  # type: ignore[attr-defined]
        os.fsync(handle.fileno())  # type: ignore[attr-defined]
        handle.close()  # type: ignore[attr-defined]
        folder.mkdir(parents=True, exist_ok=True)
        os.replace(staging, folder / f"{version_id}.obj")

    # -- get ---------------------------------------------------------------------------------
    async def get(
        self,
        key: str,
        *,
        version_id: str | None = None,
        offset: int = 0,
        length: int | None = None,
        tenant: str | None = None,
    ) -> AsyncIterator[bytes]:
        """Decrypt frames covering the range and yield the requested bytes."""
        obj_path, meta_path = self._paths(key, version_id)
        meta = self._read_meta(meta_path)
        size = int(meta["size"])  # type: ignore[call-overload]
        end = size if length is None else min(size, offset + length)
        if offset >= end:
            return
        try:
            handle = await asyncio.to_thread(open, obj_path, "rb")
        except FileNotFoundError as exc:
            raise ObjectMissing(f"object {key} is missing its data") from exc
        try:
            magic, frame_size, prefix = _HEADER.unpack(handle.read(_HEADER.size))
            if magic != MAGIC:
                raise Internal(f"object {key} is not in the local store format")
            first = offset // frame_size
            last_index = max(0, (size - 1) // frame_size) if size else 0
            handle.seek(_HEADER.size + first * (frame_size + _TAG))
            position = first * frame_size
            index = first
            vid = obj_path.stem
            # Only the frames covering the range are read and authenticated.
            last_needed = min(last_index, (end - 1) // frame_size)
            while position < end:
                count = min(16, last_needed - index + 1)
                raw = await asyncio.to_thread(handle.read, count * (frame_size + _TAG))
                out = bytearray()
                for n in range(count):
                    sealed = raw[n * (frame_size + _TAG) : (n + 1) * (frame_size + _TAG)]
                    aad = f"{vid}:{index}:{int(index == last_index)}".encode()
                    try:
                        out += self._aead.decrypt(prefix + struct.pack(">I", index), sealed, aad)
                    except InvalidTag as exc:
                        raise DataLoss(
                            f"object {key} failed its integrity check at frame {index}"
                        ) from exc
                    index += 1
                lo = max(offset - position, 0)
                hi = min(len(out), end - position)
                position += len(out)
                if hi > lo:
                    yield bytes(out[lo:hi])
        finally:
            handle.close()

    # -- metadata, retention -----------------------------------------------------------------
    async def stat(
        self, key: str, *, version_id: str | None = None, tenant: str | None = None
    ) -> ObjectInfo:
        """Return what the metadata file says (ObjectMissing when data or meta is gone)."""
        obj_path, meta_path = self._paths(key, version_id)
        meta = self._read_meta(meta_path)
        if not obj_path.exists():
            raise ObjectMissing(f"object {key} is missing its data")
        until = meta.get("retain_until")
        return ObjectInfo(
            key=key,
            version_id=obj_path.stem,
            size=int(meta["size"]),  # type: ignore[call-overload]
            retain_until=datetime.fromisoformat(until) if isinstance(until, str) else None,
            retention_mode=meta.get("mode"),  # type: ignore[arg-type]
            legal_hold=bool(meta.get("legal_hold")),
            metadata=dict(meta.get("metadata") or {}),  # type: ignore[call-overload]
        )

    async def delete(self, key: str, *, version_id: str | None = None) -> None:
        """Delete a version unless its metadata says it is retained or held."""
        info = await self.stat(key, version_id=version_id)
        refuse_if_locked(info.retain_until, info.legal_hold)
        obj_path, meta_path = self._paths(key, info.version_id)
        obj_path.unlink(missing_ok=True)
        meta_path.unlink(missing_ok=True)

    async def set_retention(
        self, key: str, *, version_id: str | None, until: datetime, mode: str
    ) -> None:
        """Record retention; it may be extended but never shortened (as S3 compliance)."""
        _, meta_path = self._paths(key, version_id)
        meta = self._read_meta(meta_path)
        current = meta.get("retain_until")
        if isinstance(current, str) and datetime.fromisoformat(current) >= until:
            return
        meta["retain_until"] = until.isoformat()
        meta["mode"] = mode
        await asyncio.to_thread(self._write_meta, meta_path, meta)

    async def set_legal_hold(self, key: str, *, version_id: str | None, on: bool) -> None:
        """Record a legal hold flag."""
        _, meta_path = self._paths(key, version_id)
        meta = self._read_meta(meta_path)
        meta["legal_hold"] = on
        await asyncio.to_thread(self._write_meta, meta_path, meta)

    async def presign_get(
        self, key: str, *, version_id: str | None, expires_seconds: int
    ) -> str | None:
        """The local store has no URL of its own; clients use GetFile."""
        return None

    async def probe(self) -> Capabilities:
        """Check the root is writable."""
        probe = self._staging / f"probe-{uuid.uuid4().hex}"
        try:
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as exc:
            from hoso.storage.errors import StorageMisconfigured

            raise StorageMisconfigured(
                f"local store root {self._root} is not writable: {exc}"
            ) from exc
        return Capabilities(
            backend="local",
            versioning=True,
            object_lock=True,
            legal_hold=True,
            encryption="aes-256-gcm",
            presign=False,
            detail=f"directory {self._root}; retention enforced from metadata",
        )

    async def list_versions(self, prefix: str) -> AsyncIterator[StoredObject]:
        """Versions whose key starts with ``prefix``; last modified is the data file's mtime."""
        found = await asyncio.to_thread(self._scan, prefix)
        for item in found:
            yield item

    def _scan(self, prefix: str) -> list[StoredObject]:
        out = []
        for path in self._objects.rglob("*.obj"):
            key = path.parent.relative_to(self._objects).as_posix()
            if key.startswith(prefix):
                modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
                out.append(StoredObject(key, path.stem, modified))
        return out

    async def sweep_incomplete(self, *, older_than_seconds: int) -> int:
        """Remove staging files older than the limit (left by a crash)."""
        import time

        limit = time.time() - older_than_seconds
        removed = 0
        for part in self._staging.glob("*.part"):
            if part.stat().st_mtime <= limit:
                part.unlink(missing_ok=True)
                removed += 1
        return removed

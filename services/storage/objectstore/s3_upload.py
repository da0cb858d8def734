"""Streaming multipart upload to S3, driven from the event loop.

minio's own ``put_object`` reads a file-like object in a worker thread and, with parallel
uploads, only notices a failed part after the whole stream was read (its thread pool reports
errors at the end) and leaks its pool threads when the reader raises. This uploader instead
cuts the incoming chunks into parts itself and hands each part to a worker thread, at most
``parallel`` at once: a failed part stops the upload at the next chunk, the stream is no longer
read, and the multipart upload is aborted. Memory is bounded by ``(parallel + 1) * part_size``.

Nothing becomes visible until ``CompleteMultipartUpload``, which is only sent once the source
ended without error; a source error or a failed part aborts the upload (and when even the
abort cannot reach the server, the sweep at the next start removes it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from minio import Minio
from minio.datatypes import Part

__all__ = ["MultipartUpload", "upload_stream"]

log = logging.getLogger("hoso.storage.s3")

Call = Callable[..., Awaitable[Any]]


class MultipartUpload:
    """One multipart upload: parts go up in threads; complete or abort at the end."""

    def __init__(
        self,
        client: Minio,
        call: Call,
        *,
        bucket: str,
        key: str,
        headers: dict[str, str],
        part_headers: dict[str, str] | None,
        parallel: int,
    ) -> None:
        """Describe the upload; nothing is sent before the first part."""
        self._client = client
        self._call = call
        self._bucket = bucket
        self._key = key
        self._headers = headers
        self._part_headers = part_headers
        self._parallel = max(1, parallel)
        self.upload_id: str | None = None
        self._etags: dict[int, str] = {}
        self._running: set[asyncio.Task[None]] = set()
        self._all: list[asyncio.Task[None]] = []
        self.completing = False

    @property
    def started(self) -> bool:
        """Whether the server knows this upload (a part was sent)."""
        return self.upload_id is not None

    async def add_part(self, number: int, data: bytes) -> None:
        """Start uploading a part; wait while ``parallel`` parts are already in flight."""
        if self.upload_id is None:
            self.upload_id = await self._call(
                self._client._create_multipart_upload,
                bucket_name=self._bucket,
                object_name=self._key,
                headers=dict(self._headers),
            )
        self.raise_if_failed()
        while len(self._running) >= self._parallel:
            await asyncio.wait(self._running, return_when=asyncio.FIRST_COMPLETED)
            self.raise_if_failed()
        task = asyncio.create_task(self._upload(number, data))
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        self._all.append(task)

    async def _upload(self, number: int, data: bytes) -> None:
        etag = await self._call(
            self._client._upload_part,
            bucket_name=self._bucket,
            object_name=self._key,
            data=data,
            headers=dict(self._part_headers) if self._part_headers else None,
            upload_id=self.upload_id,
            part_number=number,
        )
        self._etags[number] = etag

    def raise_if_failed(self) -> None:
        """Raise the error of the first part that failed, if any."""
        for task in self._all:
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    async def complete(self, ssec_headers: Any) -> Any:
        """Wait for the parts, then make the object visible."""
        if self._all:
            await asyncio.gather(*self._all)
        parts = [Part(n, self._etags[n]) for n in sorted(self._etags)]
        self.completing = True
        return await self._call(
            self._client._complete_multipart_upload,
            bucket_name=self._bucket,
            object_name=self._key,
            upload_id=self.upload_id,
            parts=parts,
            ssec=ssec_headers,
        )

    async def abort(self) -> None:
        """Wait for parts in flight, then abort; an unreachable server is left to the sweep.

        When the failure (a cancellation, typically) came while CompleteMultipartUpload was in
        flight, the object may have become visible: its key is unique to this upload, so every
        version under it is removed.
        """
        if self._all:
            await asyncio.gather(*self._all, return_exceptions=True)
        if self.upload_id is None:
            return
        if self.completing:
            await self._remove_key()
        try:
            await self._call(
                self._client._abort_multipart_upload,
                bucket_name=self._bucket,
                object_name=self._key,
                upload_id=self.upload_id,
            )
        except Exception:
            log.warning(
                "could not abort multipart upload %s of %s; the start-up sweep will",
                self.upload_id,
                self._key,
                exc_info=True,
            )

    async def _remove_key(self) -> None:
        try:
            listing = await self._call(
                _versions_of, client=self._client, bucket=self._bucket, key=self._key
            )
            for version_id in listing:
                await self._call(
                    self._client.remove_object,
                    bucket_name=self._bucket,
                    object_name=self._key,
                    version_id=version_id,
                )
        except Exception:
            log.warning(
                "could not remove %s after an interrupted completion; the start-up orphan"
                " sweep will",
                self._key,
                exc_info=True,
            )


def _versions_of(*, client: Minio, bucket: str, key: str) -> list[str | None]:
    return [
        o.version_id
        for o in client.list_objects(
            bucket_name=bucket, prefix=key, recursive=True, include_version=True
        )
        if o.object_name == key and not o.is_delete_marker
    ]


async def upload_stream(
    client: Minio,
    call: Call,
    chunks: AsyncIterator[bytes],
    *,
    bucket: str,
    key: str,
    headers: dict[str, str],
    part_headers: dict[str, str] | None,
    ssec: Any,
    part_size: int,
    parallel: int,
) -> tuple[str | None, int]:
    """Upload ``chunks`` under ``key``; return ``(version_id, size)``.

    A stream shorter than one part is sent with a single PUT once it ended.
    """
    upload = MultipartUpload(
        client,
        call,
        bucket=bucket,
        key=key,
        headers=headers,
        part_headers=part_headers,
        parallel=parallel,
    )
    # Chunks wait in a list and are joined once per part: one copy of each byte (a bytearray
    # would copy on append, on slicing and on every shift).
    pending: list[bytes] = []
    pending_size = 0
    size = 0
    number = 0
    try:
        async for chunk in chunks:
            upload.raise_if_failed()
            pending.append(chunk)
            pending_size += len(chunk)
            size += len(chunk)
            while pending_size >= part_size:
                joined = b"".join(pending)
                part, rest = joined[:part_size], joined[part_size:]
                pending, pending_size = ([rest] if rest else []), len(rest)
                del joined
                number += 1
                await upload.add_part(number, part)
        last = b"".join(pending)
        pending.clear()
        if not upload.started:
            result = await call(
                client._put_object,
                bucket_name=bucket,
                object_name=key,
                data=last,
                headers=dict(headers),
            )
            return result.version_id, size
        if last:
            number += 1
            await upload.add_part(number, last)
        del last
        result = await upload.complete(ssec)
    except BaseException:
        with contextlib.suppress(Exception):
            await asyncio.shield(upload.abort())
        raise
    return result.version_id, size

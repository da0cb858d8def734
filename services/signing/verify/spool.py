"""Receive a client-streamed file for verification: header first, then chunks of ≤ 1 MiB.

Small files stay in memory; past a few MiB the bytes go to a temporary file in the spool
directory, so a worker process reads them from disk instead of receiving them pickled. The
limit is enforced while receiving, before anything is verified.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from hoso.common.errors import InvalidArgument, ResourceExhausted

__all__ = ["MAX_CHUNK", "MEMORY_LIMIT", "ReceivedFile", "receive"]

MAX_CHUNK = 1024 * 1024
MEMORY_LIMIT = 4 * 1024 * 1024


class ReceivedFile:
    """The received bytes (``source``: bytes, or the path of a spool file) and its size.

    Use as a context manager; the spool file is removed on exit.
    """

    def __init__(self) -> None:
        self.size = 0
        self._buffer = bytearray()
        self._path: Path | None = None
        self._file: Any = None

    @property
    def source(self) -> bytes | str:
        """What a job reads: the bytes, or the spool file's path."""
        return str(self._path) if self._path is not None else bytes(self._buffer)

    def write(self, chunk: bytes, spool_dir: Path) -> None:
        self.size += len(chunk)
        if self._file is None and self.size <= MEMORY_LIMIT:
            self._buffer += chunk
            return
        if self._file is None:
            spool_dir.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix="verify-", suffix=".part", dir=spool_dir)
            self._path = Path(name)
            self._file = os.fdopen(fd, "wb")
            self._file.write(self._buffer)
            self._buffer = bytearray()
        self._file.write(chunk)

    def finish(self) -> None:
        if self._file is not None:
            self._file.close()

    def __enter__(self) -> ReceivedFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()
        if self._path is not None:
            self._path.unlink(missing_ok=True)


async def receive(
    requests: AsyncIterator[Any],
    *,
    max_bytes: int,
    spool_dir: Path,
    on_header: Any = None,
) -> tuple[Any, ReceivedFile]:
    """Read the header and every chunk of a ``header``/``chunk`` oneof stream.

    ``on_header`` (an async callable) runs as soon as the header arrives, so a bad option (an
    unknown trust profile) fails before the file is uploaded.

    Raises:
        InvalidArgument: no header first, a second header, a chunk above 1 MiB, no chunks.
        ResourceExhausted: more than ``max_bytes``.
    """
    header = None
    received = ReceivedFile()
    try:
        async for request in requests:
            kind = request.WhichOneof("payload")
            if header is None:
                if kind != "header":
                    raise InvalidArgument(
                        "the first message must carry the header; send chunks after it",
                        field="header",
                    )
                header = request.header
                if on_header is not None:
                    await on_header(header)
                continue
            if kind != "chunk":
                raise InvalidArgument("send the header once, then only chunks", field="header")
            if len(request.chunk) > MAX_CHUNK:
                raise InvalidArgument(
                    f"a chunk holds {len(request.chunk)} bytes; send at most {MAX_CHUNK}",
                    field="chunk",
                )
            if received.size + len(request.chunk) > max_bytes:
                raise ResourceExhausted(
                    f"the file exceeds the verification limit of {max_bytes} bytes "
                    "(signing.verify_max_bytes)",
                    field="chunk",
                )
            received.write(request.chunk, spool_dir)
        if header is None:
            raise InvalidArgument(
                "the stream was empty: send the header, then chunks", field="header"
            )
        if received.size == 0:
            raise InvalidArgument(
                "no file arrived: send its bytes as chunks after the header", field="chunk"
            )
        received.finish()
    except BaseException:
        received.__exit__(None, None, None)
        raise
    return header, received

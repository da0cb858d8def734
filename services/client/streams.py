"""Chunked streams, the way every hoso file-carrying RPC moves bytes.

Requests: the first message carries a header (``oneof payload { header; chunk }``), then chunks
of at most 1 MiB. Responses: the first message carries metadata, then chunks. These helpers
build and drain such streams from bytes, paths or binary files, without holding whole files.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import IO, Any, TypeVar

__all__ = ["CHUNK_SIZE", "Source", "chunks_of", "drain", "drain_to_file", "header_then_chunks"]

CHUNK_SIZE = 1024 * 1024
Source = bytes | Path | IO[bytes]
M = TypeVar("M")


def chunks_of(source: Source, size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Yield ``source`` in pieces of at most ``size`` bytes (nothing for empty input)."""
    if isinstance(source, bytes):
        for start in range(0, len(source), size):
            yield source[start : start + size]
        return
    if isinstance(source, Path):
        with source.open("rb") as handle:
            yield from chunks_of(handle, size)
        return
    while piece := source.read(size):
        yield piece


async def header_then_chunks(
    make: Callable[..., M],
    header_field: str,
    header: Any,
    source: Source,
    *,
    size: int = CHUNK_SIZE,
    progress: Callable[[int], None] | None = None,
) -> AsyncIterator[M]:
    """``make(header_field=header)``, then ``make(chunk=…)`` for each piece of ``source``."""
    yield make(**{header_field: header})
    for piece in chunks_of(source, size):
        if progress is not None:
            progress(len(piece))
        yield make(chunk=piece)


async def drain(responses: AsyncIterable[Any], metadata_field: str) -> tuple[Any, bytes]:
    """Collect a metadata-then-chunks response stream into ``(metadata, bytes)``."""
    metadata = None
    parts: list[bytes] = []
    async for response in responses:
        if response.WhichOneof("payload") == metadata_field:
            metadata = getattr(response, metadata_field)
        else:
            parts.append(response.chunk)
    return metadata, b"".join(parts)


async def drain_to_file(
    responses: AsyncIterable[Any],
    metadata_field: str,
    destination: IO[bytes],
    *,
    progress: Callable[[int], None] | None = None,
) -> Any:
    """Write a metadata-then-chunks response stream's bytes to ``destination``; return the metadata."""
    metadata = None
    async for response in responses:
        if response.WhichOneof("payload") == metadata_field:
            metadata = getattr(response, metadata_field)
        else:
            destination.write(response.chunk)
            if progress is not None:
                progress(len(response.chunk))
    return metadata

"""What happens to a completed remote signature: archiving and replayable results.

An archive target given to ``PrepareSignature``/``PrepareBatch`` is kept on the prepared row
and applied once the signature is completed, through the storage API like ``SignPdf`` does.
The storage request id derives from the prepared signature's id, so completing (or replaying)
one prepared signature never stores two copies.

A repeated ``CompleteBatch`` request id replays the first batch: the ledger keeps the
document results (length-prefixed ``BatchDocumentResult`` messages) and one output file, the
signed documents one after another (each result's ``size_bytes`` says where one ends).
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import IO

from hoso.common.errors import FailedPrecondition
from hoso.signing.pades.archive import Archiver
from hoso.signing.pades.inputs import CHUNK_SIZE
from hoso.signing.v1 import signing_pb2 as _pb

__all__ = [
    "archive_completed",
    "pack_batch_results",
    "read_slices",
    "unpack_batch_results",
    "write_concatenation",
]


async def archive_completed(
    archiver: Archiver,
    archive: bytes,
    *,
    prepared_id: str,
    filename: str,
    result: _pb.SignPdfResult,
    path: Path,
) -> bool:
    """Archive a completed signature when its prepared row asked for it and it is not yet.

    Returns whether ``result`` changed (its ``archived_file_version`` was set).

    Raises:
        NotFound: the dossier is gone (``prepared_signature.dossier``).
        InvalidArgument: storage refused the file.
        Unavailable: storage cannot be reached; retry with the same request_id.
    """
    if not archive or result.archived_file_version:
        return False
    target = _pb.ArchiveTarget.FromString(archive)
    result.archived_file_version = await archiver.put(
        target,
        path,
        filename=filename,
        sha256_hex=result.sha256,
        request_id=f"prepared:{prepared_id}",
        field="prepared_signature",
    )
    return True


def pack_batch_results(results: Sequence[_pb.BatchDocumentResult]) -> bytes:
    """The batch's results as one ledger value (length-prefixed messages)."""
    parts = []
    for result in results:
        data = result.SerializeToString()
        parts.append(len(data).to_bytes(4, "big") + data)
    return b"".join(parts)


def unpack_batch_results(data: bytes) -> list[_pb.BatchDocumentResult]:
    """The inverse of :func:`pack_batch_results`."""
    results = []
    offset = 0
    while offset < len(data):
        length = int.from_bytes(data[offset : offset + 4], "big")
        offset += 4
        results.append(_pb.BatchDocumentResult.FromString(data[offset : offset + length]))
        offset += length
    return results


def write_concatenation(files: Sequence[IO[bytes]], target: Path) -> str:
    """Write ``files`` one after another into ``target``; return its hex SHA-256."""
    digest = hashlib.sha256()
    with target.open("wb") as out:
        for file in files:
            file.seek(0)
            while chunk := file.read(CHUNK_SIZE):
                digest.update(chunk)
                out.write(chunk)
            file.seek(0)
    return digest.hexdigest()


async def read_slices(path: Path, sizes: Sequence[int]) -> AsyncIterator[tuple[int, bytes]]:
    """``(index, chunk)`` pairs of the consecutive documents of a concatenation.

    Raises:
        FailedPrecondition: the file ends before the documents do.
    """
    with path.open("rb") as file:
        for index, size in enumerate(sizes):
            left = size
            while left:
                chunk = file.read(min(CHUNK_SIZE, left))
                if not chunk:
                    raise FailedPrecondition(
                        "the kept result of this request_id is truncated; use a new one"
                    )
                left -= len(chunk)
                yield index, chunk

"""Taking documents in: bounded spooling of streamed chunks and checks before signing.

Incoming bytes go to a spooled temporary file (memory up to a threshold, then disk), never to
one big ``bytes`` object, and the size limit is enforced while receiving. A PDF is then
checked for what would make signing fail or mislead: not a PDF, encrypted, damaged.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import AsyncIterable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from hoso.common.errors import FailedPrecondition, InvalidArgument, ResourceExhausted
from pyhanko.pdf_utils.misc import PdfReadError
from pyhanko.pdf_utils.reader import PdfFileReader

__all__ = [
    "CHUNK_SIZE",
    "SpooledDocument",
    "iter_chunks",
    "open_pdf",
    "spool",
    "spool_bytes",
]

#: Chunk size for streaming in and out (the gRPC contract caps chunks at 1 MiB).
CHUNK_SIZE = 1024 * 1024
#: Documents up to this size stay in memory while spooling; larger ones go to disk.
_MEMORY_THRESHOLD = 4 * 1024 * 1024


@dataclass
class SpooledDocument:
    """A received document: a seekable file, its size and SHA-256.

    The caller closes ``file`` (``with`` works); disk-backed spools vanish on close.
    """

    file: IO[bytes]
    size: int
    sha256: bytes

    def __enter__(self) -> SpooledDocument:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.file.close()


def _new_spool(spool_dir: Path | None) -> IO[bytes]:
    return tempfile.SpooledTemporaryFile(
        max_size=_MEMORY_THRESHOLD, dir=str(spool_dir) if spool_dir else None, prefix="hoso-sign-"
    )


async def spool(
    chunks: AsyncIterable[bytes], *, max_bytes: int, spool_dir: Path | None = None
) -> SpooledDocument:
    """Receive chunks into a spooled file, hashing as they come.

    Raises:
        ResourceExhausted: more than ``max_bytes`` arrived (the spool is discarded).
        InvalidArgument: nothing arrived.
    """
    file = _new_spool(spool_dir)
    digest = hashlib.sha256()
    size = 0
    try:
        async for chunk in chunks:
            size += len(chunk)
            if size > max_bytes:
                raise ResourceExhausted(
                    f"document exceeds the limit of {max_bytes} bytes; split it or ask an "
                    "operator to raise signing.max_document_bytes"
                )
            digest.update(chunk)
            file.write(chunk)
    except BaseException:
        file.close()
        raise
    if size == 0:
        file.close()
        raise InvalidArgument("the document is empty", field="document")
    file.seek(0)
    return SpooledDocument(file=file, size=size, sha256=digest.digest())


def spool_bytes(
    data: bytes | Iterable[bytes], *, max_bytes: int, spool_dir: Path | None = None
) -> SpooledDocument:
    """Synchronous variant of :func:`spool` for in-process callers (CLI, tests)."""
    file = _new_spool(spool_dir)
    digest = hashlib.sha256()
    size = 0
    for chunk in [data] if isinstance(data, bytes) else data:
        size += len(chunk)
        if size > max_bytes:
            file.close()
            raise ResourceExhausted(
                f"document exceeds the limit of {max_bytes} bytes; split it or ask an operator "
                "to raise signing.max_document_bytes"
            )
        digest.update(chunk)
        file.write(chunk)
    if size == 0:
        file.close()
        raise InvalidArgument("the document is empty", field="document")
    file.seek(0)
    return SpooledDocument(file=file, size=size, sha256=digest.digest())


def iter_chunks(file: IO[bytes], chunk_size: int = CHUNK_SIZE) -> Iterable[bytes]:
    """Read ``file`` from the start in chunks of at most ``chunk_size`` bytes."""
    file.seek(0)
    while chunk := file.read(chunk_size):
        yield chunk


def open_pdf(file: IO[bytes], *, field: str = "document") -> PdfFileReader:
    """Open a spooled document as a PDF, refusing what cannot be signed.

    Raises:
        InvalidArgument: not a PDF (no ``%PDF-`` header), or damaged beyond repair; the
            message says where the parser stopped.
        FailedPrecondition: the PDF is encrypted (decrypt it first; signing would otherwise
            hide the content from validators).
    """
    file.seek(0)
    head = file.read(1024)
    if b"%PDF-" not in head:
        kind = "empty" if not head else f"starts with {head[:8]!r}"
        raise InvalidArgument(
            f"the document is not a PDF (it {kind}); send a PDF file", field=field
        )
    file.seek(0, os.SEEK_END)
    size = file.tell()
    file.seek(0)
    try:
        reader = PdfFileReader(file, strict=False)
        if reader.encrypted:
            raise FailedPrecondition(
                "the PDF is encrypted; remove the password protection before signing",
                field=field,
            )
        # Touch the page tree and the trailer: a damaged xref or object surfaces here.
        _ = reader.root["/Pages"]
        if reader.root["/Pages"].get("/Count", 0) == 0:
            raise InvalidArgument("the PDF has no pages", field=field)
    except PdfReadError as exc:
        raise InvalidArgument(
            f"the PDF is damaged ({size} bytes): {_where(exc)}; repair it (e.g. qpdf) and retry",
            field=field,
        ) from exc
    except (KeyError, ValueError, TypeError, IndexError, AttributeError) as exc:
        raise InvalidArgument(
            f"the PDF is damaged ({size} bytes): cannot read its document catalog or page "
            f"tree ({type(exc).__name__}: {exc}); repair it (e.g. qpdf) and retry",
            field=field,
        ) from exc
    return reader


def _where(exc: Exception) -> str:
    message = str(exc) or type(exc).__name__
    return message[:300]

"""Chunked stream helpers used by every file-carrying client call."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hoso.client.streams import chunks_of, drain, drain_to_file, header_then_chunks
from hoso.storage.v1 import storage_pb2 as pb


def test_chunks_of_every_source_kind(tmp_path: Path) -> None:
    data = bytes(range(256)) * 10
    path = tmp_path / "data.bin"
    path.write_bytes(data)
    for source in (data, path, io.BytesIO(data)):
        pieces = list(chunks_of(source, 1000))
        assert b"".join(pieces) == data
        assert [len(p) for p in pieces] == [1000, 1000, 560]
    assert list(chunks_of(b"", 10)) == []


@pytest.mark.asyncio
async def test_header_then_chunks_and_drain() -> None:
    header = pb.PutFileHeader(dossier="dossiers/H01", filename="đơn.pdf")
    seen: list[int] = []
    requests = [
        r
        async for r in header_then_chunks(
            pb.PutFileRequest, "header", header, b"x" * 2500, size=1000, progress=seen.append
        )
    ]
    assert requests[0].header.filename == "đơn.pdf"
    assert [len(r.chunk) for r in requests[1:]] == [1000, 1000, 500]
    assert sum(seen) == 2500

    async def responses():
        yield pb.GetFileResponse(metadata=pb.FileVersion(name="v1", size_bytes=3))
        yield pb.GetFileResponse(chunk=b"ab")
        yield pb.GetFileResponse(chunk=b"c")

    metadata, body = await drain(responses(), "metadata")
    assert metadata.name == "v1" and body == b"abc"
    sink = io.BytesIO()
    metadata = await drain_to_file(responses(), "metadata", sink)
    assert metadata.size_bytes == 3 and sink.getvalue() == b"abc"

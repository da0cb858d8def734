"""Header-then-chunks request streams: the shape every file-carrying RPC checks."""

from __future__ import annotations

import pytest
from hoso.common.errors import InvalidArgument
from hoso.common.streaming import MAX_CHUNK_BYTES, first_message, header_and_chunks
from hoso.storage.v1 import storage_pb2 as pb

pytestmark = pytest.mark.asyncio


async def _stream(*messages: pb.PutFileRequest):  # type: ignore[no-untyped-def]
    for message in messages:
        yield message


HEADER = pb.PutFileRequest(header=pb.PutFileHeader(filename="đơn.pdf"))


async def test_header_then_chunks() -> None:
    header, chunks = await header_and_chunks(
        _stream(HEADER, pb.PutFileRequest(chunk=b"ab"), pb.PutFileRequest(chunk=b"c"))
    )
    assert header.filename == "đơn.pdf"
    assert [c async for c in chunks] == [b"ab", b"c"]


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        ((), "stream is empty"),
        ((pb.PutFileRequest(chunk=b"x"),), "first message must carry the header"),
    ],
)
async def test_bad_start(messages: tuple[pb.PutFileRequest, ...], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message) as caught:
        await first_message(_stream(*messages))
    assert caught.value.field == "header"


@pytest.mark.parametrize(
    ("late", "message"),
    [
        (HEADER, "only chunks may follow"),
        (pb.PutFileRequest(chunk=b"x" * (MAX_CHUNK_BYTES + 1)), "at most 1 MiB"),
    ],
)
async def test_bad_chunks(late: pb.PutFileRequest, message: str) -> None:
    _, chunks = await header_and_chunks(_stream(HEADER, pb.PutFileRequest(chunk=b"ok"), late))
    with pytest.raises(InvalidArgument, match=message):
        _ = [c async for c in chunks]

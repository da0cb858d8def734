"""Reading header-then-chunks request streams, the shape of every file-carrying RPC.

The first message carries the header (``oneof payload { header …; bytes chunk … }``), then
come chunks of at most 1 MiB. These helpers refuse anything else with INVALID_ARGUMENT naming
the field, so each servicer does not re-check the shape by hand.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from hoso.common.errors import InvalidArgument

__all__ = ["MAX_CHUNK_BYTES", "first_message", "header_and_chunks"]

#: The largest chunk a request may carry (ARCHITECTURE: chunks of at most 1 MiB).
MAX_CHUNK_BYTES = 1024 * 1024


async def first_message(
    requests: AsyncIterator[Any], header_field: str = "header"
) -> tuple[Any, AsyncIterator[Any]]:
    """The stream's header and an iterator over the messages after it.

    Raises:
        InvalidArgument: the stream is empty, or its first message is not the header.
    """
    iterator = requests.__aiter__()
    try:
        first = await iterator.__anext__()
    except StopAsyncIteration:
        raise InvalidArgument(
            "the stream is empty; send the header first", field=header_field
        ) from None
    if first.WhichOneof("payload") != header_field:
        raise InvalidArgument("the first message must carry the header", field=header_field)
    return getattr(first, header_field), iterator


async def header_and_chunks(
    requests: AsyncIterator[Any], header_field: str = "header"
) -> tuple[Any, AsyncIterator[bytes]]:
    """Split a header-then-chunks request stream into the header and the chunks' bytes.

    Raises:
        InvalidArgument: empty stream, header missing or not first, a chunk over 1 MiB, or a
            second header (the latter two while the chunks are read).
    """
    header, rest = await first_message(requests, header_field)

    async def chunks() -> AsyncIterator[bytes]:
        async for message in rest:
            if message.WhichOneof("payload") != "chunk":
                raise InvalidArgument("only chunks may follow the header", field="chunk")
            if len(message.chunk) > MAX_CHUNK_BYTES:
                raise InvalidArgument(
                    f"a chunk carries {len(message.chunk)} bytes; send at most 1 MiB per chunk",
                    field="chunk",
                )
            yield message.chunk

    return header, chunks()

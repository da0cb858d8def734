"""The client channel sends the bearer token on every kind of call."""

from __future__ import annotations

import grpc
import pytest
from hoso.client.channel import token_interceptors


def test_one_interceptor_per_call_kind() -> None:
    interceptors = token_interceptors("t")
    kinds = [
        grpc.aio.UnaryUnaryClientInterceptor,
        grpc.aio.UnaryStreamClientInterceptor,
        grpc.aio.StreamUnaryClientInterceptor,
        grpc.aio.StreamStreamClientInterceptor,
    ]
    for kind in kinds:
        matching = [i for i in interceptors if isinstance(i, kind)]
        assert len(matching) == 1, kind


@pytest.mark.asyncio
async def test_streaming_calls_carry_the_token(start_server) -> None:
    from hoso.storage.v1 import storage_pb2, storage_pb2_grpc

    server = await start_server(["storage"])
    stub = storage_pb2_grpc.ArchiveServiceStub(server.channel("operator"))
    # GetFile is unary-stream, PutFile stream-unary: a NOT_FOUND / INVALID_ARGUMENT (not
    # UNAUTHENTICATED) proves the token arrived.
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for _ in stub.GetFile(storage_pb2.GetFileRequest(name="dossiers/none/files/x")):
            pass
    assert caught.value.code() != grpc.StatusCode.UNAUTHENTICATED, caught.value.details()

    async def requests():
        yield storage_pb2.PutFileRequest(header=storage_pb2.PutFileHeader(dossier="dossiers/none"))

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.PutFile(requests())
    assert caught.value.code() != grpc.StatusCode.UNAUTHENTICATED, caught.value.details()

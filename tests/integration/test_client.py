"""The Python client against real servers: typed calls, streaming, errors as gRPC statuses."""

from __future__ import annotations

import grpc
import pytest
from hoso.client import AuditClient, Clients

pytestmark = pytest.mark.asyncio


async def test_audit_client_verifies_the_chain_over_the_loopback_channel(start_server) -> None:
    handle = await start_server([])
    audit = AuditClient(handle.runtime.loopback_channel())
    check = await audit.verify_chain()
    assert check.ok, check.reason
    assert [event async for event in audit.events()] == []


async def test_loopback_token_is_per_process_and_refused_elsewhere(start_server) -> None:
    first = await start_server([])
    second = await start_server([])
    assert first.runtime.internal_token != second.runtime.internal_token
    # the first process's internal token means nothing to the second one
    from hoso.client.channel import ClientConfig, connect

    stranger = connect(ClientConfig(address=second.address, token=first.runtime.internal_token))
    try:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await AuditClient(stranger).verify_chain()
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        await stranger.close()


async def test_clients_bundle_reports_permission_denied_for_a_role_without_grant(
    start_server,
) -> None:
    handle = await start_server([])
    hoso = Clients(handle.channel("ocr-worker"))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await hoso.audit.verify_chain()
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "AuditService/VerifyAuditChain" in (caught.value.details() or "")

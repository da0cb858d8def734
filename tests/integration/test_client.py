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


async def test_archive_client_streams_a_file_in_and_out(start_server, tmp_path) -> None:
    from hoso.client import ArchiveClient
    from hoso.client.samples import scanned_application
    from hoso.storage.v1 import storage_pb2 as storage_pb

    handle = await start_server(["storage"])
    archive = ArchiveClient(handle.channel("backend"))
    dossier = storage_pb.Dossier(
        dossier_code="H26-CLIENT-1",
        procedure_code="1.001612",
        agency_code="000.00.01.H26",
        title="Đăng ký hộ kinh doanh",
    )
    dossier.receive_time.GetCurrentTime()
    created = await archive.create_dossier(dossier)
    scan = scanned_application(dpi=100)
    seen: list[int] = []
    header = storage_pb.PutFileHeader(
        dossier=created.name,
        filename="đơn.pdf",
        component_type=storage_pb.COMPONENT_TYPE_APPLICATION_FORM,
    )
    stored = await archive.put_file(header, scan, progress=seen.append)
    assert sum(seen) == len(scan) and stored.size_bytes == len(scan)
    # the same header (same request id) is a retry: the first version comes back
    again = await archive.put_file(header, scan)
    assert again.name == stored.name
    metadata, data = await archive.read_file(stored.name)
    assert data == scan and metadata.sha256 == stored.sha256
    target = tmp_path / "copy.pdf"
    await archive.get_file(stored.name, target)
    assert target.read_bytes() == scan
    assert [f.name for f in await archive.list_files(created.name)] == [stored.name]
    assert (await ArchiveClient(handle.channel("auditor")).verify_fixity(created.name)).ok
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await archive.put_file(
            storage_pb.PutFileHeader(
                dossier="dossiers/NO-SUCH",
                filename="a.pdf",
                component_type=storage_pb.COMPONENT_TYPE_OTHER,
            ),
            scan,
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND

"""The server bootstrap: health, reflection, authentication, audit chain, graceful shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from hoso.common.server import area_health_name
from hoso.common.v1 import audit_pb2, audit_pb2_grpc
from sqlalchemy import text

pytestmark = pytest.mark.asyncio

AREAS = ("signing", "storage", "ocr")


async def test_health_reports_each_service_serving(start_server) -> None:
    server = await start_server(AREAS)
    stub = health_pb2_grpc.HealthStub(server.channel(None))
    for name in ["", *(area_health_name(area) for area in AREAS)]:
        answer = await stub.Check(health_pb2.HealthCheckRequest(service=name))
        assert answer.status == health_pb2.HealthCheckResponse.SERVING, name
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Check(health_pb2.HealthCheckRequest(service="hoso.nothing"))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_reflection_lists_every_service(start_server) -> None:
    server = await start_server(AREAS)
    stub = reflection_pb2_grpc.ServerReflectionStub(server.channel(None))
    responses = stub.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")])
    )
    names = set()
    async for response in responses:
        names |= {service.name for service in response.list_services_response.service}
    assert {
        "hoso.signing.v1.TrustService",
        "hoso.signing.v1.SigningService",
        "hoso.signing.v1.VerificationService",
        "hoso.storage.v1.ArchiveService",
        "hoso.ocr.v1.OcrService",
        "hoso.common.v1.AuditService",
        "grpc.health.v1.Health",
    } <= names


async def test_no_credentials_is_unauthenticated(start_server) -> None:
    server = await start_server([])
    stub = audit_pb2_grpc.AuditServiceStub(server.channel(None))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.VerifyAuditChain(audit_pb2.VerifyAuditChainRequest())
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "Bearer" in caught.value.details()


async def test_wrong_permission_is_denied(start_server) -> None:
    server = await start_server([])
    for role in ("nobody", "dms", "ocr-worker"):
        stub = audit_pb2_grpc.AuditServiceStub(server.channel(role))
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.VerifyAuditChain(audit_pb2.VerifyAuditChainRequest())
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED, role
        assert "VerifyAuditChain" in caught.value.details()
    auditor = audit_pb2_grpc.AuditServiceStub(server.channel("auditor"))
    assert (await auditor.VerifyAuditChain(audit_pb2.VerifyAuditChainRequest())).ok


async def _append(server, count: int) -> None:  # type: ignore[no-untyped-def]
    async with server.runtime.session() as session:
        for index in range(count):
            await server.runtime.audit(
                session,
                action="test.appended",
                target=f"dossiers/{index}",
                details={"ghi chú": "hồ sơ"},
            )


async def test_audit_chain_detects_an_edited_event(start_server, database_url: str) -> None:
    server = await start_server([])
    await _append(server, 5)
    stub = audit_pb2_grpc.AuditServiceStub(server.channel("auditor"))
    verdict = await stub.VerifyAuditChain(audit_pb2.VerifyAuditChainRequest())
    assert verdict.ok and verdict.events_checked == 5 and verdict.last_sequence == 5
    async with server.runtime.engine.begin() as connection:
        await connection.execute(
            text("UPDATE common_audit_events SET actor = 'mallory' WHERE sequence = 3")
        )
    verdict = await stub.VerifyAuditChain(audit_pb2.VerifyAuditChainRequest())
    assert not verdict.ok
    assert verdict.first_broken_sequence == 3
    assert "digest" in verdict.reason


async def test_audit_chain_detects_a_deleted_event(start_server, database_url: str) -> None:
    server = await start_server([])
    await _append(server, 4)
    async with server.runtime.engine.begin() as connection:
        await connection.execute(text("DELETE FROM common_audit_events WHERE sequence = 2"))
    stub = audit_pb2_grpc.AuditServiceStub(server.channel("auditor"))
    verdict = await stub.VerifyAuditChain(audit_pb2.VerifyAuditChainRequest())
    assert not verdict.ok and verdict.first_broken_sequence == 2
    assert "missing" in verdict.reason


async def test_audit_listing_pages_and_filters(start_server) -> None:
    server = await start_server([])
    await _append(server, 5)
    stub = audit_pb2_grpc.AuditServiceStub(server.channel("auditor"))
    first = await stub.ListAuditEvents(audit_pb2.ListAuditEventsRequest(page_size=2))
    assert [e.sequence for e in first.audit_events] == [1, 2] and first.next_page_token
    second = await stub.ListAuditEvents(
        audit_pb2.ListAuditEventsRequest(page_size=10, page_token=first.next_page_token)
    )
    assert [e.sequence for e in second.audit_events] == [3, 4, 5] and not second.next_page_token
    assert second.audit_events[0].details["ghi chú"] == "hồ sơ"
    filtered = await stub.ListAuditEvents(
        audit_pb2.ListAuditEventsRequest(target_prefix="dossiers/4")
    )
    assert [e.target for e in filtered.audit_events] == ["dossiers/4"]


@pytest.mark.parametrize(
    ("request_message", "field"),
    [
        (audit_pb2.ListAuditEventsRequest(page_token="not-a-token"), "page_token"),
        (audit_pb2.ListAuditEventsRequest(page_size=-1), "page_size"),
        (audit_pb2.VerifyAuditChainRequest(start_sequence=5, end_sequence=2), "end_sequence"),
    ],
)
async def test_audit_bad_input(start_server, request_message: Any, field: str) -> None:
    server = await start_server([])
    stub = audit_pb2_grpc.AuditServiceStub(server.channel("operator"))
    method = (
        stub.ListAuditEvents
        if isinstance(request_message, audit_pb2.ListAuditEventsRequest)
        else stub.VerifyAuditChain
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await method(request_message)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in caught.value.details()


class _HoldInterceptor(grpc.aio.ServerInterceptor):
    """Holds one method's calls until released, to have a call in flight on shutdown."""

    def __init__(self, method: str) -> None:
        self.method = method
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def intercept_service(
        self, continuation: Callable[[Any], Awaitable[Any]], details: Any
    ) -> Any:
        if details.method == self.method:
            self.entered.set()
            await self.release.wait()
        return await continuation(details)


async def test_graceful_shutdown_drains_in_flight_calls(tmp_path) -> None:
    from hoso.client.channel import ClientConfig, connect
    from hoso.common.auth import Caller
    from hoso.common.server import start

    from tests.fixtures.grpc_server import make_test_settings

    hold = _HoldInterceptor("/hoso.common.v1.AuditService/VerifyAuditChain")
    settings = make_test_settings(tmp_path / "data", f"sqlite:///{tmp_path / 'c.sqlite3'}")
    running = await start(
        settings, [], extra_tokens={"t": Caller("op", frozenset({"operator"}))}, interceptors=[hold]
    )
    channel = connect(ClientConfig(address=f"127.0.0.1:{running.port}", token="t"))
    health = health_pb2_grpc.HealthStub(channel)
    in_flight = asyncio.ensure_future(
        audit_pb2_grpc.AuditServiceStub(channel).VerifyAuditChain(
            audit_pb2.VerifyAuditChainRequest()
        )
    )
    await asyncio.wait_for(hold.entered.wait(), 10)
    stopping = asyncio.ensure_future(running.stop(grace=30))
    # Health turns NOT_SERVING before the server stops accepting calls.
    for _ in range(100):
        await asyncio.sleep(0)
        if running.health._server_status.get("") == health_pb2.HealthCheckResponse.NOT_SERVING:
            break
    assert running.health._server_status.get("") == health_pb2.HealthCheckResponse.NOT_SERVING
    assert not stopping.done()
    hold.release.set()
    answer = await asyncio.wait_for(in_flight, 10)
    assert answer.ok
    await asyncio.wait_for(stopping, 30)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await health.Check(health_pb2.HealthCheckRequest(service=""), timeout=2)
    assert caught.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
    await channel.close()

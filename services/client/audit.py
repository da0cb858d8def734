"""A small typed client for the audit log (``hoso.common.v1.AuditService``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
from hoso.common.v1 import audit_pb2 as _pb
from hoso.common.v1 import audit_pb2_grpc as _pb_grpc

__all__ = ["AuditClient"]


class AuditClient:
    """Read the hash-chained audit log and check that it is unbroken."""

    def __init__(self, channel: grpc.aio.Channel, *, timeout: float | None = None) -> None:
        """Wrap ``channel``; ``timeout`` (seconds) applies to every call."""
        self._stub = _pb_grpc.AuditServiceStub(channel)
        self._timeout = timeout

    async def events(
        self, *, action: str = "", target_prefix: str = "", actor: str = ""
    ) -> AsyncIterator[_pb.AuditEvent]:
        """Every matching event, following page tokens."""
        request = _pb.ListAuditEventsRequest(
            action=action, target_prefix=target_prefix, actor=actor
        )
        while True:
            response = await self._stub.ListAuditEvents(request, timeout=self._timeout)
            for event in response.audit_events:
                yield event
            if not response.next_page_token:
                return
            request.page_token = response.next_page_token

    async def verify_chain(
        self, *, start_sequence: int = 0, end_sequence: int = 0
    ) -> _pb.VerifyAuditChainResponse:
        """Recompute the chain over a range (0 = from the start / to the end)."""
        request = _pb.VerifyAuditChainRequest(
            start_sequence=start_sequence, end_sequence=end_sequence
        )
        return await self._stub.VerifyAuditChain(request, timeout=self._timeout)

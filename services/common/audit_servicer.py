"""gRPC ``AuditService``: read the audit log and prove its chain is intact."""

from __future__ import annotations

import json

import grpc
from google.protobuf import struct_pb2
from hoso.common import audit, paging
from hoso.common.errors import InvalidArgument
from hoso.common.protoconv import from_timestamp, to_timestamp
from hoso.common.runtime import Runtime
from hoso.common.v1 import audit_pb2 as _pb
from hoso.common.v1 import audit_pb2_grpc as _pb_grpc
from sqlalchemy import select

__all__ = ["AuditServicer", "build"]


def _to_message(event: audit.AuditEvent) -> _pb.AuditEvent:
    details = struct_pb2.Struct()
    details.update(json.loads(event.details))
    return _pb.AuditEvent(
        name=f"auditEvents/{event.sequence}",
        sequence=event.sequence,
        event_time=to_timestamp(event.occurred_at),
        actor=event.actor,
        action=event.action,
        target=event.target,
        digest=event.subject_digest or "",
        details=details,
        previous_hash=event.previous_digest,
        hash=event.digest,
        traceparent=event.traceparent or "",
    )


class AuditServicer(_pb_grpc.AuditServiceServicer):
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    async def ListAuditEvents(
        self, request: _pb.ListAuditEventsRequest, context: grpc.aio.ServicerContext
    ) -> _pb.ListAuditEventsResponse:
        size = paging.page_size(request.page_size)
        position = paging.decode_token(request.page_token)
        query = select(audit.AuditEvent).order_by(audit.AuditEvent.sequence)
        if position is not None:
            query = query.where(audit.AuditEvent.sequence > int(position.get("after", 0)))
        if request.action:
            query = query.where(audit.AuditEvent.action == request.action)
        if request.actor:
            query = query.where(audit.AuditEvent.actor == request.actor)
        if request.target_prefix:
            query = query.where(
                audit.AuditEvent.target.startswith(request.target_prefix, autoescape=True)
            )
        start, end = from_timestamp(request.start_time), from_timestamp(request.end_time)
        if start and end and end < start:
            raise InvalidArgument("end_time is before start_time", field="end_time")
        if start:
            query = query.where(audit.AuditEvent.occurred_at >= start)
        if end:
            query = query.where(audit.AuditEvent.occurred_at < end)
        async with self._runtime.session() as session:
            rows = (await session.scalars(query.limit(size + 1))).all()
        token = paging.encode_token({"after": rows[size - 1].sequence}) if len(rows) > size else ""
        return _pb.ListAuditEventsResponse(
            audit_events=[_to_message(row) for row in rows[:size]], next_page_token=token
        )

    async def VerifyAuditChain(
        self, request: _pb.VerifyAuditChainRequest, context: grpc.aio.ServicerContext
    ) -> _pb.VerifyAuditChainResponse:
        if request.start_sequence < 0 or request.end_sequence < 0:
            raise InvalidArgument("sequences must not be negative", field="start_sequence")
        if request.end_sequence and request.end_sequence < max(request.start_sequence, 1):
            raise InvalidArgument("end_sequence is before start_sequence", field="end_sequence")
        async with self._runtime.session() as session:
            check = await audit.verify_chain(
                session, start=max(request.start_sequence, 1), end=request.end_sequence or None
            )
            last = (
                await session.execute(
                    select(audit.AuditEvent.sequence, audit.AuditEvent.digest)
                    .order_by(audit.AuditEvent.sequence.desc())
                    .limit(1)
                )
            ).first()
        return _pb.VerifyAuditChainResponse(
            ok=check.ok,
            events_checked=check.events_checked,
            first_broken_sequence=check.broken_sequence or 0,
            reason=check.reason,
            last_sequence=last.sequence if last else 0,
            last_hash=last.digest if last else "",
        )


async def build(runtime: Runtime) -> list:
    from hoso.common.server import Registration

    return [
        Registration(
            _pb.DESCRIPTOR.services_by_name["AuditService"].full_name,
            _pb_grpc.add_AuditServiceServicer_to_server,
            AuditServicer(runtime),
        )
    ]

"""The event outbox: events written in the transaction of their change, read by cursor.

On PostgreSQL, sequence numbers are handed out at insert but transactions commit in any
order, so a reader could see event 7 before event 6 commits and skip 6 forever. Writers
therefore take a transaction-scoped advisory lock before inserting: outbox inserts are
serialised until commit, which makes sequence order equal commit order. SQLite serialises
writers anyway.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from hoso.storage.models import OutboxEvent
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["EventNotifier", "append_event", "current_traceparent", "list_events"]

# An arbitrary constant naming the outbox lock ("hoso" in ASCII).
_OUTBOX_LOCK = 0x686F736F


def current_traceparent() -> str:
    """The W3C traceparent of the current span, or a fresh one when tracing is off."""
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


async def append_event(
    session: AsyncSession,
    *,
    type: str,
    dossier_id: str | None,
    dossier_code: str = "",
    file_id: str | None = None,
    version_id: str | None = None,
    payload: dict[str, Any] | None = None,
) -> OutboxEvent:
    """Add an event to the outbox inside the caller's transaction."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _OUTBOX_LOCK})
    event = OutboxEvent(
        event_id=str(uuid.uuid4()),
        type=type,
        dossier_id=dossier_id,
        file_id=file_id,
        version_id=version_id,
        payload=json.dumps(
            {**(payload or {}), "dossier_code": dossier_code}, ensure_ascii=False, sort_keys=True
        ),
        traceparent=current_traceparent(),
        occurred_at=datetime.now(UTC),
    )
    session.add(event)
    await session.flush()
    return event


async def list_events(
    session: AsyncSession, *, after: int, limit: int, types: Sequence[str] = ()
) -> list[OutboxEvent]:
    """Events with ``sequence > after``, oldest first."""
    stmt = select(OutboxEvent).where(OutboxEvent.sequence > after)
    if types:
        stmt = stmt.where(OutboxEvent.type.in_(list(types)))
    stmt = stmt.order_by(OutboxEvent.sequence).limit(limit)
    return list((await session.scalars(stmt)).all())


class EventNotifier:
    """Wakes in-process watchers after a commit; watchers also poll (other replicas write)."""

    def __init__(self) -> None:
        """Create the notifier."""
        self._generation = 0
        self._condition = asyncio.Condition()

    async def notify(self) -> None:
        """Signal that new events were committed."""
        async with self._condition:
            self._generation += 1
            self._condition.notify_all()

    @property
    def generation(self) -> int:
        """Counter bumped by every notify (read before querying to not miss a wake-up)."""
        return self._generation

    async def wait(self, seen_generation: int, timeout: float) -> None:
        """Return when notified after ``seen_generation`` or after ``timeout`` seconds."""
        async with self._condition:
            if self._generation != seen_generation:
                return
            try:
                await asyncio.wait_for(self._condition.wait(), timeout)
            except TimeoutError:
                return

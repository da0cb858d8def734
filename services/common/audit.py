"""The audit log: append-only events chained by SHA-256, stored in the catalog.

Each event's digest covers its content and the previous event's digest, so editing,
deleting or reordering any stored event breaks the chain from that point on. Appends are
serialised (a PostgreSQL transaction-level advisory lock; SQLite's single writer) so the
sequence has no gaps.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hoso.common.db import Base, UTCDateTime
from sqlalchemy import BigInteger, String, Text, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

__all__ = ["GENESIS", "AuditEvent", "ChainCheck", "append_event", "event_digest", "verify_chain"]

GENESIS = "0" * 64
_ADVISORY_LOCK_KEY = 0x686F736F  # "hoso"


class AuditEvent(Base):
    """One audited action. Rows are never updated or deleted by hoso."""

    __tablename__ = "common_audit_events"

    sequence: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(200), index=True)
    target: Mapped[str] = mapped_column(String(500), index=True)
    subject_digest: Mapped[str | None] = mapped_column(String(128))
    details: Mapped[str] = mapped_column(Text)
    previous_digest: Mapped[str] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    #: W3C traceparent of the request that caused the event (not covered by the digest).
    traceparent: Mapped[str | None] = mapped_column(String(64))


def event_digest(
    *,
    sequence: int,
    occurred_at: datetime,
    actor: str,
    action: str,
    target: str,
    subject_digest: str | None,
    details: str,
    previous_digest: str,
) -> str:
    """SHA-256 over a canonical JSON of the event and its predecessor's digest."""
    canonical = json.dumps(
        {
            "sequence": sequence,
            "occurred_at": occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
            "actor": actor,
            "action": action,
            "target": target,
            "subject_digest": subject_digest,
            "details": details,
            "previous": previous_digest,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


async def append_event(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    target: str,
    subject_digest: str | None = None,
    details: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    """Append an event in the caller's transaction (it commits or rolls back with it)."""
    dialect = session.bind.dialect.name if session.bind is not None else ""
    if dialect == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY}
        )
    elif dialect == "sqlite":
        # The sqlite3 driver opens a transaction only at the first write, so the SELECT below
        # would read outside it and two appenders could take the same sequence (UNIQUE fails
        # under concurrent signing). An UPDATE that changes nothing takes SQLite's write lock
        # first, which serialises appenders as the advisory lock does on PostgreSQL.
        await session.execute(text("UPDATE common_audit_events SET sequence = sequence WHERE 0"))
    last = (
        await session.execute(
            select(AuditEvent.sequence, AuditEvent.digest)
            .order_by(AuditEvent.sequence.desc())
            .limit(1)
        )
    ).first()
    sequence = (int(last.sequence) + 1) if last else 1
    previous = last.digest if last else GENESIS
    occurred_at = (now or datetime.now(UTC)).astimezone(UTC)
    # Microsecond precision is what both backends store; hash what will be read back.
    details_text = json.dumps(dict(details or {}), sort_keys=True, ensure_ascii=False, default=str)
    # The row's columns are exactly what its digest covers (plus the digest itself).
    fields: dict[str, Any] = {
        "sequence": sequence,
        "occurred_at": occurred_at,
        "actor": actor,
        "action": action,
        "target": target,
        "subject_digest": subject_digest,
        "details": details_text,
        "previous_digest": previous,
    }
    event = AuditEvent(**fields, digest=event_digest(**fields))
    event.traceparent = _traceparent()
    session.add(event)
    await session.flush()
    return event


def _traceparent() -> str | None:
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


@dataclass(frozen=True)
class ChainCheck:
    """Outcome of :func:`verify_chain`."""

    ok: bool
    events_checked: int
    broken_sequence: int | None = None
    reason: str = ""


async def verify_chain(
    session: AsyncSession, *, start: int = 1, end: int | None = None, batch: int = 1000
) -> ChainCheck:
    """Recompute digests from ``start`` to ``end`` (inclusive) in order.

    Reports the first edit, gap or reordering. Starting after 1 trusts the stored digest of
    event ``start - 1`` as the anchor.
    """
    previous = GENESIS
    if start > 1:
        anchor = await session.get(AuditEvent, start - 1)
        if anchor is None:
            return ChainCheck(False, 0, start - 1, f"event {start - 1} is missing")
        previous = anchor.digest
    expected_sequence = start
    checked = 0
    after = start - 1
    while True:
        if end is not None and after >= end:
            return ChainCheck(ok=True, events_checked=checked)
        query = select(AuditEvent).where(AuditEvent.sequence > after)
        if end is not None:
            query = query.where(AuditEvent.sequence <= end)
        rows = (await session.scalars(query.order_by(AuditEvent.sequence).limit(batch))).all()
        if not rows:
            return ChainCheck(ok=True, events_checked=checked)
        for row in rows:
            sequence = int(row.sequence)
            if sequence != expected_sequence:
                return ChainCheck(
                    False, checked, expected_sequence, f"event {expected_sequence} is missing"
                )
            if row.previous_digest != previous:
                return ChainCheck(False, checked, sequence, "link to the previous event is broken")
            recomputed = event_digest(
                sequence=sequence,
                occurred_at=row.occurred_at,
                actor=row.actor,
                action=row.action,
                target=row.target,
                subject_digest=row.subject_digest,
                details=row.details,
                previous_digest=row.previous_digest,
            )
            if recomputed != row.digest:
                return ChainCheck(
                    False, checked, sequence, "event content does not match its digest"
                )
            previous = row.digest
            expected_sequence += 1
            checked += 1
            after = sequence

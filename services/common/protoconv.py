"""Conversions between protobuf well-known types and Python values."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, overload

from google.protobuf import timestamp_pb2

__all__ = ["from_timestamp", "optional_time", "to_timestamp"]


@overload
def to_timestamp(value: datetime) -> timestamp_pb2.Timestamp: ...
@overload
def to_timestamp(value: None) -> None: ...
@overload
def to_timestamp(value: datetime | None) -> timestamp_pb2.Timestamp | None: ...
def to_timestamp(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    """A ``Timestamp`` for an aware datetime (``None`` stays ``None``)."""
    if value is None:
        return None
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value.astimezone(UTC))
    return stamp


def from_timestamp(stamp: timestamp_pb2.Timestamp | None) -> datetime | None:
    """An aware UTC datetime for a set ``Timestamp``; ``None`` when unset (all zero)."""
    if stamp is None or (stamp.seconds == 0 and stamp.nanos == 0):
        return None
    return stamp.ToDatetime(tzinfo=UTC)


def optional_time(message: Any, field: str) -> datetime | None:
    """The aware UTC datetime of ``message``'s Timestamp ``field``; ``None`` when it is not set.

    Args:
        message: A protobuf message with a ``google.protobuf.Timestamp`` field ``field``.
        field: The field's name.
    """
    return from_timestamp(getattr(message, field)) if message.HasField(field) else None

"""Catalog rows to protobuf messages of the archive API."""

from __future__ import annotations

import json

from hoso.common.protoconv import to_timestamp
from hoso.storage.events import OutboxEvent
from hoso.storage.models import Dossier
from hoso.storage.names import (
    COMPONENT_TYPES,
    RENDITION_KINDS,
    RETENTION_CLASSES,
    STATUSES,
    dossier_name,
    version_name,
)
from hoso.storage.repository import Row
from hoso.storage.v1 import storage_pb2 as _pb

__all__ = ["dossier_message", "enum_value", "event_message", "version_message"]

_ENCRYPTION = {"none": 1, "sse-c": 2, "sse-kms": 3, "aes-256-gcm": 4}
_MODES = {"GOVERNANCE": 1, "COMPLIANCE": 2}
_EVENT_TYPES = {
    "file.archived": 1,
    "file.deleted": 2,
    "dossier.created": 3,
    "dossier.updated": 4,
    "retention.changed": 5,
    "fixity.failed": 6,
}
EVENT_TYPE_NAMES = {v: k for k, v in _EVENT_TYPES.items()}


def enum_value(mapping: dict[int, str], value: str | None) -> int:
    """The proto enum number of a catalog value (0 when unset)."""
    for number, name in mapping.items():
        if name == value:
            return number
    return 0


def dossier_message(dossier: Dossier, file_count: int) -> _pb.Dossier:
    """A Dossier message."""
    message = _pb.Dossier(
        name=dossier_name(dossier.code),
        dossier_code=dossier.code,
        procedure_code=dossier.procedure_code,
        agency_code=dossier.agency,
        applicant_id=dossier.applicant_id,
        title=dossier.title,
        status=enum_value(STATUSES, dossier.status),  # type: ignore[arg-type]
        retention_class=enum_value(RETENTION_CLASSES, dossier.retention_class),  # type: ignore[arg-type]
        legal_hold=dossier.legal_hold,
        labels=json.loads(dossier.labels or "{}"),
        file_count=file_count,
    )
    for field, value in (
        ("receive_time", dossier.received_at),
        ("due_time", dossier.due_at),
        ("complete_time", dossier.completed_at),
        ("create_time", dossier.created_at),
        ("update_time", dossier.updated_at),
    ):
        stamp = to_timestamp(value)
        if stamp is not None:
            getattr(message, field).CopyFrom(stamp)
    return message


def version_message(row: Row, source_name: str = "") -> _pb.FileVersion:
    """A FileVersion message."""
    v, f, d = row.version, row.file, row.dossier
    message = _pb.FileVersion(
        name=version_name(d.code, f.id, v.number),
        dossier=dossier_name(d.code),
        file_id=f.id,
        version=v.number,
        filename=v.filename,
        component_type=enum_value(COMPONENT_TYPES, f.component_type),  # type: ignore[arg-type]
        ordinal=f.ordinal,
        media_type=v.media_type,
        size_bytes=v.size,
        sha256=v.sha256,
        retention_class=enum_value(RETENTION_CLASSES, v.retention_class),  # type: ignore[arg-type]
        retention_mode=_MODES.get(v.retention_mode or "", 0),  # type: ignore[arg-type]
        legal_hold=v.legal_hold or d.legal_hold,
        encryption=_ENCRYPTION.get(v.encryption, 0),  # type: ignore[arg-type]
        derived_from=source_name,
        rendition_kind=enum_value(RENDITION_KINDS, v.rendition_kind),  # type: ignore[arg-type]
        labels=json.loads(v.labels or "{}"),
        signed=v.signed,
    )
    message.create_time.CopyFrom(to_timestamp(v.created_at))
    if v.retain_until is not None and not v.retain_permanently:
        message.retain_until.CopyFrom(to_timestamp(v.retain_until))
    return message


def event_message(event: OutboxEvent) -> _pb.Event:
    """An Event message (payload fields flattened)."""
    payload = json.loads(event.payload or "{}")
    dossier_code = payload.get("dossier_code", "")
    message = _pb.Event(
        sequence=event.sequence,
        type=_EVENT_TYPES.get(event.type, 0),  # type: ignore[arg-type]
        dossier=dossier_name(dossier_code) if dossier_code else "",
        file_version=payload.get("name", "") if event.version_id else "",
        media_type=payload.get("media_type", ""),
        sha256=payload.get("sha256", ""),
        size_bytes=int(payload.get("size", 0)),
        component_type=enum_value(COMPONENT_TYPES, payload.get("component_type")),  # type: ignore[arg-type]
        rendition_kind=enum_value(RENDITION_KINDS, payload.get("rendition_kind")),  # type: ignore[arg-type]
        traceparent=event.traceparent or "",
    )
    message.event_time.CopyFrom(to_timestamp(event.occurred_at))
    return message

"""Reading archive requests: validated, NFC-normalised values out of request messages.

Every error names the request field, so the servicer only calls these and the core.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from hoso.common.errors import InvalidArgument
from hoso.common.protoconv import optional_time
from hoso.storage.names import RETENTION_CLASSES, STATUSES, check_dossier_code, nfc
from hoso.storage.service import DossierFields

__all__ = [
    "RETENTION_MODES",
    "dossier_changes",
    "dossier_fields",
    "dossier_status",
    "enum_name",
    "labels_from",
]

RETENTION_MODES = {1: "GOVERNANCE", 2: "COMPLIANCE"}
"""Proto ``RetentionMode`` numbers and the object-lock modes they name."""
# UpdateDossier mask paths: the catalog column each sets, and how its value is read.
_MASK_FIELDS = {
    "procedure_code": "procedure_code",
    "agency_code": "agency",
    "applicant_id": "applicant_id",
    "title": "title",
    "due_time": "due_at",
    "complete_time": "completed_at",
    "status": "status",
    "labels": "labels",
}
_MASK_VALUES: dict[str, Callable[[Any], Any]] = {
    "procedure_code": lambda d: nfc(d.procedure_code),
    "agency_code": lambda d: nfc(d.agency_code),
    "applicant_id": lambda d: nfc(d.applicant_id),
    "title": lambda d: nfc(d.title),
    "due_time": lambda d: optional_time(d, "due_time"),
    "complete_time": lambda d: optional_time(d, "complete_time"),
    "status": lambda d: dossier_status(d.status, update=True),
    "labels": lambda d: labels_from(d.labels),
}


def dossier_status(value: int, *, update: bool = False) -> str:
    """The catalog status of a proto ``DossierStatus`` ("received" when unset on create)."""
    if value == 0:
        if update:
            raise InvalidArgument(
                "dossier.status must be set when updating it", field="dossier.status"
            )
        return "received"
    if value not in STATUSES:
        raise InvalidArgument(f"dossier.status {value} is unknown", field="dossier.status")
    return STATUSES[value]


def labels_from(labels: Any) -> dict[str, str]:
    """Labels with checked keys and NFC values."""
    out = {}
    for key, value in labels.items():
        if not re.match(r"^[a-z0-9_-]{1,63}$", key):
            raise InvalidArgument(f"label key {key!r} must be 1-63 of [a-z0-9_-]", field="labels")
        out[key] = nfc(value)
    return out


def enum_name(
    mapping: dict[int, str], value: int, field: str, *, required: bool = False
) -> str | None:
    """The catalog name of a proto enum number (``None`` when unset and not ``required``)."""
    if value == 0:
        if required:
            raise InvalidArgument(f"{field} must be set", field=field)
        return None
    if value not in mapping:
        raise InvalidArgument(f"{field} has an unknown value {value}", field=field)
    return mapping[value]


def dossier_fields(d: Any) -> DossierFields:
    """The values of a new dossier (``CreateDossierRequest.dossier``)."""
    code = check_dossier_code(d.dossier_code)
    for field, value in (("procedure_code", d.procedure_code), ("agency_code", d.agency_code)):
        if not value.strip():
            raise InvalidArgument(f"dossier.{field} is required", field=f"dossier.{field}")
    received = optional_time(d, "receive_time")
    if received is None:
        raise InvalidArgument("dossier.receive_time is required", field="dossier.receive_time")
    due = optional_time(d, "due_time")
    if due is not None and due < received:
        raise InvalidArgument(
            "dossier.due_time must not be before receive_time", field="dossier.due_time"
        )
    return DossierFields(
        code=code,
        procedure_code=nfc(d.procedure_code),
        agency=nfc(d.agency_code),
        applicant_id=nfc(d.applicant_id),
        title=nfc(d.title),
        received_at=received,
        due_at=due,
        completed_at=optional_time(d, "complete_time"),
        status=dossier_status(d.status),
        retention_class=enum_name(RETENTION_CLASSES, d.retention_class, "dossier.retention_class"),
        legal_hold=d.legal_hold,
        labels=labels_from(d.labels),
    )


def dossier_changes(d: Any, paths: list[str]) -> dict[str, Any]:
    """The catalog columns and new values an ``UpdateDossierRequest`` sets."""
    if not paths:
        raise InvalidArgument("update_mask must name at least one field", field="update_mask")
    changes = {}
    for path in paths:
        if path not in _MASK_FIELDS:
            raise InvalidArgument(
                f"update_mask path {path!r} cannot be updated; allowed: {', '.join(sorted(_MASK_FIELDS))}",
                field="update_mask",
            )
        changes[_MASK_FIELDS[path]] = _MASK_VALUES[path](d)
    return changes

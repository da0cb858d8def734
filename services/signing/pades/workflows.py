"""Signing workflows: approval, certification (DocMDP), sequential signatures, field locks.

Checks run before any byte is written, so a refused request leaves nothing behind.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from hoso.common.errors import FailedPrecondition, InvalidArgument
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import (
    FieldMDPAction,
    FieldMDPSpec,
    MDPPerm,
    enumerate_sig_fields,
)
from pyhanko.sign.validation import read_certification_data

__all__ = ["FieldLock", "LockAction", "check_preconditions", "docmdp_permission", "field_mdp"]


class LockAction(enum.StrEnum):
    """Which form fields a FieldMDP lock freezes once the signature is applied."""

    ALL = "all"
    INCLUDE = "include"
    EXCLUDE = "exclude"


@dataclass(frozen=True)
class FieldLock:
    """A FieldMDP lock on the new signature field.

    Attributes:
        action: lock all fields, only ``fields``, or all but ``fields``.
        fields: fully qualified field names for ``include``/``exclude``.
    """

    action: LockAction = LockAction.ALL
    fields: tuple[str, ...] = ()


def docmdp_permission(level: int | None) -> MDPPerm | None:
    """DocMDP ``P`` (1 no changes, 2 form filling and signing, 3 also annotations).

    Raises:
        InvalidArgument: any other value.
    """
    if level in (None, 0):
        return None
    try:
        return MDPPerm(level)
    except ValueError:
        raise InvalidArgument(
            f"certify must be 1, 2 or 3 (DocMDP P), not {level}", field="certify"
        ) from None


def field_mdp(lock: FieldLock | None) -> FieldMDPSpec | None:
    """The pyHanko FieldMDP spec for ``lock``."""
    if lock is None:
        return None
    if lock.action is not LockAction.ALL and not lock.fields:
        raise InvalidArgument(f"lock {lock.action.value} needs field names", field="lock.fields")
    action = {
        LockAction.ALL: FieldMDPAction.ALL,
        LockAction.INCLUDE: FieldMDPAction.INCLUDE,
        LockAction.EXCLUDE: FieldMDPAction.EXCLUDE,
    }[lock.action]
    return FieldMDPSpec(action=action, fields=list(lock.fields) if lock.fields else None)


def _is_locked_by_earlier(reader: PdfFileReader, field_name: str) -> bool:
    """Whether a filled signature's FieldMDP lock covers ``field_name``."""
    for _, value, field_ref in enumerate_sig_fields(reader, filled_status=True):
        lock = field_ref.get_object().get("/Lock")
        if lock is None or value is None:
            continue
        spec = FieldMDPSpec.from_pdf_object(lock.get_object())
        if spec.is_locked(field_name):
            return True
    return False


def check_preconditions(
    reader: PdfFileReader,
    *,
    field_name: str | None,
    creates_field: bool,
    certify: MDPPerm | None,
    adds_page_content: bool,
) -> bool:
    """Refuse signing requests that would fail or break earlier signatures.

    Returns:
        Whether the document already carries signatures.

    Raises:
        FailedPrecondition: the document is certified with DocMDP P=1; a certification was
            asked for on an already signed document; the field is already signed or locked;
            page content would be added to a signed document.
        InvalidArgument: the named field does not exist and no placement asks to create it.
    """
    filled = list(enumerate_sig_fields(reader, filled_status=True))
    signed = bool(filled)
    certification = read_certification_data(reader)
    if certification is not None and certification.permission == MDPPerm.NO_CHANGES:
        raise FailedPrecondition(
            "the document is certified with DocMDP P=1 (no changes allowed); any further "
            "signature would invalidate the certification"
        )
    if certify is not None and signed:
        raise FailedPrecondition(
            "a certification signature must be the first signature of a document; sign "
            "without certify, or certify the unsigned original"
        )
    if adds_page_content and signed:
        raise FailedPrecondition(
            "a QR code or page stamp can only be added before the first signature (it would "
            "change signed page content); add it when the document is first signed"
        )
    if field_name:
        if any(name == field_name for name, _, _ in filled):
            raise FailedPrecondition(
                f"signature field {field_name!r} is already signed; use another field name",
                field="field_name",
            )
        exists = any(True for _ in enumerate_sig_fields(reader, with_name=field_name))
        if not exists and not creates_field:
            names = [name for name, _, _ in enumerate_sig_fields(reader, filled_status=False)]
            hint = f" (empty fields: {', '.join(names)})" if names else ""
            raise InvalidArgument(
                f"signature field {field_name!r} does not exist{hint}; give a placement to "
                "create it",
                field="field_name",
            )
        if exists and _is_locked_by_earlier(reader, field_name):
            raise FailedPrecondition(
                f"signature field {field_name!r} is locked by an earlier signature (FieldMDP)",
                field="field_name",
            )
    return signed

"""Translating the gRPC ``SignatureOptions`` into the engine's :class:`SignRequest`.

Field names in errors are the request's dotted paths, so a caller knows what to fix.
"""

from __future__ import annotations

import unicodedata

from hoso.common.errors import HosoError, InvalidArgument
from hoso.signing.pades.appearance import Appearance, AppearanceKind
from hoso.signing.pades.engine import SignRequest
from hoso.signing.pades.levels import SignatureLevel
from hoso.signing.pades.placement import Placement
from hoso.signing.pades.qr import QrPayload
from hoso.signing.pades.workflows import FieldLock, LockAction
from hoso.signing.v1 import signing_pb2 as _pb
from hoso.signing.v1 import trust_pb2 as _trust_pb

__all__ = [
    "LEVEL_FROM_PROTO",
    "LEVEL_TO_PROTO",
    "digest_name",
    "rename_field",
    "sign_request_from_options",
]

LEVEL_FROM_PROTO: dict[int, SignatureLevel] = {
    _pb.PADES_LEVEL_B_B: SignatureLevel.B_B,
    _pb.PADES_LEVEL_B_T: SignatureLevel.B_T,
    _pb.PADES_LEVEL_B_LT: SignatureLevel.B_LT,
    _pb.PADES_LEVEL_B_LTA: SignatureLevel.B_LTA,
}
LEVEL_TO_PROTO: dict[SignatureLevel, int] = {v: k for k, v in LEVEL_FROM_PROTO.items()}

_DIGESTS = {
    _trust_pb.DIGEST_ALGORITHM_UNSPECIFIED: "sha256",
    _trust_pb.DIGEST_ALGORITHM_SHA256: "sha256",
    _trust_pb.DIGEST_ALGORITHM_SHA384: "sha384",
    _trust_pb.DIGEST_ALGORITHM_SHA512: "sha512",
}
_LOCKS = {
    _pb.FIELD_LOCK_ACTION_ALL: LockAction.ALL,
    _pb.FIELD_LOCK_ACTION_INCLUDE: LockAction.INCLUDE,
    _pb.FIELD_LOCK_ACTION_EXCLUDE: LockAction.EXCLUDE,
}
_APPEARANCES = {
    _pb.APPEARANCE_KIND_UNSPECIFIED: AppearanceKind.INVISIBLE,
    _pb.APPEARANCE_KIND_INVISIBLE: AppearanceKind.INVISIBLE,
    _pb.APPEARANCE_KIND_OFFICIAL: AppearanceKind.SIGNATURE_IMAGE,
    _pb.APPEARANCE_KIND_AGENCY_SEAL: AppearanceKind.SEAL,
    _pb.APPEARANCE_KIND_COPY_STAMP: AppearanceKind.COPY_TEXT,
}
#: Engine field names -> request paths (relative to the options message).
_ENGINE_FIELDS = {
    "field_name": "placement.existing_field",
    "placement": "placement",
    "placement.rect": "placement.new_field.rect",
    "placement.page": "placement.new_field.page",
    "placement.anchor_text": "placement.text_anchor.text",
    "appearance": "appearance",
    "appearance.image_png": "appearance.signature_image_png",
    "certify": "doc_mdp_permission",
    "lock.fields": "field_lock.fields",
    "level": "level",
    "qr": "qr_code",
}


def digest_name(value: int, field: str) -> str:
    """``sha256``/``sha384``/``sha512`` for a ``DigestAlgorithm`` enum value."""
    try:
        return _DIGESTS[value]
    except KeyError:
        raise InvalidArgument(f"unknown digest algorithm {value}", field=field) from None


def rename_field(error: HosoError, prefix: str) -> HosoError:
    """Rewrite an engine error's field into the request's path under ``prefix``."""
    if error.field in _ENGINE_FIELDS:
        error.field = f"{prefix}.{_ENGINE_FIELDS[error.field]}"
    elif error.field == "credential_id":
        error.field = "header.credential"
    elif error.field == "document":
        error.field = "chunk"
    return error


def _nfc(text: str) -> str | None:
    return unicodedata.normalize("NFC", text) if text else None


def _level(value: int, default: SignatureLevel, field: str) -> SignatureLevel:
    if value == _pb.PADES_LEVEL_UNSPECIFIED:
        return default
    try:
        return LEVEL_FROM_PROTO[value]
    except KeyError:
        raise InvalidArgument(f"unknown PAdES level {value}", field=field) from None


def _placement(options: _pb.SignatureOptions, path: str) -> tuple[str | None, Placement | None]:
    target = options.placement.WhichOneof("target")
    if target == "existing_field":
        name = _nfc(options.placement.existing_field)
        if not name:
            raise InvalidArgument("existing_field is empty", field=f"{path}.existing_field")
        return name, None
    if target == "new_field":
        new = options.placement.new_field
        rect = new.rect
        if not (rect.x2 > rect.x1 and rect.y2 > rect.y1):
            raise InvalidArgument(
                "rect needs x2 > x1 and y2 > y1 (points from the lower-left corner)",
                field=f"{path}.new_field.rect",
            )
        if new.page < 1:
            raise InvalidArgument("page is 1-based", field=f"{path}.new_field.page")
        placement = Placement(page=new.page, rect=(rect.x1, rect.y1, rect.x2, rect.y2))
        return _nfc(new.field_name), placement
    if target == "text_anchor":
        anchor = options.placement.text_anchor
        if not anchor.text:
            raise InvalidArgument("text is empty", field=f"{path}.text_anchor.text")
        if anchor.width <= 0 or anchor.height <= 0:
            raise InvalidArgument(
                "width and height must be positive", field=f"{path}.text_anchor.width"
            )
        placement = Placement(
            anchor_text=_nfc(anchor.text),
            offset_x=anchor.offset_x,
            offset_y=anchor.offset_y,
            width=anchor.width,
            height=anchor.height,
            occurrence=anchor.occurrence,
        )
        return None, placement
    return None, None


def _appearance(options: _pb.SignatureOptions, path: str) -> Appearance:
    source = options.appearance
    kind = _APPEARANCES.get(source.kind)
    if kind is None:
        raise InvalidArgument(f"unknown appearance kind {source.kind}", field=f"{path}.kind")
    image: bytes | None = None
    if kind is AppearanceKind.SIGNATURE_IMAGE:
        image = source.signature_image_png or None
        if image is None:
            raise InvalidArgument(
                "an OFFICIAL appearance needs signature_image_png",
                field=f"{path}.signature_image_png",
            )
    if kind is AppearanceKind.SEAL:
        image = source.seal_image_png or None
        if image is None:
            raise InvalidArgument(
                "an AGENCY_SEAL appearance needs seal_image_png", field=f"{path}.seal_image_png"
            )
    if kind is AppearanceKind.COPY_TEXT and not source.document_number:
        raise InvalidArgument(
            "a COPY_STAMP appearance needs document_number", field=f"{path}.document_number"
        )
    return Appearance(
        kind=kind,
        image_png=image,
        document_number=_nfc(source.document_number),
        copy_type=_nfc(source.copy_type),
        seal_diameter_mm=source.seal_diameter_mm or 36.0,
        title=_nfc(source.title),
        signer_name=_nfc(source.signer_name),
    )


def _qr(options: _pb.SignatureOptions, path: str, verification_url: str) -> QrPayload | None:
    qr = options.qr_code
    if not qr.enabled:
        return None
    if not qr.dossier_code:
        raise InvalidArgument(
            "dossier_code is required with a QR code", field=f"{path}.dossier_code"
        )
    extra: dict[str, float] = {}
    if qr.HasField("rect"):
        size = min(qr.rect.x2 - qr.rect.x1, qr.rect.y2 - qr.rect.y1)
        if size <= 0:
            raise InvalidArgument("rect must have a positive size", field=f"{path}.rect")
        extra = {"x": qr.rect.x1, "y": qr.rect.y1, "size": size}
    return QrPayload(
        dossier_code=_nfc(qr.dossier_code) or "",
        procedure_code=_nfc(qr.procedure_code) or "",
        applicant_id=_nfc(qr.applicant_id) or "",
        document_name=_nfc(qr.document_name) or "",
        verification_url=qr.verification_url or verification_url,
        page=qr.page,
        **extra,  # type: ignore[arg-type]
    )


def sign_request_from_options(
    options: _pb.SignatureOptions,
    *,
    default_level: SignatureLevel,
    verification_url: str,
    path: str = "header.options",
) -> SignRequest:
    """The engine request for ``options``.

    Raises:
        InvalidArgument: naming the option at fault (e.g. ``header.options.placement``).
    """
    level = _level(options.level, default_level, f"{path}.level")
    certify: int | None = None
    if options.kind == _pb.SIGNATURE_KIND_CERTIFICATION:
        certify = options.doc_mdp_permission or _pb.DOC_MDP_PERMISSION_FORM_FILLING
    elif options.doc_mdp_permission != _pb.DOC_MDP_PERMISSION_UNSPECIFIED:
        raise InvalidArgument(
            "doc_mdp_permission applies to CERTIFICATION signatures only",
            field=f"{path}.doc_mdp_permission",
        )
    lock: FieldLock | None = None
    if options.HasField("field_lock"):
        action = _LOCKS.get(options.field_lock.action)
        if action is None:
            raise InvalidArgument(
                "field_lock.action must be ALL, INCLUDE or EXCLUDE",
                field=f"{path}.field_lock.action",
            )
        lock = FieldLock(action=action, fields=tuple(options.field_lock.fields))
    field_name, placement = _placement(options, f"{path}.placement")
    appearance = _appearance(options, f"{path}.appearance")
    return SignRequest(
        level=level,
        field_name=field_name,
        create_field=placement is not None,
        placement=placement,
        appearance=appearance,
        certify=certify,
        lock=lock,
        reason=_nfc(options.reason),
        location=_nfc(options.location),
        contact=_nfc(options.contact_info),
        qr=_qr(options, f"{path}.qr_code", verification_url),
        digest_algorithm=digest_name(options.digest_algorithm, f"{path}.digest_algorithm"),
    )

"""Subject names: validated, NFC-normalised Vietnamese text turned into X.500 names."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, fields

from cryptography.x509 import Name, NameAttribute
from cryptography.x509.oid import NameOID
from hoso.common.errors import InvalidArgument

__all__ = ["SubjectName", "name_to_subject", "nfc"]

# RFC 5280 upper bounds (ub-common-name etc.), counted in characters.
_LIMITS = {
    "common_name": 64,
    "organization": 64,
    "organizational_unit": 64,
    "locality": 128,
    "province": 128,
    "email": 255,
}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CCCD = re.compile(r"^\d{12}$")
_TAX_CODE = re.compile(r"^\d{10}(-\d{3})?$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def nfc(text: str) -> str:
    """NFC-normalise and strip text (Vietnamese arrives both composed and decomposed)."""
    return unicodedata.normalize("NFC", text).strip()


@dataclass(frozen=True)
class SubjectName:
    """A subject as the API gives it; empty strings mean "absent".

    Build it with :meth:`create`, which validates and normalises every field.
    """

    common_name: str
    organization: str = ""
    organizational_unit: str = ""
    locality: str = ""
    province: str = ""
    country: str = "VN"
    email: str = ""
    personal_id: str = ""
    tax_code: str = ""

    @classmethod
    def create(cls, *, field_prefix: str = "subject", **values: str) -> SubjectName:
        """Validate and NFC-normalise the fields.

        Raises:
            InvalidArgument: naming the field (``subject.common_name`` …) and what is wrong.
        """
        clean = {key: nfc(value or "") for key, value in values.items()}
        for key, value in clean.items():
            where = f"{field_prefix}.{key}"
            if _CONTROL.search(value):
                raise InvalidArgument(f"{where} contains control characters", field=where)
            limit = _LIMITS.get(key)
            if limit is not None and len(value) > limit:
                raise InvalidArgument(
                    f"{where} is {len(value)} characters; at most {limit} allowed", field=where
                )
        if not clean.get("common_name"):
            where = f"{field_prefix}.common_name"
            raise InvalidArgument(f"{where} is required", field=where)
        clean["country"] = (clean.get("country") or "VN").upper()
        if not re.fullmatch(r"[A-Z]{2}", clean["country"]):
            where = f"{field_prefix}.country"
            raise InvalidArgument(f"{where} must be two letters (ISO 3166), e.g. VN", field=where)
        if clean.get("email") and not _EMAIL.match(clean["email"]):
            where = f"{field_prefix}.email"
            raise InvalidArgument(f"{where} is not an e-mail address", field=where)
        if clean.get("personal_id") and not _CCCD.match(clean["personal_id"]):
            where = f"{field_prefix}.personal_id"
            raise InvalidArgument(f"{where} must be the 12 digits of a CCCD", field=where)
        if clean.get("tax_code") and not _TAX_CODE.match(clean["tax_code"]):
            where = f"{field_prefix}.tax_code"
            raise InvalidArgument(
                f"{where} must be 10 digits, or 10 digits, a dash and 3 digits", field=where
            )
        known = {f.name for f in fields(cls)}
        unknown = set(clean) - known
        if unknown:
            raise InvalidArgument(f"unknown name fields {sorted(unknown)}", field=field_prefix)
        return cls(**clean)

    def to_x509(self) -> Name:
        """The X.500 name, most significant attribute first (C, ST, L, O, OU, CN…)."""
        attributes = [NameAttribute(NameOID.COUNTRY_NAME, self.country)]
        for oid, value in (
            (NameOID.STATE_OR_PROVINCE_NAME, self.province),
            (NameOID.LOCALITY_NAME, self.locality),
            (NameOID.ORGANIZATION_NAME, self.organization),
            (NameOID.ORGANIZATIONAL_UNIT_NAME, self.organizational_unit),
            (NameOID.COMMON_NAME, self.common_name),
            (NameOID.USER_ID, f"CCCD:{self.personal_id}" if self.personal_id else ""),
            (NameOID.USER_ID, f"MST:{self.tax_code}" if self.tax_code else ""),
            (NameOID.EMAIL_ADDRESS, self.email),
        ):
            if value:
                attributes.append(NameAttribute(oid, value))
        return Name(attributes)

    def key(self) -> str:
        """A comparison key for duplicate-subject checks (case-folded RFC 4514)."""
        return self.to_x509().rfc4514_string().casefold()


def name_to_subject(name: Name) -> SubjectName:
    """Read a certificate name back into its fields (unknown attributes are ignored)."""

    def first(oid: object) -> str:
        values = name.get_attributes_for_oid(oid)  # type: ignore[arg-type]
        return str(values[0].value) if values else ""

    personal_id = tax_code = ""
    for attribute in name.get_attributes_for_oid(NameOID.USER_ID):
        value = str(attribute.value)
        if value.startswith("CCCD:"):
            personal_id = value[5:]
        elif value.startswith("MST:"):
            tax_code = value[4:]
    return SubjectName(
        common_name=first(NameOID.COMMON_NAME),
        organization=first(NameOID.ORGANIZATION_NAME),
        organizational_unit=first(NameOID.ORGANIZATIONAL_UNIT_NAME),
        locality=first(NameOID.LOCALITY_NAME),
        province=first(NameOID.STATE_OR_PROVINCE_NAME),
        country=first(NameOID.COUNTRY_NAME),
        email=first(NameOID.EMAIL_ADDRESS),
        personal_id=personal_id,
        tax_code=tax_code,
    )

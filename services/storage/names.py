"""Resource names and enum mappings of the archive API."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from hoso.common.errors import InvalidArgument

__all__ = [
    "COMPONENT_TYPES",
    "RENDITION_KINDS",
    "RETENTION_CLASSES",
    "STATUSES",
    "VersionRef",
    "check_dossier_code",
    "check_filename",
    "dossier_name",
    "fold",
    "nfc",
    "parse_dossier_name",
    "parse_file_name",
    "search_text",
    "version_name",
]

# Enum number (proto) ↔ catalog value.
COMPONENT_TYPES = {
    1: "application_form",
    2: "identity_document",
    3: "supporting_document",
    4: "result",
    5: "receipt",
    6: "other",
}
RENDITION_KINDS = {1: "ocr_pdfa", 2: "ocr_text_sidecar", 3: "thumbnail"}
RETENTION_CLASSES = {1: "5y", 2: "10y", 3: "20y", 4: "permanent"}
STATUSES = {1: "received", 2: "processing", 3: "completed", 4: "returned", 5: "cancelled"}

_CODE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_DOSSIER = re.compile(r"^dossiers/([A-Za-z0-9._-]{1,64})$")
_FILE = re.compile(
    r"^dossiers/([A-Za-z0-9._-]{1,64})/files/([0-9a-f-]{36})(?:/versions/([1-9][0-9]{0,8}))?$"
)


def nfc(text: str) -> str:
    """NFC-normalise Vietnamese text at the boundary."""
    return unicodedata.normalize("NFC", text)


def fold(text: str) -> str:
    """Accent-insensitive search form: NFC, đ→d, diacritics removed, lower case.

    ``fold("Đăng ký hộ kinh doanh") == "dang ky ho kinh doanh"``; both the stored search column
    and the query are folded, so any spelling with or without tones matches.
    """
    value = nfc(text).replace("đ", "d").replace("Đ", "D")
    stripped = "".join(
        ch for ch in unicodedata.normalize("NFD", value) if unicodedata.category(ch) != "Mn"
    )
    return unicodedata.normalize("NFC", stripped).casefold()


def search_text(code: str, title: str) -> str:
    """The folded text ListDossiers' ``text`` filter searches (code and title)."""
    return f"{fold(code)}\n{fold(title)}"


def check_dossier_code(code: str, *, field: str = "dossier.dossier_code") -> str:
    """Return a valid dossier code or raise InvalidArgument naming the field."""
    if not _CODE.match(code):
        raise InvalidArgument(
            f"{field} must be 1-64 characters of A-Z a-z 0-9 . _ - (got {code!r})", field=field
        )
    return code


def dossier_name(code: str) -> str:
    """``dossiers/{code}``."""
    return f"dossiers/{code}"


def parse_dossier_name(name: str, *, field: str = "name") -> str:
    """Return the dossier code of ``dossiers/{code}``."""
    match = _DOSSIER.match(name)
    if not match:
        raise InvalidArgument(
            f"{field} must look like dossiers/{{dossier_code}} (got {name!r})", field=field
        )
    return match.group(1)


@dataclass(frozen=True)
class VersionRef:
    """A parsed file or version name."""

    dossier_code: str
    file_id: str
    version: int | None
    """None: the latest version (or all versions, depending on the call)."""


def parse_file_name(name: str, *, field: str = "name") -> VersionRef:
    """Parse ``dossiers/{d}/files/{f}`` or ``.../versions/{n}``."""
    match = _FILE.match(name)
    if not match:
        raise InvalidArgument(
            f"{field} must look like dossiers/{{d}}/files/{{file_id}}[/versions/{{n}}]"
            f" (got {name!r})",
            field=field,
        )
    code, file_id, version = match.groups()
    return VersionRef(code, file_id, int(version) if version else None)


def version_name(code: str, file_id: str, number: int) -> str:
    """``dossiers/{d}/files/{f}/versions/{n}``."""
    return f"dossiers/{code}/files/{file_id}/versions/{number}"


def check_filename(filename: str, *, field: str = "header.filename") -> str:
    """Return the NFC filename, or raise when it has a path, control characters or is too long."""
    value = nfc(filename)
    if not value or value in {".", ".."}:
        raise InvalidArgument(
            f"{field} is required (a plain file name such as scan.pdf)", field=field
        )
    if "/" in value or "\\" in value:
        raise InvalidArgument(
            f"{field} must be a plain name without path separators (got {value!r})", field=field
        )
    if any(unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"} for ch in value):
        raise InvalidArgument(f"{field} must not contain control characters", field=field)
    if len(value.encode("utf-8")) > 255:
        raise InvalidArgument(f"{field} must be at most 255 bytes in UTF-8", field=field)
    return value

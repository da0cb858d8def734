"""The QR code (ISO/IEC 18004) printed on issued result documents.

It carries the dossier code, procedure code, applicant identifier and document name as query
parameters of the verification URL, so a phone opens the verification page directly.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from hoso.common.errors import InvalidArgument
from hoso.signing.pades.appearance import serif_font_path
from hoso.signing.pades.fonts import UnicodeFontFactory
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.stamp import QRStamp, QRStampStyle

__all__ = ["QrPayload", "apply_qr"]


@dataclass(frozen=True)
class QrPayload:
    """What the QR code says, and where it is printed.

    Attributes:
        dossier_code: the one-stop-shop dossier code (mã hồ sơ).
        procedure_code: the administrative procedure code (mã thủ tục).
        applicant_id: the applicant's identifier.
        document_name: the name of the result document.
        verification_url: base URL of the verification page.
        page: 1-based page number; 0 means the last page.
        x, y: lower-left corner in points.
        size: the QR side in points.
    """

    dossier_code: str
    procedure_code: str
    applicant_id: str
    document_name: str
    verification_url: str
    page: int = 0
    x: float = 36.0
    y: float = 36.0
    size: float = 72.0

    def url(self) -> str:
        """The encoded content: the verification URL with the four fields as parameters."""
        parts = urlsplit(self.verification_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidArgument(
                "qr.verification_url must be an absolute http(s) URL", field="qr.verification_url"
            )
        fields = {
            "dossier": self.dossier_code,
            "procedure": self.procedure_code,
            "applicant": self.applicant_id,
            "document": self.document_name,
        }
        for name, value in fields.items():
            if not value:
                raise InvalidArgument(f"qr.{name} is required for the QR code", field=f"qr.{name}")
        query = urlencode({k: unicodedata.normalize("NFC", v) for k, v in fields.items()})
        separator = "&" if parts.query else "?"
        return f"{self.verification_url}{separator}{query}"


def apply_qr(writer: BasePdfFileWriter, payload: QrPayload, page_count: int) -> None:
    """Draw the QR code and a caption on the page chosen by ``payload``."""
    page = payload.page or page_count
    if not 1 <= page <= page_count:
        raise InvalidArgument(f"qr.page {page} is outside 1..{page_count}", field="qr.page")
    caption = unicodedata.normalize(
        "NFC", f"Hồ sơ: {payload.dossier_code}\nThủ tục: {payload.procedure_code}"
    ).replace("%", "%%")
    style = QRStampStyle(
        stamp_text=caption,
        text_box_style=TextBoxStyle(
            font=UnicodeFontFactory(serif_font_path(), font_size=8), font_size=8
        ),
        border_width=0,
        qr_inner_size=int(payload.size),
    )
    stamp = QRStamp(writer, url=payload.url(), style=style)
    stamp.apply(page - 1, int(payload.x), int(payload.y))

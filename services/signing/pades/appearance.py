"""Signature appearances following Decree 30/2020/ND-CP, Appendix I.

* the official's signature: a blue, transparent PNG centred between the title and the name;
* the agency seal: the red seal PNG at real size, covering about a third of the official's
  signature image on its left;
* attachments and electronic copies: no image, a text block at the top right of page 1 with
  the document number, the copy type and the signing time (ISO 8601, +07:00) set in Times New
  Roman 10 — here Liberation Serif 2 (Debian ``fonts-liberation2``: Times New Roman's metrics
  and every Vietnamese letter), embedded as a subset; DejaVu Serif when it is missing. The
  older Liberation 1 (``fonts-liberation``) lacks the stacked accents (ờ, ệ, Ủ…).
"""

from __future__ import annotations

import datetime as dt
import enum
import io
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from hoso.common.errors import InvalidArgument
from hoso.signing.pades.fonts import UnicodeFontFactory
from hoso.signing.pades.official_stamp import OfficialStampStyle, title_lines
from PIL import Image, UnidentifiedImageError
from pyhanko.pdf_utils import layout
from pyhanko.pdf_utils.images import PdfImage
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.stamp import BaseStampStyle, StaticStampStyle, TextStampStyle

__all__ = [
    "VIETNAM_TZ",
    "Appearance",
    "AppearanceKind",
    "copy_text_block",
    "serif_font_path",
    "stamp_style",
]

VIETNAM_TZ = dt.timezone(dt.timedelta(hours=7), "+07:00")
_FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf"),
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"),
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
)
_MAX_IMAGE_PIXELS = 4096 * 4096


class AppearanceKind(enum.StrEnum):
    """What a signature looks like on the page."""

    INVISIBLE = "invisible"
    SIGNATURE_IMAGE = "signature_image"
    SEAL = "seal"
    COPY_TEXT = "copy_text"


@dataclass(frozen=True)
class Appearance:
    """How to draw a signature.

    Attributes:
        kind: the Decree 30 style.
        image_png: the signature or seal image (PNG with transparency); required for
            ``SIGNATURE_IMAGE`` and ``SEAL``.
        document_number: the document's number and symbol (``COPY_TEXT``), e.g. ``12/QĐ-UBND``.
        copy_type: e.g. ``Bản sao điện tử`` (``COPY_TEXT``).
        seal_diameter_mm: the seal's real diameter; the seal is drawn at this size.
        title: the signer's title (chức vụ) drawn above the signature image
            (``SIGNATURE_IMAGE``); a newline or `` / `` breaks it into lines.
        signer_name: the name drawn below the signature image (``SIGNATURE_IMAGE``); the
            engine fills in the certificate's common name when it is empty.
    """

    kind: AppearanceKind = AppearanceKind.INVISIBLE
    image_png: bytes | None = None
    document_number: str | None = None
    copy_type: str | None = None
    seal_diameter_mm: float = 36.0
    title: str | None = None
    signer_name: str | None = None

    @property
    def visible(self) -> bool:
        return self.kind is not AppearanceKind.INVISIBLE


@lru_cache(maxsize=1)
def serif_font_path() -> str:
    """The Unicode serif to embed for Vietnamese text (Liberation Serif 2, else DejaVu)."""
    for candidate in _FONT_CANDIDATES:
        if candidate.exists():
            return str(candidate)
    raise FileNotFoundError("no Unicode serif font found; install fonts-dejavu-core")


def _load_png(data: bytes, field: str) -> Image.Image:
    try:
        image: Image.Image = Image.open(io.BytesIO(data))
        if image.width * image.height > _MAX_IMAGE_PIXELS:
            raise InvalidArgument(
                f"{field} is too large ({image.width}×{image.height})", field=field
            )
        image.load()
    except (UnidentifiedImageError, OSError) as exc:
        raise InvalidArgument(f"{field} is not a readable image: {exc}", field=field) from exc
    if image.mode not in ("RGBA", "LA"):
        image = image.convert("RGBA")
    return image


def copy_text_block(appearance: Appearance, signing_time: dt.datetime) -> str:
    """The text block of an agency signature on an attachment or electronic copy (NFC)."""
    shown = signing_time.astimezone(VIETNAM_TZ).replace(microsecond=0).isoformat()
    lines = []
    if appearance.document_number:
        lines.append(f"Số: {appearance.document_number}")
    lines.append(appearance.copy_type or "Bản sao điện tử")
    lines.append(f"Thời gian ký: {shown}")
    return unicodedata.normalize("NFC", "\n".join(lines))


def stamp_style(appearance: Appearance, signing_time: dt.datetime) -> BaseStampStyle | None:
    """The pyHanko stamp style drawing ``appearance`` (``None`` for invisible signatures)."""
    kind = appearance.kind
    if kind is AppearanceKind.INVISIBLE:
        return None
    if kind is AppearanceKind.COPY_TEXT:
        # '%' is pyHanko's interpolation marker: escape it in caller-provided text
        text = copy_text_block(appearance, signing_time).replace("%", "%%")
        return TextStampStyle(
            stamp_text=text,
            text_box_style=TextBoxStyle(
                font=UnicodeFontFactory(serif_font_path(), font_size=10), font_size=10
            ),
            border_width=0,
            inner_content_layout=layout.SimpleBoxLayoutRule(
                x_align=layout.AxisAlignment.ALIGN_MAX,
                y_align=layout.AxisAlignment.ALIGN_MAX,
                inner_content_scaling=layout.InnerScaling.SHRINK_TO_FIT,
            ),
        )
    if appearance.image_png is None:
        raise InvalidArgument(f"appearance {kind.value} needs an image", field="appearance.image")
    image = _load_png(appearance.image_png, "appearance.image")
    if kind is AppearanceKind.SIGNATURE_IMAGE:
        return OfficialStampStyle(
            image=PdfImage(image),
            title=tuple(title_lines(appearance.title or "")),
            signer_name=unicodedata.normalize("NFC", appearance.signer_name or "").strip(),
        )
    return StaticStampStyle(
        background=PdfImage(image),
        border_width=0,
        background_opacity=1.0,
        background_layout=layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MID,
            y_align=layout.AxisAlignment.ALIGN_MID,
            inner_content_scaling=layout.InnerScaling.SHRINK_TO_FIT,
        ),
    )

"""Where a new visible signature goes: an explicit rectangle, a text anchor, or next to
another signature (the agency seal over the official's signature).

Text anchors are found with pdfminer.six (already installed as an OCRmyPDF dependency),
which reports the bounding box of each character on the page.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import IO

from hoso.common.errors import InvalidArgument
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import enumerate_sig_fields

__all__ = ["Box", "Placement", "page_size", "resolve_placement", "seal_box"]

Box = tuple[float, float, float, float]
_MM = 72 / 25.4
_ANCHOR_PAGE_LIMIT = 50


@dataclass(frozen=True)
class Placement:
    """A request for a new signature field's page and rectangle.

    Attributes:
        page: 1-based page; 0 means "the page of the anchor" or the first page.
        rect: ``(x1, y1, x2, y2)`` in points, used as given.
        anchor_text: text to find (NFC, case-sensitive); the box's lower-left corner is the
            start of the found text moved by ``offset_x``/``offset_y``.
        offset_x, offset_y: offsets from the anchor's lower-left corner, in points.
        width, height: the box size for anchored placement, in points.
        occurrence: use the Nth occurrence of the anchor (1-based; 0 = first).
        overlap_field: place a seal over this existing signature's left third.
    """

    page: int = 0
    rect: Box | None = None
    anchor_text: str | None = None
    offset_x: float = 0.0
    offset_y: float = 0.0
    width: float = 150.0
    height: float = 60.0
    occurrence: int = 0
    overlap_field: str | None = None


def page_size(reader: PdfFileReader, page_index: int) -> tuple[float, float]:
    """Width and height of a page's media box, in points."""
    page_ref, _ = reader.find_page_for_modification(page_index)
    page_obj = page_ref.get_object()
    box = [float(v) for v in page_obj["/MediaBox"]]
    return box[2] - box[0], box[3] - box[1]


def _page_index(reader: PdfFileReader, page: int, field: str) -> int:
    count = int(reader.root["/Pages"]["/Count"])
    index = (page or 1) - 1
    if not 0 <= index < count:
        raise InvalidArgument(f"page {page} is outside 1..{count}", field=field)
    return index


def seal_box(reader: PdfFileReader, field_name: str, diameter_mm: float) -> tuple[int, Box]:
    """The page and box of a seal at real size over the left third of ``field_name``.

    Raises:
        InvalidArgument: the field does not exist or has no widget on a page.
    """
    for name, _, field_ref in enumerate_sig_fields(reader, with_name=field_name):
        field_obj = field_ref.get_object()
        widget = field_obj
        if "/Rect" not in widget and "/Kids" in widget:
            widget = widget["/Kids"][0].get_object()
        if "/Rect" not in widget or "/P" not in widget:
            break
        x1, y1, x2, y2 = (float(v) for v in widget["/Rect"])
        page_ref = widget.raw_get("/P")
        page_index = _index_of_page(reader, page_ref)
        diameter = diameter_mm * _MM
        right = x1 + (x2 - x1) / 3
        centre_y = (y1 + y2) / 2
        del name
        return page_index, (
            right - diameter,
            centre_y - diameter / 2,
            right,
            centre_y + diameter / 2,
        )
    raise InvalidArgument(
        f"placement.overlap_field {field_name!r} is not a visible signature field of this PDF",
        field="placement.overlap_field",
    )


def _index_of_page(reader: PdfFileReader, page_ref: object) -> int:
    count = int(reader.root["/Pages"]["/Count"])
    for index in range(count):
        ref, _ = reader.find_page_for_modification(index)
        if ref.idnum == getattr(page_ref, "idnum", None):
            return index
    return 0


def _find_anchor(
    file: IO[bytes], text: str, page_index: int | None, occurrence: int
) -> tuple[int, Box] | None:
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LTChar, LTTextContainer, LTTextLine

    wanted = unicodedata.normalize("NFC", text).strip()
    remaining = max(occurrence, 1)
    file.seek(0)
    pages = [page_index] if page_index is not None else None
    for number, layout_page in enumerate(
        # pdfminer reads any binary file object; its stub only names IOBase.
        extract_pages(file, page_numbers=pages, maxpages=_ANCHOR_PAGE_LIMIT)  # type: ignore[arg-type]
    ):
        index = page_index if page_index is not None else number
        for element in layout_page:
            if not isinstance(element, LTTextContainer):
                continue
            for line in element:
                if not isinstance(line, LTTextLine):
                    continue
                chars = [c for c in line if isinstance(c, LTChar)]
                line_text = unicodedata.normalize("NFC", "".join(c.get_text() for c in chars))
                start = line_text.find(wanted)
                if start < 0:
                    continue
                remaining -= 1
                if remaining:
                    continue
                if len(line_text) != len(chars):  # composed characters: use the whole line
                    return index, tuple(line.bbox)  # type: ignore[return-value]
                hit = chars[start : start + len(wanted)]
                return index, (
                    min(c.x0 for c in hit),
                    min(c.y0 for c in hit),
                    max(c.x1 for c in hit),
                    max(c.y1 for c in hit),
                )
    return None


def resolve_placement(
    reader: PdfFileReader, file: IO[bytes], placement: Placement, *, seal_diameter_mm: float = 36.0
) -> tuple[int, Box]:
    """Turn a :class:`Placement` into a 0-based page index and a box.

    Raises:
        InvalidArgument: page out of range, bad rectangle, anchor text not found.
    """
    if placement.overlap_field:
        return seal_box(reader, placement.overlap_field, seal_diameter_mm)
    if placement.rect is not None:
        index = _page_index(reader, placement.page, "placement.page")
        x1, y1, x2, y2 = placement.rect
        if x2 <= x1 or y2 <= y1:
            raise InvalidArgument(
                "placement.rect must be (x1, y1, x2, y2) with x2 > x1 and y2 > y1",
                field="placement.rect",
            )
        width, height = page_size(reader, index)
        if x1 < 0 or y1 < 0 or x2 > width or y2 > height:
            raise InvalidArgument(
                f"placement.rect lies outside the page ({width:g}×{height:g} pt)",
                field="placement.rect",
            )
        return index, (x1, y1, x2, y2)
    if placement.anchor_text:
        page_index = (
            _page_index(reader, placement.page, "placement.page") if placement.page else None
        )
        if placement.width <= 0 or placement.height <= 0:
            raise InvalidArgument(
                "placement width and height must be positive", field="placement.text_anchor"
            )
        found = _find_anchor(file, placement.anchor_text, page_index, placement.occurrence)
        if found is None:
            raise InvalidArgument(
                f"anchor text {placement.anchor_text!r} was not found in the PDF",
                field="placement.anchor_text",
            )
        index, (ax1, ay1, _, _) = found
        x1 = ax1 + placement.offset_x
        y1 = ay1 + placement.offset_y
        return index, (x1, y1, x1 + placement.width, y1 + placement.height)
    raise InvalidArgument("placement needs rect, anchor_text or overlap_field", field="placement")

"""An invisible text layer (PDF text render mode 3) drawn from OCR word boxes.

The font is Tesseract's GlyphLessFont (``pdf.ttf`` in tessdata): every glyph is blank and half
an em wide, characters are written as UTF-16 code units with an identity ``ToUnicode`` map,
and each word is stretched horizontally to its box, so selecting or searching the page text
in a viewer lines up with the scanned words.
"""

from __future__ import annotations

import math
from pathlib import Path

import pikepdf
from hoso.ocr.engine import PageResult, Word

__all__ = ["FONT_NAME", "add_glyphless_font", "text_layer_stream"]

FONT_NAME = "/HosoOcrText"

_TO_UNICODE = b"""/CIDInit /ProcSet findresource begin
12 dict begin
begincmap
/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def
/CMapName /Adobe-Identity-UCS def
/CMapType 2 def
1 begincodespacerange
<0000> <FFFF>
endcodespacerange
1 beginbfrange
<0000> <FFFF> <0000>
endbfrange
endcmap
CMapName currentdict /CMap defineresource pop
end
end
"""


def add_glyphless_font(pdf: pikepdf.Pdf, tessdata: Path) -> pikepdf.Object:
    """Embed the GlyphLessFont once in ``pdf`` and return the Type0 font dictionary."""
    program = (tessdata / "pdf.ttf").read_bytes()
    # Every CID maps to glyph 1, the blank glyph.
    cid_to_gid = b"\x00\x01" * 65536
    descriptor = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.FontDescriptor,
            FontName=pikepdf.Name.GlyphLessFont,
            Flags=5,
            FontBBox=[0, 0, 500, 1000],
            ItalicAngle=0,
            Ascent=1000,
            Descent=0,
            CapHeight=1000,
            StemV=80,
            FontFile2=pdf.make_stream(program),
        )
    )
    descendant = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font,
            Subtype=pikepdf.Name.CIDFontType2,
            BaseFont=pikepdf.Name.GlyphLessFont,
            CIDSystemInfo=pikepdf.Dictionary(Registry="Adobe", Ordering="Identity", Supplement=0),
            FontDescriptor=descriptor,
            DW=500,
            CIDToGIDMap=pdf.make_stream(cid_to_gid),
        )
    )
    return pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font,
            Subtype=pikepdf.Name.Type0,
            BaseFont=pikepdf.Name.GlyphLessFont,
            Encoding=pikepdf.Name("/Identity-H"),
            DescendantFonts=[descendant],
            ToUnicode=pdf.make_stream(_TO_UNICODE),
        )
    )


def text_layer_stream(result: PageResult, box: tuple[float, float, float, float]) -> bytes:
    """Content stream drawing ``result``'s words invisibly over the page area ``box``.

    Args:
        result: The page's OCR result; its boxes refer to the processed image.
        box: The page area the original image covers, ``(x0, y0, x1, y1)`` in points.
    """
    x0, y0, x1, y1 = box
    scale_x = (x1 - x0) / result.width
    scale_y = (y1 - y0) / result.height
    theta = math.radians(result.rotation_degrees)
    cos_t, sin_t = math.cos(theta), math.sin(theta)

    def to_page(px: float, py: float) -> tuple[float, float]:
        # Undo the counter-clockwise rotation that made the processed image (y points down).
        u, v = px - result.processed_width / 2, py - result.processed_height / 2
        ox = u * cos_t - v * sin_t + result.width / 2
        oy = u * sin_t + v * cos_t + result.height / 2
        return x0 + ox * scale_x, y1 - oy * scale_y

    # Text runs along the processed image's +x; on the page that direction is turned by -θ.
    direction_x, direction_y = cos_t * scale_x, -sin_t * scale_y
    length = math.hypot(direction_x, direction_y)
    cos_p, sin_p = direction_x / length, direction_y / length
    ops = [b"q", b"BT", b"3 Tr"]
    for word in result.words:
        ops.append(_word_ops(word, to_page, cos_p, sin_p, length))
    ops += [b"ET", b"Q"]
    return b"\n".join(ops) + b"\n"


def _word_ops(word: Word, to_page, cos_p: float, sin_p: float, points_per_px: float) -> bytes:  # type: ignore[no-untyped-def]
    left, _top, right, _bottom = word.box
    line_top, line_bottom = word.line_box[1], word.line_box[3]
    line_height = max(line_bottom - line_top, 1)
    # The baseline sits about a fifth of the line height above the line's lowest descender.
    baseline = line_bottom - 0.2 * line_height
    x, y = to_page(left, baseline)
    size = max(line_height * points_per_px * 0.8, 1.0)
    chars = len(word.text.encode("utf-16-be")) // 2
    # A trailing space lets text extraction see where one word ends and the next begins.
    code_units = (word.text + " ").encode("utf-16-be")
    natural_width = chars * size * 0.5
    stretch = 100.0 * (right - left) * points_per_px / natural_width if natural_width else 100.0
    return (
        f"/HosoOcrText {size:.2f} Tf {stretch:.2f} Tz "
        f"{cos_p:.5f} {sin_p:.5f} {-sin_p:.5f} {cos_p:.5f} {x:.2f} {y:.2f} Tm "
        f"<{code_units.hex()}> Tj"
    ).encode("ascii")

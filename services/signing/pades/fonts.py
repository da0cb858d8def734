"""Embedded Unicode fonts for appearances, with glyph widths in PDF units.

pyHanko's :class:`~pyhanko.pdf_utils.font.opentype.GlyphAccumulator` writes a CIDFont's
``/W`` widths in the font's own units, but PDF glyph space is always 1/1000 em. Fonts with
1000 units per em (most CFF fonts) come out right; TrueType fonts such as DejaVu (2048 units
per em) come out with every glyph advance doubled, i.e. letter-spaced text that runs out of
its box (and the font descriptor's ascent, descent and bounding box are doubled too, which
misplaces text for extractors). :class:`UnicodeFontFactory` shapes and measures in
thousandths of an em instead, so widths, kerning, positions and metrics agree whatever the
font's units.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyhanko.pdf_utils.font.opentype import GlyphAccumulator, GlyphAccumulatorFactory
from pyhanko.pdf_utils.generic import ArrayObject, NameObject, NumberObject

__all__ = ["UnicodeFontFactory"]

_PDF_UNITS_PER_EM = 1000


class _PdfUnitGlyphAccumulator(GlyphAccumulator):
    """A glyph accumulator whose metrics are in 1/1000 em, as PDF glyph space is."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._font_units_per_em = self.units_per_em
        self.units_per_em = _PDF_UNITS_PER_EM
        # HarfBuzz then reports advances and offsets in thousandths of an em as well
        self.hb_font.scale = (_PDF_UNITS_PER_EM, _PDF_UNITS_PER_EM)
        self._scale_descriptor()

    def _scale_descriptor(self) -> None:
        ratio = _PDF_UNITS_PER_EM / self._font_units_per_em
        descriptor = self.cidfont_obj._font_descriptor
        for key in ("/Ascent", "/Descent", "/CapHeight"):
            if key in descriptor:
                descriptor[NameObject(key)] = NumberObject(round(int(descriptor[key]) * ratio))
        if "/FontBBox" in descriptor:
            descriptor[NameObject("/FontBBox")] = ArrayObject(
                NumberObject(round(int(v) * ratio)) for v in descriptor["/FontBBox"]
            )

    def _get_cid_and_width(self, glyph_id: int) -> tuple[int, int]:
        cached = self._glyphs.get(glyph_id)
        if cached is not None:
            return cached
        cid, width = super()._get_cid_and_width(glyph_id)
        scaled = round(width * _PDF_UNITS_PER_EM / self._font_units_per_em)
        self._glyphs[glyph_id] = (cid, scaled)
        return cid, scaled


@dataclass(frozen=True)
class UnicodeFontFactory(GlyphAccumulatorFactory):
    """Like :class:`GlyphAccumulatorFactory`, with widths right for any units per em."""

    def create_font_engine(self, writer: Any, obj_stream: Any = None) -> GlyphAccumulator:
        handle = open(self.font_file, "rb")  # noqa: SIM115 - the engine owns and reads it
        if obj_stream is None and writer.stream_xrefs and self.create_objstream_if_needed:
            obj_stream = writer.prepare_object_stream()
        return _PdfUnitGlyphAccumulator(
            writer=writer,
            font_handle=handle,
            font_size=self.font_size,
            ot_script_tag=self.ot_script_tag,
            ot_language_tag=self.ot_language_tag,
            writing_direction=self.writing_direction,
            bcp47_lang_code=self.bcp47_lang_code,
            obj_stream=obj_stream,
        )

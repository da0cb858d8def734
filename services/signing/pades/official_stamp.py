"""The official's signature appearance of Decree 30/2020/ND-CP, Appendix I.

From top to bottom, centred in the field: the title (chức vụ, e.g. ``KT. CHỦ TỊCH`` over
``PHÓ CHỦ TỊCH``) in bold capitals, the signature image, and the signer's full name in bold.
Both texts are set in Liberation Serif 2 Bold (Times New Roman's metrics, every Vietnamese
letter; Debian ``fonts-liberation2``), embedded as a subset, or DejaVu Serif Bold when it is
missing: the older Liberation 1 lacks the stacked Vietnamese accents (Ủ, Ị, ễ, ệ…).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hoso.signing.pades.fonts import UnicodeFontFactory
from pyhanko.pdf_utils import layout
from pyhanko.pdf_utils.images import PdfImage
from pyhanko.pdf_utils.text import TextBox, TextBoxStyle
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.stamp import BaseStamp, BaseStampStyle

__all__ = ["OfficialStamp", "OfficialStampStyle", "bold_font_path", "title_lines"]

_BOLD_FONTS = (
    Path("/usr/share/fonts/truetype/liberation2/LiberationSerif-Bold.ttf"),
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf"),
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
)
#: Decree 30 sets the title and the name in 13-14 pt; smaller fields shrink the text to fit.
_FONT_SIZE = 13
#: Line height and baseline lift in em: DejaVu Serif Bold reaches 0.93 em up, 0.24 em down.
_LINE_HEIGHT = 1.2
_DESCENT = 0.24
#: Room between the texts and the image, points.
_GAP = 2.0
#: The texts never take more than this share of the field's height (the image needs room).
_MAX_TEXT_SHARE = 0.6


def bold_font_path() -> str:
    """The bold Unicode serif embedded for the title and the name.

    Raises:
        FileNotFoundError: no DejaVu font is installed (Debian ``fonts-dejavu-core``).
    """
    for candidate in _BOLD_FONTS:
        if candidate.exists():
            return str(candidate)
    raise FileNotFoundError("no bold Unicode font found; install fonts-dejavu-core")


def title_lines(title: str) -> list[str]:
    """The title's lines (NFC): a newline or `` / `` starts a new line, as in
    ``KT. CHỦ TỊCH / PHÓ CHỦ TỊCH``."""
    text = unicodedata.normalize("NFC", title).replace(" / ", "\n")
    return [line.strip() for line in text.splitlines() if line.strip()]


@dataclass(frozen=True)
class OfficialStampStyle(BaseStampStyle):
    """Title above, signature image in the middle, name below (all centred).

    Attributes:
        image: the signature image (blue ink, transparent).
        title: the title lines, top to bottom (may be empty).
        signer_name: the signer's full name (may be empty).
    """

    image: PdfImage | None = None
    title: tuple[str, ...] = ()
    signer_name: str = ""
    border_width: int = 0

    def create_stamp(
        self, writer: BasePdfFileWriter, box: layout.BoxConstraints, text_params: dict[str, Any]
    ) -> OfficialStamp:
        return OfficialStamp(writer, self, box)


class OfficialStamp(BaseStamp):
    """Draws an :class:`OfficialStampStyle` into the signature field's box."""

    def __init__(
        self, writer: BasePdfFileWriter, style: OfficialStampStyle, box: layout.BoxConstraints
    ) -> None:
        if not (box and box.width_defined and box.height_defined):
            raise layout.LayoutError("the official's appearance needs a sized field")
        super().__init__(writer, style, box)

    def _line(self, text: str, resource_name: str) -> tuple[bytes, float, float]:
        """One line of bold text at its natural size: (commands, width, height), its glyphs
        (descenders included) inside the line's box."""
        style = TextBoxStyle(
            font=UnicodeFontFactory(bold_font_path(), font_size=_FONT_SIZE),
            font_size=_FONT_SIZE,
            box_layout_rule=layout.SimpleBoxLayoutRule(
                x_align=layout.AxisAlignment.ALIGN_MIN,
                y_align=layout.AxisAlignment.ALIGN_MIN,
                margins=layout.Margins.uniform(0),
                inner_content_scaling=layout.InnerScaling.NO_SCALING,
            ),
        )
        box = TextBox(style, writer=self.writer, resources=self.resources, font_name=resource_name)
        box.content = text
        commands = b"q 1 0 0 1 0 %g cm %s Q" % (_DESCENT * _FONT_SIZE, box.render())
        return commands, float(box.box.width), _LINE_HEIGHT * _FONT_SIZE

    def _render_inner_content(self) -> list[bytes]:
        style: OfficialStampStyle = self.style
        width, height = float(self.box.width), float(self.box.height)
        title = [self._line(text, f"FT{i}") for i, text in enumerate(style.title)]
        name = [self._line(style.signer_name, "FN")] if style.signer_name else []
        lines = title + name
        text_height = sum(h for _, _, h in lines)
        widest = max((w for _, w, _ in lines), default=0.0)
        scale = 1.0
        if widest > width:
            scale = width / widest
        if text_height * scale > _MAX_TEXT_SHARE * height:
            scale = _MAX_TEXT_SHARE * height / text_height
        commands: list[bytes] = []
        # title from the top edge down
        top = height
        for line_commands, line_width, line_height in title:
            top -= line_height * scale
            commands.append(_placed(line_commands, (width - line_width * scale) / 2, top, scale))
        # name on the bottom edge
        bottom = 0.0
        for line_commands, line_width, line_height in name:
            commands.append(_placed(line_commands, (width - line_width * scale) / 2, 0.0, scale))
            bottom = line_height * scale
        if style.image is not None:
            band_bottom = bottom + (_GAP if name else 0.0)
            band_top = top - (_GAP if title else 0.0)
            commands.append(self._image(style.image, width, band_bottom, band_top))
        return commands

    def _image(self, image: PdfImage, width: float, bottom: float, top: float) -> bytes:
        """The image shrunk to fit the band between the texts, centred in it."""
        image.set_writer(self.writer)
        drawn = image.render()
        band = layout.BoxConstraints(width=max(int(width), 1), height=max(int(top - bottom), 1))
        rule = layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MID,
            y_align=layout.AxisAlignment.ALIGN_MID,
            margins=layout.Margins.uniform(0),
            inner_content_scaling=layout.InnerScaling.SHRINK_TO_FIT,
        )
        position = rule.fit(band, image.box.width, image.box.height)
        self.import_resources(image.resources)
        return b"q 1 0 0 1 0 %g cm %s %s Q" % (bottom, position.as_cm(), drawn)


def _placed(commands: bytes, x: float, y: float, scale: float) -> bytes:
    return b"q %g 0 0 %g %g %g cm %s Q" % (scale, scale, x, y, commands)

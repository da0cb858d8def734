"""One Tesseract engine per worker process: rotation, deskew, recognition, word boxes.

Everything here runs inside an OCR worker process (see :mod:`hoso.ocr.pool`); an
:class:`OcrEngine` is built once per process and reused for every page, because loading the
``vie`` model costs far more than recognising a small page.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hoso.ocr.errors import PageTimeout, PageTooLarge
from hoso.ocr.text import normalize_text
from PIL import Image, ImageFilter

__all__ = ["EngineOptions", "OcrEngine", "PageResult", "Word", "check_pixels"]

# Below this tilt Tesseract copes on its own, and rotating would only blur the image.
_MIN_SKEW_DEGREES = 0.5
# OSD's own scale: 15 is "reasonably confident"; below ~2 it is guessing.
_MIN_OSD_CONFIDENCE = 2.0
# A first pass this unsure suggests a page turned sideways or upside down.
_RETRY_ROTATION_BELOW = 70.0


@dataclass(frozen=True)
class EngineOptions:
    """How pages are recognised; part of a job's idempotency key (see :meth:`fingerprint`)."""

    tessdata: str
    """Folder with ``<lang>.traineddata`` and ``osd.traineddata``."""
    languages: str = "vie"
    """Tesseract languages joined by ``+``."""
    deskew: bool = True
    """Straighten pages whose text lines tilt by more than half a degree."""
    auto_rotate: bool = True
    """Try OSD (90/180/270°) when the first pass is unsure."""
    despeckle: bool = True
    """Remove isolated specks (3×3 median) before recognition; scanner dust costs ~8% CER."""
    page_timeout_seconds: float = 60.0
    """Give up on a page after this long (:class:`PageTimeout`)."""
    max_megapixels: float = 60.0
    """Refuse larger page images (:class:`PageTooLarge`)."""

    def fingerprint(self) -> str:
        """What changes the text of a page: used with the file digest to dedupe jobs."""
        return (
            f"tess-lstm;lang={self.languages};deskew={int(self.deskew)};"
            f"rot={int(self.auto_rotate)};despeckle={int(self.despeckle)}"
        )


@dataclass(frozen=True)
class Word:
    """A recognised word, its confidence (0–100) and boxes in processed-image pixels."""

    text: str
    confidence: float
    box: tuple[int, int, int, int]
    """Left, top, right, bottom of the word."""
    line_box: tuple[int, int, int, int]
    """The box of the word's text line, whose height sets the font size of the text layer."""


@dataclass(frozen=True)
class PageResult:
    """The outcome of one page.

    Word boxes refer to the *processed* image: the input rotated counter-clockwise by
    ``rotation_degrees`` around its centre with the canvas expanded (Pillow's
    ``rotate(angle, expand=True)``); :mod:`hoso.ocr.textlayer` maps them back.
    """

    text: str
    confidence: float
    words: tuple[Word, ...]
    width: int
    height: int
    processed_width: int
    processed_height: int
    dpi: float
    rotation_degrees: float = 0.0
    skew_degrees: float = 0.0
    notes: tuple[str, ...] = field(default=())


def check_pixels(width: int, height: int, max_megapixels: float) -> None:
    """Raise :class:`PageTooLarge` when a ``width``×``height`` page exceeds the limit."""
    megapixels = width * height / 1e6
    if megapixels > max_megapixels:
        raise PageTooLarge(
            f"page image is {width}×{height} px ({megapixels:.0f} MP), over the limit of "
            f"{max_megapixels:g} MP; lower the scan resolution or raise ocr.max_megapixels"
        )


class OcrEngine:
    """A reusable Tesseract (tesserocr) instance; not thread-safe, one per process.

    Args:
        options: Languages, limits and what to straighten.
    """

    def __init__(self, options: EngineOptions) -> None:
        # Tesseract's OpenMP threads fight each other when pages already run in parallel
        # processes; measured ~6× slower on 2 cores when left unset.
        os.environ.setdefault("OMP_THREAD_LIMIT", "1")
        import tesserocr

        self._tesserocr = tesserocr
        self.options = options
        path = str(Path(options.tessdata)) + "/"
        self._api = tesserocr.PyTessBaseAPI(
            path=path, lang=options.languages, psm=tesserocr.PSM.AUTO
        )
        self._path = path
        self._osd: object | None = None

    def close(self) -> None:
        """Free Tesseract's memory."""
        self._api.End()
        if self._osd is not None:
            self._osd.End()  # type: ignore[attr-defined]

    def recognize(self, image: Image.Image, dpi: float) -> PageResult:
        """OCR one page image.

        Args:
            image: The page as scanned or rendered.
            dpi: Its resolution, which Tesseract uses to judge text sizes.

        Raises:
            PageTooLarge: Over the megapixel limit.
            PageTimeout: Recognition took longer than the page timeout.
        """
        check_pixels(image.width, image.height, self.options.max_megapixels)
        original = _as_grey(image)
        if self.options.despeckle:
            original = original.filter(ImageFilter.MedianFilter(3))
        skew = self._skew_degrees(original, dpi) if self.options.deskew else 0.0
        rotation = skew if abs(skew) >= _MIN_SKEW_DEGREES else 0.0
        result = self._recognize_rotated(original, dpi, rotation, skew)
        if self.options.auto_rotate and result.confidence < _RETRY_ROTATION_BELOW:
            turn = self._orientation_fix(original, dpi)
            if turn:
                turned = self._recognize_rotated(original, dpi, turn, 0.0)
                if turned.confidence > result.confidence:
                    result = turned
        return result

    def _recognize_rotated(
        self, original: Image.Image, dpi: float, rotation: float, skew: float
    ) -> PageResult:
        processed = _rotate(original, rotation)
        api = self._api
        api.SetImage(processed)
        api.SetSourceResolution(round(dpi))
        if not api.Recognize(timeout=round(self.options.page_timeout_seconds * 1000)):
            raise PageTimeout(
                f"page not recognised within {self.options.page_timeout_seconds:g} s; "
                "raise ocr.page_timeout_seconds or lower the resolution"
            )
        words = self._words()
        confidence = sum(w.confidence for w in words) / len(words) if words else 0.0
        return PageResult(
            text=normalize_text(api.GetUTF8Text()).strip(),
            confidence=round(confidence, 2),
            words=tuple(words),
            width=original.width,
            height=original.height,
            processed_width=processed.width,
            processed_height=processed.height,
            dpi=dpi,
            rotation_degrees=rotation,
            skew_degrees=skew,
        )

    def _words(self) -> list[Word]:
        ril = self._tesserocr.RIL
        iterator = self._api.GetIterator()
        words: list[Word] = []
        if iterator is None:
            return words
        line_box: tuple[int, int, int, int] | None = None
        while True:
            if iterator.IsAtBeginningOf(ril.TEXTLINE) or line_box is None:
                line_box = iterator.BoundingBox(ril.TEXTLINE)
            text = iterator.GetUTF8Text(ril.WORD)
            box = iterator.BoundingBox(ril.WORD)
            if text and text.strip() and box:
                words.append(
                    Word(
                        text=normalize_text(text.strip()),
                        confidence=round(iterator.Confidence(ril.WORD), 2),
                        box=tuple(box),  # type: ignore[arg-type]
                        line_box=tuple(line_box or box),  # type: ignore[arg-type]
                    )
                )
            if not iterator.Next(ril.WORD):
                break
        return words

    def _skew_degrees(self, image: Image.Image, dpi: float) -> float:
        """Tilt of the text lines from Tesseract's layout analysis (cheap: no recognition)."""
        self._api.SetImage(image)
        self._api.SetSourceResolution(round(dpi))
        layout = self._api.AnalyseLayout()
        if layout is None:
            return 0.0
        return math.degrees(layout.Orientation()[3])

    def _orientation_fix(self, image: Image.Image, dpi: float) -> float:
        """Counter-clockwise turn (0/90/180/270) that sets the page upright, from OSD."""
        if self._osd is None:
            self._osd = self._tesserocr.PyTessBaseAPI(
                path=self._path, lang="osd", psm=self._tesserocr.PSM.OSD_ONLY
            )
        osd: Any = self._osd
        osd.SetImage(image)
        osd.SetSourceResolution(round(dpi))
        found = osd.DetectOrientationScript()
        if not found or found["orient_conf"] < _MIN_OSD_CONFIDENCE:
            return 0.0
        # OSD reports the clockwise turn the page has suffered; undo it counter-clockwise.
        return float(found["orient_deg"] % 360)


def _as_grey(image: Image.Image) -> Image.Image:
    if image.mode in ("L", "RGB"):
        return image
    if image.mode in ("RGBA", "LA", "P", "PA"):
        background = Image.new("RGB", image.size, "white")
        rgba = image.convert("RGBA")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("L")


def _rotate(image: Image.Image, degrees: float) -> Image.Image:
    """Rotate counter-clockwise around the centre, growing the canvas, filling with white."""
    if degrees == 0:
        return image
    quarter = {90.0: Image.Transpose.ROTATE_90, 180.0: Image.Transpose.ROTATE_180}
    quarter[270.0] = Image.Transpose.ROTATE_270
    if degrees in quarter:
        return image.transpose(quarter[degrees])
    fill = 255 if image.mode == "L" else (255, 255, 255)
    return image.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=fill)

"""Compare what the pages show at a signed revision and at the last revision.

Renders with pdfium (annotations and form widgets drawn from their appearance streams) at a low resolution and compares pixels. A change is
allowed only inside the rectangle of a later signature or annotation drawn over blank paper,
or of a field that was empty when the document was signed. This catches the *hide* shadow
attack (an overlay removed or made transparent), evil annotations and sneaky signatures that
draw over signed content, whatever PDF trick produced the change.

pdfium is not thread-safe, so rendering holds a process-wide lock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pypdfium2 as pdfium
from PIL import Image, ImageChops, ImageDraw

__all__ = ["Overlay", "PageRenderer", "VisualDiff", "compare_pages"]

Rect = tuple[float, float, float, float]

_LOCK = threading.Lock()
_DIFF_THRESHOLD = 48  # grey levels; below this, anti-aliasing noise
_INK_THRESHOLD = 200  # a pixel darker than this is "ink" on white paper


class PageRenderer:
    """Renders the pages of a file truncated at a revision boundary, caching by boundary."""

    def __init__(self, data: bytes, *, scale: float = 0.5, max_pages: int = 50) -> None:
        self._data = data
        self._scale = scale
        self._max_pages = max_pages
        self._cache: dict[int, list[Image.Image]] = {}

    @property
    def scale(self) -> float:
        return self._scale

    def render(self, end: int) -> list[Image.Image]:
        """Greyscale images of the first pages of ``data[:end]`` (cached; ``end < 0``: all)."""
        if end < 0 or end > len(self._data):
            end = len(self._data)
        if end in self._cache:
            return self._cache[end]
        with _LOCK:
            doc = pdfium.PdfDocument(self._data[:end] if end < len(self._data) else self._data)
            # without a form environment pdfium skips widget annotations altogether
            doc.init_forms()
            try:
                images = []
                for index in range(min(len(doc), self._max_pages)):
                    page = doc[index]
                    bitmap = page.render(
                        scale=self._scale, grayscale=True, draw_annots=True, may_draw_forms=True
                    )
                    images.append(bitmap.to_pil().convert("L"))
                    page.close()
            finally:
                doc.close()
        self._cache[end] = images
        return images


@dataclass(frozen=True)
class Overlay:
    """A later annotation, signature or field appearance to judge."""

    page: int
    rect: Rect
    label: str
    mode: str = "new"
    signature: bool = False
    """Whether this is a signature widget (it may draw over earlier signatures' appearances)."""
    """``new``: a new appearance, allowed where it covers blank paper; ``own``: an empty field
    filled or an empty signature field signed, always allowed; ``changed``: an appearance that
    existed at signing time and changed, never allowed (the *hide* attack)."""


@dataclass(frozen=True)
class VisualDiff:
    """Result of the comparison."""

    overlays_on_content: list[str]
    changed_pages: list[int]
    overlays_on_signatures: list[str] = field(default_factory=list)
    """Later signatures drawn over an earlier signature's appearance only (Decree 30: the
    agency seal covers part of the signer's image), allowed but reported."""


def _to_pixels(
    rect: Rect, box: Rect, image: Image.Image, scale: float
) -> tuple[int, int, int, int]:
    x0, y0, _, y1_box = box
    height_pt = y1_box - y0
    left = int((rect[0] - x0) * scale)
    right = int((rect[2] - x0) * scale + 0.999)
    top = int((height_pt - (rect[3] - y0)) * scale)
    bottom = int((height_pt - (rect[1] - y0)) * scale + 0.999)
    w, h = image.size
    return max(0, left), max(0, top), min(w, right), min(h, bottom)


def _has_ink(image: Image.Image, box: tuple[int, int, int, int], shrink: int = 1) -> bool:
    left, top, right, bottom = box
    left, top, right, bottom = left + shrink, top + shrink, right - shrink, bottom - shrink
    if right <= left or bottom <= top:
        return False
    extrema = image.crop((left, top, right, bottom)).getextrema()  # (min, max) in mode L
    return int(extrema[0]) < _INK_THRESHOLD  # type: ignore[arg-type]


def _ink_outside(
    image: Image.Image, box: tuple[int, int, int, int], holes: list[tuple[int, int, int, int]]
) -> bool:
    """Whether ``box`` of ``image`` has ink once the ``holes`` are painted white."""
    region = image.crop(box)
    draw = ImageDraw.Draw(region)
    for left, top, right, bottom in holes:
        draw.rectangle((left - box[0], top - box[1], right - box[0], bottom - box[1]), fill=255)
    return _has_ink(region, (0, 0, *region.size))


def compare_pages(
    signed: list[Image.Image],
    final: list[Image.Image],
    boxes: list[Rect],
    overlays: list[Overlay],
    scale: float,
    signature_areas: list[tuple[int, Rect]] | None = None,
) -> VisualDiff:
    """Compare renders page by page; allowed overlays are masked out of the difference.

    ``signature_areas`` are (page, rectangle) of signature appearances present at the signed
    revision: a later *signature* may draw over them, never over other signed content.
    """
    on_content: list[str] = []
    on_signatures: list[str] = []
    changed: list[int] = []
    for page, (before, after) in enumerate(zip(signed, final, strict=False)):
        if before.size != after.size:
            changed.append(page)
            continue
        diff = ImageChops.difference(before, after).point(
            lambda v: 255 if v > _DIFF_THRESHOLD else 0
        )
        if diff.getbbox() is None:
            continue
        box = boxes[page] if page < len(boxes) else (0.0, 0.0, 612.0, 792.0)
        mask = ImageDraw.Draw(diff)
        for overlay in (o for o in overlays if o.page == page):
            pixels = _to_pixels(overlay.rect, box, before, scale)
            left, top, right, bottom = pixels
            if right <= left or bottom <= top:
                continue
            if overlay.mode == "changed":
                continue
            if overlay.mode == "new" and _has_ink(before, pixels):
                region = diff.crop(pixels)
                if region.getbbox() is not None:
                    holes = [
                        _to_pixels(rect, box, before, scale)
                        for area_page, rect in signature_areas or []
                        if area_page == page
                    ]
                    if not (overlay.signature and holes) or _ink_outside(before, pixels, holes):
                        on_content.append(f"{overlay.label} (page {page + 1})")
                        continue
                    on_signatures.append(f"{overlay.label} (page {page + 1})")
            mask.rectangle((left - 1, top - 1, right + 1, bottom + 1), fill=0)
        if diff.getbbox() is not None:
            changed.append(page)
    return VisualDiff(
        overlays_on_content=on_content, changed_pages=changed, overlays_on_signatures=on_signatures
    )

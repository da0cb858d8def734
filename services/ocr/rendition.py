"""Searchable PDF/A-2b renditions: the page images with an invisible text layer.

A PDF input keeps its own page content and gains a text layer beneath it; image inputs
become one page per image. A **signed** PDF is never rewritten: its rendition is a separate
document made of copies of its pages (their signature widgets removed, since those
signatures could not be valid there), so the original bytes and signatures stay untouched.
"""

from __future__ import annotations

import io
import subprocess
import tempfile
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pikepdf
from hoso.ocr.errors import Internal
from hoso.ocr.pages import DocumentPlan, InputKind, load_page
from hoso.ocr.pool import PageOutcome
from hoso.ocr.textlayer import FONT_NAME, add_glyphless_font, text_layer_stream
from PIL import Image, ImageCms

__all__ = ["build_rendition", "check_pdf"]

_QPDF_TIMEOUT_SECONDS = 60


def build_rendition(
    plan: DocumentPlan,
    outcomes: Sequence[PageOutcome],
    *,
    tessdata: Path,
    title: str = "",
    max_megapixels: float = 60.0,
) -> bytes:
    """Build the searchable PDF/A-2b for a document and its OCR outcomes.

    Args:
        plan: The pages of the source file (see :func:`hoso.ocr.pages.plan_pages`).
        outcomes: One per page, in any order; failed or skipped pages get no text layer.
        tessdata: Folder holding Tesseract's ``pdf.ttf`` (GlyphLessFont).
        title: Document title for the metadata.
        max_megapixels: Limit for re-reading image pages.
    """
    by_index = {o.index: o for o in outcomes}
    if plan.kind is InputKind.PDF:
        pdf = _pdf_pages(plan)
    else:
        pdf = _image_pages(plan, by_index, max_megapixels)
    font = add_glyphless_font(pdf, tessdata)
    for number, page in enumerate(pdf.pages):
        source_index = int(page.obj.get("/HosoSourceIndex", number))
        if "/HosoSourceIndex" in page.obj:
            del page.obj["/HosoSourceIndex"]
        outcome = by_index.get(source_index)
        if outcome is None or outcome.result is None:
            continue
        box = tuple(float(v) for v in page.cropbox)
        stream = text_layer_stream(outcome.result, box)  # type: ignore[arg-type]
        page.add_resource(font, pikepdf.Name.Font, FONT_NAME)
        page.contents_add(pdf.make_stream(stream), prepend=True)
    _make_pdfa(pdf, title)
    out = io.BytesIO()
    pdf.save(out, deterministic_id=True)
    pdf.close()
    return out.getvalue()


def _pdf_pages(plan: DocumentPlan) -> pikepdf.Pdf:
    source = pikepdf.open(plan.pages[0].path)
    if not plan.signed:
        for number, page in enumerate(source.pages):
            page.obj["/HosoSourceIndex"] = number
        return source
    copy = pikepdf.new()
    for number, page in enumerate(source.pages):
        copy.pages.append(page)
        copied = copy.pages[-1]
        if "/Annots" in copied.obj:
            del copied.obj["/Annots"]
        copied.obj["/HosoSourceIndex"] = number
    return copy


def _image_pages(
    plan: DocumentPlan, by_index: dict[int, PageOutcome], max_megapixels: float
) -> pikepdf.Pdf:
    pdf = pikepdf.new()
    for ref in plan.pages:
        try:
            image, dpi = load_page(ref, dpi=300, max_megapixels=max_megapixels)
        except Exception:  # the page's error is already recorded with its outcome
            continue
        xobject = _image_xobject(pdf, image)
        width, height = image.width * 72 / dpi, image.height * 72 / dpi
        content = f"q {width:.3f} 0 0 {height:.3f} 0 0 cm /Scan Do Q\n".encode()
        page = pikepdf.Dictionary(
            Type=pikepdf.Name.Page,
            MediaBox=[0, 0, width, height],
            Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(Scan=xobject)),
            Contents=pdf.make_stream(content),
            HosoSourceIndex=ref.index,
        )
        pdf.pages.append(pikepdf.Page(pdf.make_indirect(page)))
    return pdf


def _image_xobject(pdf: pikepdf.Pdf, image: Image.Image) -> pikepdf.Object:
    if image.mode == "1":
        mode, colour, bits = "1", pikepdf.Name.DeviceGray, 1
    elif image.mode in ("L", "LA", "P", "I", "I;16"):
        image, mode, colour, bits = image.convert("L"), "L", pikepdf.Name.DeviceGray, 8
    else:
        image, mode, colour, bits = image.convert("RGB"), "RGB", pikepdf.Name.DeviceRGB, 8
    data = zlib.compress(image.tobytes(), 6)
    stream = pdf.make_stream(data)
    stream.Type = pikepdf.Name.XObject
    stream.Subtype = pikepdf.Name.Image
    stream.Width, stream.Height = image.width, image.height
    stream.ColorSpace = colour
    stream.BitsPerComponent = bits
    stream.Filter = pikepdf.Name.FlateDecode
    del mode
    return stream


def _make_pdfa(pdf: pikepdf.Pdf, title: str) -> None:
    """Declare PDF/A-2b: XMP identification and an sRGB output intent."""
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    icc = pdf.make_stream(profile)
    icc.N = 3
    pdf.Root.OutputIntents = pikepdf.Array(
        [
            pikepdf.Dictionary(
                Type=pikepdf.Name.OutputIntent,
                S=pikepdf.Name.GTS_PDFA1,
                OutputConditionIdentifier="sRGB",
                Info="sRGB IEC61966-2.1",
                DestOutputProfile=icc,
            )
        ]
    )
    now = datetime.now(UTC).isoformat(timespec="seconds")
    with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
        meta["pdfaid:part"] = "2"
        meta["pdfaid:conformance"] = "B"
        meta["xmp:CreatorTool"] = "hoso OCR"
        meta["xmp:ModifyDate"] = now
        if title:
            meta["dc:title"] = title
    if "/AcroForm" in pdf.Root and "/NeedAppearances" in pdf.Root.AcroForm:
        del pdf.Root.AcroForm.NeedAppearances


def check_pdf(data: bytes) -> None:
    """Check the structure of a PDF with ``qpdf --check``.

    Raises:
        Internal: qpdf reports errors (a bug in rendition building).
    """
    with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
        handle.write(data)
        handle.flush()
        try:
            completed = subprocess.run(
                ["qpdf", "--check", handle.name],
                capture_output=True,
                timeout=_QPDF_TIMEOUT_SECONDS,
            )
        except subprocess.TimeoutExpired as e:
            raise Internal("qpdf --check did not finish") from e
    # qpdf exits 0 when clean and 3 for warnings only.
    if completed.returncode not in (0, 3):
        raise Internal(f"rendition failed qpdf --check: {completed.stdout.decode()[-500:]}")

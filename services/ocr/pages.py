"""Turn an input file (PDF, TIFF, JPEG, PNG) into page images to OCR.

:func:`plan_pages` runs in the service process: it recognises the type from the content,
refuses encrypted PDFs, counts pages, notes which PDF pages already carry text and whether
the PDF is signed. :func:`load_page` runs inside an OCR worker and decodes or renders one
page, so a corrupt page fails alone and the others are still processed.
"""

from __future__ import annotations

import enum
import io
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hoso.ocr.engine import check_pixels
from hoso.ocr.errors import CorruptInput, EncryptedPdf, PageTooLarge, UnsupportedInput
from PIL import Image, UnidentifiedImageError

__all__ = ["DocumentPlan", "InputKind", "PageRef", "load_page", "plan_pages", "sniff"]

# Scanners often omit the resolution; 300 dpi is what one-stop-shop scanning rules ask for.
_DEFAULT_IMAGE_DPI = 300.0
_PDFTOPPM_TIMEOUT_SECONDS = 120


class InputKind(enum.StrEnum):
    """The input formats OCR accepts."""

    PDF = "application/pdf"
    TIFF = "image/tiff"
    JPEG = "image/jpeg"
    PNG = "image/png"


@dataclass(frozen=True)
class PageRef:
    """One page of an input file, picklable so it can travel to a worker."""

    path: str
    kind: InputKind
    index: int
    has_text: bool = False
    """A PDF page that already has a text layer (skipped unless the job asks to redo)."""


@dataclass(frozen=True)
class DocumentPlan:
    """What :func:`plan_pages` found out about a file."""

    kind: InputKind
    pages: tuple[PageRef, ...]
    signed: bool = False
    """The PDF carries a digital signature: it must never be rewritten."""


def sniff(head: bytes) -> InputKind:
    """Recognise the format from the first bytes, never from a name.

    Raises:
        UnsupportedInput: Not a PDF, TIFF, JPEG or PNG.
    """
    if head.startswith(b"%PDF-"):
        return InputKind.PDF
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return InputKind.TIFF
    if head.startswith(b"\xff\xd8\xff"):
        return InputKind.JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return InputKind.PNG
    raise UnsupportedInput("OCR reads PDF, TIFF, JPEG or PNG files only", field="file")


def plan_pages(path: Path) -> DocumentPlan:
    """List the pages of the file at ``path``.

    Raises:
        UnsupportedInput: Unknown format.
        EncryptedPdf: The PDF is encrypted.
        CorruptInput: The file cannot be opened at all.
        PageTooLarge: An image beyond Pillow's decompression-bomb limit.
    """
    with path.open("rb") as stream:
        kind = sniff(stream.read(16))
    if kind is InputKind.PDF:
        return _plan_pdf(path)
    try:
        with Image.open(path) as image:
            count = getattr(image, "n_frames", 1)
    except Image.DecompressionBombError as e:
        raise PageTooLarge(f"image is too large to decode safely: {e}") from e
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise CorruptInput(f"the {kind.name} image cannot be read: {e}", field="file") from e
    refs = tuple(PageRef(path=str(path), kind=kind, index=i) for i in range(count))
    return DocumentPlan(kind=kind, pages=refs)


def _plan_pdf(path: Path) -> DocumentPlan:
    import pikepdf

    try:
        with pikepdf.open(path) as pdf:
            if pdf.is_encrypted:
                raise EncryptedPdf(
                    "the PDF is encrypted; store a decrypted copy to OCR it", field="file"
                )
            count = len(pdf.pages)
            signed = _is_signed(pdf)
    except pikepdf.PasswordError as e:
        raise EncryptedPdf(
            "the PDF is password-protected; store a decrypted copy to OCR it", field="file"
        ) from e
    except pikepdf.PdfError as e:
        raise CorruptInput(f"the PDF cannot be parsed: {e}", field="file") from e
    with_text = _pages_with_text(path, count)
    refs = tuple(
        PageRef(path=str(path), kind=InputKind.PDF, index=i, has_text=i in with_text)
        for i in range(count)
    )
    return DocumentPlan(kind=InputKind.PDF, pages=refs, signed=signed)


def _is_signed(pdf: object) -> bool:
    root = pdf.Root  # type: ignore[attr-defined]
    form = root.get("/AcroForm")
    if form is None:
        return False
    for field in form.get("/Fields", []):
        if field.get("/FT") == "/Sig" and field.get("/V") is not None:
            return True
    return False


def _pages_with_text(path: Path, count: int) -> set[int]:
    """Indexes of PDF pages that already hold extractable text."""
    try:
        import pypdfium2
    except ImportError:  # pragma: no cover - pypdfium2 ships with OCRmyPDF
        return set()
    found: set[int] = set()
    document = pypdfium2.PdfDocument(str(path))
    try:
        for index in range(count):
            page = document[index]
            text_page = page.get_textpage()
            if text_page.get_text_range().strip():
                found.add(index)
            text_page.close()
            page.close()
    finally:
        document.close()
    return found


def load_page(ref: PageRef, *, dpi: int, max_megapixels: float) -> tuple[Image.Image, float]:
    """Decode or render one page; runs in a worker.

    Returns:
        The page image and its resolution in dpi.

    Raises:
        PageTooLarge: The page exceeds ``max_megapixels``.
        CorruptInput: The page cannot be decoded.
    """
    if ref.kind is InputKind.PDF:
        return _render_pdf_page(ref, dpi=dpi, max_megapixels=max_megapixels), float(dpi)
    try:
        with Image.open(ref.path) as image:
            image.seek(ref.index)
            check_pixels(image.width, image.height, max_megapixels)
            image.load()
            page = image.copy()
    except Image.DecompressionBombError as e:
        raise PageTooLarge(f"page {ref.index + 1} is too large to decode safely") from e
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise CorruptInput(f"page {ref.index + 1} cannot be decoded: {e}") from e
    resolution = page.info.get("dpi", (_DEFAULT_IMAGE_DPI,))[0]
    dpi_found = float(resolution) if resolution and float(resolution) >= 70 else _DEFAULT_IMAGE_DPI
    return page, dpi_found


def _render_pdf_page(ref: PageRef, *, dpi: int, max_megapixels: float) -> Image.Image:
    try:
        import pypdfium2
    except ImportError:  # pragma: no cover - fall back to poppler
        return _render_with_pdftoppm(ref, dpi=dpi)
    try:
        document = pypdfium2.PdfDocument(ref.path)
        try:
            page = document[ref.index]
            width, height = page.get_size()
            check_pixels(round(width * dpi / 72), round(height * dpi / 72), max_megapixels)
            bitmap = page.render(scale=dpi / 72, grayscale=True)
            return bitmap.to_pil()
        finally:
            document.close()
    except pypdfium2.PdfiumError as e:
        raise CorruptInput(f"page {ref.index + 1} cannot be rendered: {e}") from e


def _render_with_pdftoppm(ref: PageRef, *, dpi: int) -> Image.Image:
    with tempfile.TemporaryDirectory(prefix="hoso-ocr-") as folder:
        page = str(ref.index + 1)
        command = ["pdftoppm", "-r", str(dpi), "-gray", "-png", "-f", page, "-l", page]
        try:
            subprocess.run(
                [*command, ref.path, f"{folder}/p"],
                check=True,
                capture_output=True,
                timeout=_PDFTOPPM_TIMEOUT_SECONDS,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
            raise CorruptInput(f"page {ref.index + 1} cannot be rendered: {e}") from e
        produced = sorted(Path(folder).glob("p*.png"))
        if not produced:
            raise CorruptInput(f"page {ref.index + 1} rendered to nothing")
        return Image.open(io.BytesIO(produced[0].read_bytes()))

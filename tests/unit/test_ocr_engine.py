"""OCR engine, page decoding and renditions on generated Vietnamese pages."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pikepdf
import pytest
from hoso.ocr.engine import EngineOptions, OcrEngine
from hoso.ocr.errors import CorruptInput, EncryptedPdf, PageTooLarge, UnsupportedInput
from hoso.ocr.pages import InputKind, load_page, plan_pages, sniff
from hoso.ocr.pool import PageOutcome
from hoso.ocr.rendition import build_rendition, check_pdf
from hoso.ocr.settings import DEFAULT_TESSDATA
from hoso.ocr.text import character_error_rate, fold, normalize_text
from PIL import Image

from tests.fixtures.ocr_pages import SamplePage, clean_page, scanned_pdf

pytestmark = pytest.mark.tesseract


@pytest.fixture(scope="module")
def engine() -> OcrEngine:
    built = OcrEngine(EngineOptions(tessdata=str(DEFAULT_TESSDATA)))
    yield built
    built.close()


def test_normalize_maps_eth_to_d_stroke_and_composes() -> None:
    assert normalize_text("\u00d0a\u0300") == "\u0110\u00e0"
    assert fold("Hồ Sơ ĐĂNG KÝ đường") == "ho so dang ky duong"


def test_character_error_rate_counts_edits() -> None:
    assert character_error_rate("hồ sơ", "hồ sơ") == 0.0
    assert character_error_rate("hồ sơ", "ho sơ") == pytest.approx(1 / 5)
    assert character_error_rate("a  b\n", "a b") == 0.0


def test_clean_page_cer_at_most_2_percent(engine: OcrEngine, vietnamese_page: SamplePage) -> None:
    result = engine.recognize(vietnamese_page.image, vietnamese_page.dpi)
    assert character_error_rate(vietnamese_page.text, result.text) <= 0.02
    assert "hồ sơ đăng ký" in result.text
    assert result.confidence > 80
    assert any(w.text == "Đống" for w in result.words)


def test_noisy_tilted_page_cer_at_most_10_percent(
    engine: OcrEngine, noisy_vietnamese_page: SamplePage
) -> None:
    result = engine.recognize(noisy_vietnamese_page.image, noisy_vietnamese_page.dpi)
    assert character_error_rate(noisy_vietnamese_page.text, result.text) <= 0.10
    assert abs(result.skew_degrees + 2.0) < 0.7  # the page was tilted 2° counter-clockwise


def test_upside_down_page_is_turned(engine: OcrEngine) -> None:
    page = clean_page(1)
    result = engine.recognize(page.image.rotate(180), page.dpi)
    assert result.rotation_degrees == 180.0
    assert character_error_rate(page.text, result.text) <= 0.02


def test_megapixel_guard(engine: OcrEngine) -> None:
    small = EngineOptions(tessdata=str(DEFAULT_TESSDATA), max_megapixels=0.5)
    limited = OcrEngine(small)
    try:
        with pytest.raises(PageTooLarge) as caught:
            limited.recognize(Image.new("L", (1000, 1000), 255), 300)
        assert caught.value.code.name == "RESOURCE_EXHAUSTED"
    finally:
        limited.close()


def test_sniff_refuses_unknown_content() -> None:
    assert sniff(b"%PDF-1.7\n") is InputKind.PDF
    with pytest.raises(UnsupportedInput):
        sniff(b"MZ\x90\x00 executable")


def test_encrypted_pdf_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "plain.pdf"
    source.write_bytes(scanned_pdf([clean_page(0)]))
    locked = tmp_path / "locked.pdf"
    with pikepdf.open(source) as pdf:
        pdf.save(locked, encryption=pikepdf.Encryption(owner="o", user="u"))
    with pytest.raises(EncryptedPdf) as caught:
        plan_pages(locked)
    assert caught.value.code.name == "FAILED_PRECONDITION"


def test_corrupt_pdf_is_invalid(tmp_path: Path) -> None:
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n" + b"\x00garbage" * 50)
    with pytest.raises(CorruptInput):
        plan_pages(broken)


def test_truncated_tiff_frame_fails_alone(tmp_path: Path) -> None:
    frames = [clean_page(0).image.resize((600, 300)), clean_page(1).image.resize((600, 300))]
    out = io.BytesIO()
    frames[0].save(out, format="TIFF", save_all=True, append_images=frames[1:])
    data = out.getvalue()
    tiff = tmp_path / "scan.tiff"
    tiff.write_bytes(data[: len(data) - 20000])  # cut into the second frame's pixels
    plan = plan_pages(tiff)
    assert len(plan.pages) == 2
    image, _ = load_page(plan.pages[0], dpi=300, max_megapixels=60)
    assert image.size == (600, 300)
    with pytest.raises(CorruptInput):
        load_page(plan.pages[1], dpi=300, max_megapixels=60)


def test_rendition_is_searchable_pdfa(tmp_path: Path, engine: OcrEngine) -> None:
    page = clean_page(0)
    source = tmp_path / "scan.pdf"
    source.write_bytes(scanned_pdf([page]))
    plan = plan_pages(source)
    image, dpi = load_page(plan.pages[0], dpi=200, max_megapixels=60)
    outcome = PageOutcome(index=0, result=engine.recognize(image, dpi))
    rendition = build_rendition(plan, [outcome], tessdata=DEFAULT_TESSDATA, title="Đơn")
    check_pdf(rendition)
    target = tmp_path / "ocr.pdf"
    target.write_bytes(rendition)
    text = subprocess.run(
        ["pdftotext", str(target), "-"], capture_output=True, check=True, timeout=60
    ).stdout.decode()
    assert "hồ sơ đăng ký" in normalize_text(text)
    with pikepdf.open(target) as pdf:
        meta = pdf.open_metadata()
        assert meta["pdfaid:part"] == "2" and meta["pdfaid:conformance"] == "B"
        assert "/OutputIntents" in pdf.Root

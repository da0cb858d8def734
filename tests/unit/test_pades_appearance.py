"""Decree 30 official appearance: title above, signature image between, name below, all
in an embedded font that has every Vietnamese glyph (checked with poppler's own text layer
and rendering, not with our code)."""

from __future__ import annotations

import re
import subprocess
import tempfile
import unicodedata
from html import unescape
from pathlib import Path

import pytest
from hoso.signing.pades.appearance import Appearance, AppearanceKind
from hoso.signing.pades.engine import PadesEngine, SignRequest
from hoso.signing.pades.environment import TrustEnvironment
from hoso.signing.pades.inputs import spool_bytes
from hoso.signing.pades.levels import SignatureLevel
from hoso.signing.pades.placement import Placement
from PIL import Image

from tests.fixtures.pades import ThrowawayPki, make_pdf

pytestmark = pytest.mark.asyncio

# The field: 200 x 150 pt, lower-left corner at (300, 200) on an A4 page (842 pt high).
_RECT = (300.0, 200.0, 500.0, 350.0)
_PAGE_HEIGHT = 842.0


async def _sign(engine: PadesEngine, pdf: bytes, credential, request: SignRequest) -> bytes:  # type: ignore[no-untyped-def]
    with spool_bytes(pdf, max_bytes=10**8) as document, tempfile.TemporaryFile() as out:
        await engine.sign(document, credential, request, out)
        out.seek(0)
        return out.read()


def _words(pdf: Path) -> list[tuple[str, float, float, float, float]]:
    """pdftotext's words with their boxes (x_min, y_min, x_max, y_max; y from the top)."""
    html = subprocess.run(
        ["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, timeout=60, check=True
    ).stdout.decode()
    pattern = re.compile(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>'
    )
    return [
        (unescape(m[5]), float(m[1]), float(m[2]), float(m[3]), float(m[4]))
        for m in pattern.finditer(html)
    ]


def _blue_rows(pdf: Path, work: Path) -> tuple[int, int]:
    """Top and bottom pixel rows (72 dpi: 1 px = 1 pt, from the top) of the blue ink."""
    subprocess.run(
        ["pdftoppm", "-r", "72", "-png", "-singlefile", str(pdf), str(work / "page")],
        check=True,
        timeout=60,
    )
    image = Image.open(work / "page.png").convert("RGB")
    rows = [
        y
        for y in range(image.height)
        for x in range(int(_RECT[0]), int(_RECT[2]))
        if (lambda p: p[2] > 150 and p[0] < 80 and p[1] < 120)(image.getpixel((x, y)))
    ]
    assert rows, "no blue signature ink was drawn"
    return min(rows), max(rows)


async def test_official_appearance_draws_title_image_and_name(
    pades_env: TrustEnvironment,
    throwaway_pki: ThrowawayPki,
    signature_png: bytes,
    tmp_path: Path,
) -> None:
    title = "KT. CHỦ TỊCH / PHÓ CHỦ TỊCH"
    # decomposed on purpose: the drawn name must come out NFC
    name = unicodedata.normalize("NFD", "Nguyễn Thị Ánh Tuyết")
    signed = await _sign(
        PadesEngine(pades_env),
        make_pdf(),
        throwaway_pki.official,
        SignRequest(
            level=SignatureLevel.B_B,
            placement=Placement(page=1, rect=_RECT),
            appearance=Appearance(
                AppearanceKind.SIGNATURE_IMAGE,
                image_png=signature_png,
                title=title,
                signer_name=name,
            ),
        ),
    )
    pdf = tmp_path / "signed.pdf"
    pdf.write_bytes(signed)
    words = [w for w in _words(pdf) if w[1] >= _RECT[0] - 1 and w[3] <= _RECT[2] + 1]
    text = unicodedata.normalize("NFC", " ".join(w[0] for w in words))
    assert "KT. CHỦ TỊCH PHÓ CHỦ TỊCH" in text, text
    assert "Nguyễn Thị Ánh Tuyết" in text, text
    assert all(unicodedata.is_normalized("NFC", w[0]) for w in words)
    # pdftotext may report a drawn line as one "word" (the text carries /ActualText)
    kt = next(w for w in words if w[0].startswith("KT."))
    pho = next(w for w in words if w[0].startswith("PHÓ"))
    name_words = [w for w in words if w[0].startswith("Nguyễn") or w[0].endswith("Tuyết")]
    title_bottom = max(kt[4], pho[4])
    name_top = min(w[2] for w in name_words)
    field_top, field_bottom = _PAGE_HEIGHT - _RECT[3], _PAGE_HEIGHT - _RECT[1]
    assert field_top - 1 <= min(kt[2], pho[2])
    assert title_bottom < name_top
    assert max(w[4] for w in name_words) <= field_bottom + 1
    # the title's two lines: KT. above PHÓ; title and name centred in the field
    assert kt[2] < pho[2]
    centre = (_RECT[0] + _RECT[2]) / 2
    for line in (kt, pho, (None, min(w[1] for w in name_words), 0, max(w[3] for w in name_words))):
        assert abs((line[1] + line[3]) / 2 - centre) < 3, line
    ink_top, ink_bottom = _blue_rows(pdf, tmp_path)
    assert title_bottom <= ink_top and ink_bottom <= name_top


async def test_official_appearance_names_the_certificate_holder_by_default(
    pades_env: TrustEnvironment,
    throwaway_pki: ThrowawayPki,
    signature_png: bytes,
    tmp_path: Path,
) -> None:
    signed = await _sign(
        PadesEngine(pades_env),
        make_pdf(),
        throwaway_pki.official,
        SignRequest(
            level=SignatureLevel.B_B,
            placement=Placement(page=1, rect=_RECT),
            appearance=Appearance(AppearanceKind.SIGNATURE_IMAGE, image_png=signature_png),
        ),
    )
    pdf = tmp_path / "signed.pdf"
    pdf.write_bytes(signed)
    common_name = throwaway_pki.official.certificate.subject.native["common_name"]
    text = " ".join(w[0] for w in _words(pdf) if w[1] >= _RECT[0] - 1)
    assert unicodedata.normalize("NFC", common_name) in unicodedata.normalize("NFC", text)


async def test_appearance_images_travel_with_the_request_only() -> None:
    """No half-supported "stored image" names: the proto offers PNG bytes only."""
    from hoso.common.errors import InvalidArgument
    from hoso.signing.pades.options import sign_request_from_options
    from hoso.signing.v1 import signing_pb2 as pb

    fields = pb.Appearance.DESCRIPTOR.fields_by_name
    assert "stored_signature_image" not in fields and "stored_seal_image" not in fields
    assert fields["signature_image_png"].containing_oneof is None
    for kind, missing in (
        (pb.APPEARANCE_KIND_OFFICIAL, "signature_image_png"),
        (pb.APPEARANCE_KIND_AGENCY_SEAL, "seal_image_png"),
    ):
        options = pb.SignatureOptions(appearance=pb.Appearance(kind=kind))
        with pytest.raises(InvalidArgument) as caught:
            sign_request_from_options(
                options, default_level=SignatureLevel.B_T, verification_url="https://x/verify"
            )
        assert caught.value.field == f"header.options.appearance.{missing}"

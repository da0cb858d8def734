"""Workflows: certification with DocMDP, sequential signatures, field locks, appearances."""

from __future__ import annotations

import io
import tempfile

import pytest
from hoso.common.errors import FailedPrecondition, InvalidArgument
from hoso.signing.pades.appearance import Appearance, AppearanceKind
from hoso.signing.pades.engine import PadesEngine, SignRequest
from hoso.signing.pades.environment import TrustEnvironment
from hoso.signing.pades.inputs import spool_bytes
from hoso.signing.pades.levels import SignatureLevel
from hoso.signing.pades.placement import Placement
from hoso.signing.pades.qr import QrPayload
from hoso.signing.pades.workflows import FieldLock, LockAction
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.fields import MDPPerm
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from tests.fixtures.pades import ThrowawayPki, _asn1, make_pdf

pytestmark = pytest.mark.asyncio
B_B = SignatureLevel.B_B


async def _sign(engine: PadesEngine, pdf: bytes, credential, request: SignRequest) -> bytes:
    with spool_bytes(pdf, max_bytes=10**8) as document, tempfile.TemporaryFile() as out:
        await engine.sign(document, credential, request, out)
        out.seek(0)
        return out.read()


async def _statuses(pdf: bytes, pki: ThrowawayPki) -> list:
    context = ValidationContext(trust_roots=[_asn1(pki.root)], allow_fetching=False)
    reader = PdfFileReader(io.BytesIO(pdf))
    return [
        await async_validate_pdf_signature(sig, context)
        for sig in reader.embedded_regular_signatures
    ]


@pytest.mark.parametrize("permission", [1, 2, 3])
async def test_certification_records_docmdp(
    permission: int, pades_env: TrustEnvironment, throwaway_pki: ThrowawayPki
) -> None:
    signed = await _sign(
        PadesEngine(pades_env),
        make_pdf(),
        throwaway_pki.official,
        SignRequest(level=B_B, certify=permission),
    )
    (status,) = await _statuses(signed, throwaway_pki)
    assert status.bottom_line and status.docmdp_ok
    from pyhanko.sign.validation import read_certification_data

    certification = read_certification_data(PdfFileReader(io.BytesIO(signed)))
    assert certification is not None and certification.permission == MDPPerm(permission)


async def test_docmdp_p1_refuses_further_signatures(
    pades_env: TrustEnvironment, throwaway_pki: ThrowawayPki
) -> None:
    engine = PadesEngine(pades_env)
    certified = await _sign(
        engine, make_pdf(), throwaway_pki.official, SignRequest(level=B_B, certify=1)
    )
    with pytest.raises(FailedPrecondition, match="P=1"):
        await _sign(engine, certified, throwaway_pki.agency, SignRequest(level=B_B))


async def test_certify_after_a_signature_is_refused(
    pades_env: TrustEnvironment, throwaway_pki: ThrowawayPki
) -> None:
    engine = PadesEngine(pades_env)
    once = await _sign(engine, make_pdf(), throwaway_pki.official, SignRequest(level=B_B))
    with pytest.raises(FailedPrecondition, match="first signature"):
        await _sign(engine, once, throwaway_pki.agency, SignRequest(level=B_B, certify=2))


async def test_bad_docmdp_value_names_the_field(
    pades_env: TrustEnvironment, throwaway_pki: ThrowawayPki
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await _sign(
            PadesEngine(pades_env), make_pdf(), throwaway_pki.official, SignRequest(certify=7)
        )
    assert caught.value.field == "certify"


async def test_sequential_officer_leader_seal_keep_earlier_signatures_valid(
    pades_env: TrustEnvironment,
    throwaway_pki: ThrowawayPki,
    signature_png: bytes,
    seal_png: bytes,
) -> None:
    engine = PadesEngine(pades_env)
    pdf = await _sign(
        engine,
        make_pdf(),
        throwaway_pki.official,
        SignRequest(level=SignatureLevel.B_T, field_name="ChuyenVien", create_field=True),
    )
    pdf = await _sign(
        engine,
        pdf,
        throwaway_pki.official,
        SignRequest(
            level=SignatureLevel.B_T,
            field_name="LanhDao",
            placement=Placement(anchor_text="Nguyen Van Thanh", offset_y=20, width=150, height=70),
            appearance=Appearance(AppearanceKind.SIGNATURE_IMAGE, image_png=signature_png),
        ),
    )
    pdf = await _sign(
        engine,
        pdf,
        throwaway_pki.agency,
        SignRequest(
            level=SignatureLevel.B_T,
            field_name="DauCoQuan",
            placement=Placement(overlap_field="LanhDao"),
            appearance=Appearance(AppearanceKind.SEAL, image_png=seal_png, seal_diameter_mm=36),
        ),
    )
    statuses = await _statuses(pdf, throwaway_pki)
    assert len(statuses) == 3
    for status in statuses:
        assert status.bottom_line, status.pretty_print_details()
        assert status.modification_level in (
            ModificationLevel.NONE,
            ModificationLevel.LTA_UPDATES,
            ModificationLevel.FORM_FILLING,
        )
    # the seal overlaps the left third of the official's signature image, at real size
    reader = PdfFileReader(io.BytesIO(pdf))
    rects = {}
    for field in reader.root["/AcroForm"]["/Fields"]:
        field = field.get_object()
        rects[field["/T"]] = [float(v) for v in field["/Rect"]]
    sig, seal = rects["LanhDao"], rects["DauCoQuan"]
    assert seal[2] == pytest.approx(sig[0] + (sig[2] - sig[0]) / 3, abs=0.05)
    assert seal[2] - seal[0] == pytest.approx(36 * 72 / 25.4, abs=0.05)


async def test_approval_after_certification_p2_keeps_certification_valid(
    pades_env: TrustEnvironment, throwaway_pki: ThrowawayPki
) -> None:
    engine = PadesEngine(pades_env)
    pdf = await _sign(engine, make_pdf(), throwaway_pki.official, SignRequest(level=B_B, certify=2))
    pdf = await _sign(engine, pdf, throwaway_pki.agency, SignRequest(level=B_B))
    statuses = await _statuses(pdf, throwaway_pki)
    assert [s.bottom_line for s in statuses] == [True, True]


async def test_field_lock_is_recorded_and_locked_field_is_refused(
    pades_env: TrustEnvironment, throwaway_pki: ThrowawayPki
) -> None:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign.fields import SigFieldSpec, append_signature_field

    writer = IncrementalPdfFileWriter(io.BytesIO(make_pdf()))
    append_signature_field(writer, SigFieldSpec("Later"))
    buffer = io.BytesIO()
    writer.write(buffer)
    engine = PadesEngine(pades_env)
    locked = await _sign(
        engine,
        buffer.getvalue(),
        throwaway_pki.official,
        SignRequest(
            level=B_B,
            field_name="First",
            create_field=True,
            lock=FieldLock(LockAction.INCLUDE, ("Later",)),
        ),
    )
    reader = PdfFileReader(io.BytesIO(locked))
    first = next(
        f.get_object()
        for f in reader.root["/AcroForm"]["/Fields"]
        if f.get_object()["/T"] == "First"
    )
    assert first["/Lock"]["/Action"] == "/Include"
    with pytest.raises(FailedPrecondition, match="locked"):
        await _sign(
            engine, locked, throwaway_pki.agency, SignRequest(level=B_B, field_name="Later")
        )


async def test_copy_stamp_text_block_top_right_with_vietnamese_font(
    pades_env: TrustEnvironment, throwaway_pki: ThrowawayPki
) -> None:
    signed = await _sign(
        PadesEngine(pades_env),
        make_pdf(),
        throwaway_pki.agency,
        SignRequest(
            level=B_B,
            appearance=Appearance(
                AppearanceKind.COPY_TEXT, document_number="123/QĐ-UBND", copy_type="Bản sao điện tử"
            ),
        ),
    )
    reader = PdfFileReader(io.BytesIO(signed))
    field = reader.root["/AcroForm"]["/Fields"][0].get_object()
    _x1, _y1, x2, y2 = (float(v) for v in field["/Rect"])
    assert x2 > 500 and y2 > 780  # top right of an A4 page
    # Times New Roman's metrics with every Vietnamese letter (fonts-liberation2).
    assert "LiberationSerif" in _fonts(signed)
    (status,) = await _statuses(signed, throwaway_pki)
    assert status.bottom_line
    text = _page_text(signed)
    assert "Bản sao điện tử" in text and "123/QĐ-UBND" in text and "+07:00" in text
    assert "Thời gian ký" in text


def _fonts(pdf: bytes) -> str:
    import subprocess

    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(pdf)
        f.flush()
        out = subprocess.run(["pdffonts", f.name], capture_output=True, timeout=60, check=True)
    return out.stdout.decode()


def _page_text(pdf: bytes) -> str:
    import subprocess

    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(pdf)
        f.flush()
        # pdftotext renders annotation appearances too
        out = subprocess.run(
            ["pdftotext", "-layout", f.name, "-"], capture_output=True, timeout=60, check=True
        )
    return out.stdout.decode()


async def test_qr_code_decodes_to_verification_url(
    pades_env: TrustEnvironment, throwaway_pki: ThrowawayPki, tmp_path
) -> None:
    import subprocess

    from PIL import Image
    from pyzbar.pyzbar import decode

    payload = QrPayload(
        dossier_code="000.00.01.H56-250101-0001",
        procedure_code="1.001234",
        applicant_id="001099012345",
        document_name="Giấy chứng nhận đăng ký hộ kinh doanh",
        verification_url="https://hoso.example.gov.vn/verify",
        size=96,
    )
    signed = await _sign(
        PadesEngine(pades_env),
        make_pdf(),
        throwaway_pki.official,
        SignRequest(level=B_B, qr=payload),
    )
    (tmp_path / "qr.pdf").write_bytes(signed)
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "150",
            "-png",
            "-singlefile",
            str(tmp_path / "qr.pdf"),
            str(tmp_path / "page"),
        ],
        check=True,
        timeout=60,
    )
    codes = decode(Image.open(tmp_path / "page.png"))
    assert [c.data.decode() for c in codes] == [payload.url()]
    assert "document=Gi%E1%BA%A5y" in payload.url()
    (status,) = await _statuses(signed, throwaway_pki)
    assert status.bottom_line
    # a QR on an already signed document would change signed page content
    with pytest.raises(FailedPrecondition, match="before the first signature"):
        await _sign(
            PadesEngine(pades_env), signed, throwaway_pki.agency, SignRequest(level=B_B, qr=payload)
        )


async def test_anchor_not_found_and_bad_rect(
    pades_env: TrustEnvironment, throwaway_pki: ThrowawayPki, signature_png: bytes
) -> None:
    engine = PadesEngine(pades_env)
    image = Appearance(AppearanceKind.SIGNATURE_IMAGE, image_png=signature_png)
    with pytest.raises(InvalidArgument, match="not found") as caught:
        await _sign(
            engine,
            make_pdf(),
            throwaway_pki.official,
            SignRequest(placement=Placement(anchor_text="KHONG CO"), appearance=image),
        )
    assert caught.value.field == "placement.anchor_text"
    with pytest.raises(InvalidArgument) as caught:
        await _sign(
            engine,
            make_pdf(),
            throwaway_pki.official,
            SignRequest(placement=Placement(page=1, rect=(10, 10, 5, 50)), appearance=image),
        )
    assert caught.value.field == "placement.rect"
    with pytest.raises(InvalidArgument) as caught:
        await _sign(
            engine,
            make_pdf(),
            throwaway_pki.official,
            SignRequest(placement=Placement(page=9, rect=(10, 10, 50, 50)), appearance=image),
        )
    assert caught.value.field == "placement.page"

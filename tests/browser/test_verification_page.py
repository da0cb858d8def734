"""The public verification pages in a real headless Chromium (Debian's, through Playwright).

Open the link in the QR code of a signed, archived result: the page says VALID and names the
signer. Upload a tampered copy through the form: the page says MODIFIED.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from hoso.client import Clients, samples
from hoso.signing.v1 import signing_pb2 as sign_pb
from hoso.signing.v1 import trust_pb2 as trust_pb
from hoso.storage.v1 import storage_pb2 as storage_pb

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(300)]

CHROMIUM = "/usr/bin/chromium"
SIGNER = "Lê Thị Ánh Tuyết"


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Any]:
    """Debian's Chromium, headless (never a downloaded browser)."""
    if not Path(CHROMIUM).exists():
        from tests.fixtures.servers import require_server

        require_server("chromium", f"{CHROMIUM} missing: apt-get install chromium")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        instance = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield instance
        finally:
            await instance.close()


async def test_upload_form_is_accessible_on_a_phone(start_server, browser) -> None:
    handle = await start_server(["signing"])
    page = await browser.new_page(viewport={"width": 360, "height": 740})
    await page.goto(f"{handle.http_url}/verify")
    assert await page.get_attribute("html", "lang") == "vi"
    # the file input is reachable by its visible label, and nothing overflows the screen
    assert await page.get_by_label("Tệp PDF").count() == 1
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360
    await page.get_by_role("link", name="English").click()
    assert await page.get_attribute("html", "lang") == "en"
    assert await page.get_by_label("PDF file").count() == 1


def _qr_link(pdf: bytes, tmp_path: Path) -> str:
    """Render page 1 (poppler) and decode the QR code on it (zbar)."""
    from PIL import Image
    from pyzbar.pyzbar import ZBarSymbol, decode

    source = tmp_path / "signed.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        [
            shutil.which("pdftoppm") or "pdftoppm",
            "-r",
            "200",
            "-f",
            "1",
            "-l",
            "1",
            "-png",
            str(source),
            str(tmp_path / "page"),
        ],
        check=True,
        timeout=60,
    )
    (image,) = sorted(tmp_path.glob("page*.png"))
    codes = decode(Image.open(image), symbols=[ZBarSymbol.QRCODE])
    assert codes, "no QR code found on page 1"
    return codes[0].data.decode()


def _tamper(pdf: bytes) -> bytes:
    """Append a revision that paints over the signed page: a signature valid, content changed."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    stream = writer.add_object(
        generic.StreamObject(stream_data=b"q 1 0 0 rg 60 300 300 120 re f Q")
    )
    writer.add_stream_to_page(0, stream)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


async def test_qr_link_shows_valid_and_tampered_upload_shows_modified(
    start_server, browser, tmp_path
) -> None:
    handle = await start_server(["signing", "storage"])
    served = {r.service_name for r in handle.running.registrations}
    for needed in ("hoso.signing.v1.SigningService", "hoso.signing.v1.VerificationService"):
        if needed not in served:
            pytest.skip(f"{needed} is not served yet")
    hoso = Clients(handle.channel("operator"))
    dossier = storage_pb.Dossier(
        dossier_code="H26-240315-0007",
        procedure_code="1.001612",
        agency_code="000.00.01.H26",
        applicant_id="001190012345",
        title="Đăng ký hộ kinh doanh",
    )
    dossier.receive_time.GetCurrentTime()
    created = await hoso.archive.create_dossier(dossier)
    certificate = await hoso.trust.issue_certificate(
        trust_pb.DistinguishedName(common_name=SIGNER, organization="UBND quận Đống Đa"),
        trust_pb.CERTIFICATE_PROFILE_OFFICIAL,
    )
    credential = await hoso.trust.create_credential(certificate.name, owner=SIGNER, pin="246810")
    from hoso.signing.web.routes import verification_url

    link = verification_url(handle.http_url, created.dossier_code, "ket-qua.pdf")
    options = sign_pb.SignatureOptions(
        level=sign_pb.PADES_LEVEL_B_LT,
        placement=sign_pb.Placement(
            new_field=sign_pb.NewFieldPlacement(
                page=1, rect=sign_pb.Rectangle(x1=330, y1=560, x2=530, y2=660)
            )
        ),
        appearance=sign_pb.Appearance(
            kind=sign_pb.APPEARANCE_KIND_OFFICIAL,
            signature_image_png=samples.signature_png(),
            title="KT. CHỦ TỊCH / PHÓ CHỦ TỊCH",
        ),
        qr_code=sign_pb.QrCodeOptions(
            enabled=True,
            dossier_code=created.dossier_code,
            procedure_code="1.001612",
            applicant_id="001190012345",
            document_name="Giấy chứng nhận",
            # no verification_url: the QR links to this service's page of the archived file
        ),
    )
    result, signed = await hoso.signing.sign_pdf(
        sign_pb.SignPdfHeader(
            credential=credential.name,
            consent=sign_pb.Consent(pin="246810"),
            options=options,
            filename="ket-qua.pdf",
        ),
        samples.result_document(),
    )
    await hoso.archive.put_file(
        storage_pb.PutFileHeader(
            dossier=created.name,
            filename="ket-qua.pdf",
            component_type=storage_pb.COMPONENT_TYPE_RESULT,
            expected_sha256=result.sha256,
        ),
        signed,
    )

    qr_url = _qr_link(signed, tmp_path)
    assert qr_url.startswith(f"{link}?"), qr_url
    page = await browser.new_page(viewport={"width": 390, "height": 844})
    await page.goto(qr_url)
    assert await page.get_attribute("html", "lang") == "vi"
    assert await page.get_attribute("#verdict", "data-verdict") == "VALID"
    body = await page.inner_text("main")
    assert "VALID" in body and SIGNER in body

    tampered = tmp_path / "tampered.pdf"
    tampered.write_bytes(_tamper(signed))
    await page.goto(f"{handle.http_url}/verify?lang=en")
    await page.get_by_label("PDF file").set_input_files(str(tampered))
    await page.get_by_role("button", name="Verify").click()
    await page.wait_for_selector("#verdict")
    assert await page.get_attribute("#verdict", "data-verdict") == "MODIFIED"
    assert "MODIFIED" in await page.inner_text("main")

"""A signed PDF is never rewritten by OCR: the original keeps valid signatures."""

from __future__ import annotations

import hashlib
import io
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pikepdf
import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from hoso.ocr.document import ocr_document
from hoso.ocr.engine import EngineOptions
from hoso.ocr.pool import OcrPool
from hoso.ocr.settings import DEFAULT_TESSDATA
from hoso.ocr.text import normalize_text
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from tests.fixtures.ocr_pages import clean_page, scanned_pdf

pytestmark = pytest.mark.tesseract


def _self_signed() -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "UBND quận Đống Đa (test)")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, True, True, False, False), critical=True
        )
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _validate(data: bytes, root: asn1_x509.Certificate) -> tuple[bool, bool]:
    reader = PdfFileReader(io.BytesIO(data))
    (embedded,) = reader.embedded_signatures
    status = validate_pdf_signature(embedded, ValidationContext(trust_roots=[root]))
    return status.intact, status.valid


def test_signed_pdf_stays_valid_and_gets_a_sidecar(tmp_path: Path) -> None:
    key, cert = _self_signed()
    der_key = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    root = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    signer = signers.SimpleSigner(
        signing_cert=root,
        signing_key=asn1_keys.PrivateKeyInfo.load(der_key),
        cert_registry=SimpleCertificateStore.from_certs([root]),
    )
    # Pillow writes generation 65536 for the free object 0; pyHanko (rightly) refuses that.
    clean = io.BytesIO()
    with pikepdf.open(io.BytesIO(scanned_pdf([clean_page(0)]))) as pdf:
        pdf.save(clean)
    writer = IncrementalPdfFileWriter(io.BytesIO(clean.getvalue()))
    signed = signers.sign_pdf(
        writer, signers.PdfSignatureMetadata(field_name="KyBoiCoQuan"), signer=signer
    ).getvalue()
    assert _validate(signed, root) == (True, True)
    original = tmp_path / "signed.pdf"
    original.write_bytes(signed)
    digest = hashlib.sha256(signed).hexdigest()

    pool = OcrPool(EngineOptions(tessdata=str(DEFAULT_TESSDATA)), 1)
    try:
        result = ocr_document(original, pool, dpi=200)
    finally:
        pool.close()

    assert result.plan.signed
    assert hashlib.sha256(original.read_bytes()).hexdigest() == digest
    assert _validate(original.read_bytes(), root) == (True, True)
    assert result.rendition is not None and result.rendition != signed
    with pikepdf.open(io.BytesIO(result.rendition)) as sidecar:
        assert "/AcroForm" not in sidecar.Root
        assert all("/Annots" not in page.obj for page in sidecar.pages)
        assert sidecar.open_metadata()["pdfaid:part"] == "2"
    (tmp_path / "sidecar.pdf").write_bytes(result.rendition)
    text = subprocess.run(
        ["pdftotext", str(tmp_path / "sidecar.pdf"), "-"], capture_output=True, timeout=60
    ).stdout.decode()
    assert "hồ sơ đăng ký" in normalize_text(text)

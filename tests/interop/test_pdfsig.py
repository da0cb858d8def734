"""Independent validators accept our signatures: poppler's pdfsig (NSS), qpdf, openssl ts."""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from asn1crypto import cms
from hoso.signing.pades.engine import PadesEngine, SignRequest
from hoso.signing.pades.environment import TrustEnvironment
from hoso.signing.pades.inputs import spool_bytes
from hoso.signing.pades.levels import SignatureLevel
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature, async_validate_pdf_timestamp
from pyhanko_certvalidator import ValidationContext

from tests.fixtures.pades import ThrowawayPki, _asn1, make_pdf, pdfsig_check

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.skipif(
        any(shutil.which(tool) is None for tool in ("pdfsig", "certutil", "qpdf", "openssl")),
        reason="needs poppler-utils (pdfsig), libnss3-tools (certutil), qpdf and openssl",
    ),
]


async def _signed_file(
    tmp_path: Path,
    env: TrustEnvironment,
    pki: ThrowawayPki,
    level: SignatureLevel,
    credential_name: str,
) -> Path:
    credential = getattr(pki, credential_name)
    with spool_bytes(make_pdf(), max_bytes=10**8) as document, tempfile.TemporaryFile() as out:
        await PadesEngine(env).sign(document, credential, SignRequest(level=level), out)
        out.seek(0)
        path = tmp_path / f"{level}-{credential_name}.pdf"
        path.write_bytes(out.read())
    return path


@pytest.mark.parametrize("credential_name", ["official", "agency"])
@pytest.mark.parametrize("level", list(SignatureLevel))
async def test_pdfsig_says_valid_and_trusted(
    level: SignatureLevel,
    credential_name: str,
    tmp_path: Path,
    pades_env: TrustEnvironment,
    throwaway_pki: ThrowawayPki,
) -> None:
    path = await _signed_file(tmp_path, pades_env, throwaway_pki, level, credential_name)
    report = pdfsig_check(path, throwaway_pki.root_pem(tmp_path / "root.pem"), tmp_path)
    first_signature = report.split("Signature #2")[0]
    assert "Signature Validation: Signature is Valid." in first_signature, report
    assert "Certificate Validation: Certificate is Trusted." in first_signature, report
    assert "ETSI.CAdES.detached" in first_signature
    qpdf = subprocess.run(
        ["qpdf", "--check", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert qpdf.returncode == 0, qpdf.stdout + qpdf.stderr
    assert "No syntax or stream encoding errors found" in qpdf.stdout


async def test_lta_document_timestamp_verifies_with_pyhanko_and_openssl(
    tmp_path: Path, pades_env: TrustEnvironment, throwaway_pki: ThrowawayPki
) -> None:
    path = await _signed_file(tmp_path, pades_env, throwaway_pki, SignatureLevel.B_LTA, "official")
    reader = PdfFileReader(io.BytesIO(path.read_bytes()))
    context = ValidationContext(trust_roots=[_asn1(throwaway_pki.root)], allow_fetching=False)
    (doc_ts,) = reader.embedded_timestamp_signatures
    ts_status = await async_validate_pdf_timestamp(doc_ts, validation_context=context)
    assert ts_status.intact and ts_status.valid and ts_status.trusted
    signature_status = await async_validate_pdf_signature(
        reader.embedded_regular_signatures[0], context
    )
    assert signature_status.bottom_line

    # openssl ts -verify over the exact byte ranges the document timestamp covers
    start1, len1, start2, len2 = (int(v) for v in doc_ts.sig_object["/ByteRange"])
    data = path.read_bytes()
    (tmp_path / "covered.bin").write_bytes(
        data[start1 : start1 + len1] + data[start2 : start2 + len2]
    )
    # /Contents is zero-padded: let the DER parser find the token's own end
    token = cms.ContentInfo.load(bytes(doc_ts.sig_object["/Contents"]), strict=False)
    (tmp_path / "token.der").write_bytes(token.dump(force=True))
    chain = tmp_path / "chain.pem"
    from cryptography.hazmat.primitives import serialization

    chain.write_bytes(
        throwaway_pki.ca.public_bytes(serialization.Encoding.PEM)
        + throwaway_pki.root.public_bytes(serialization.Encoding.PEM)
    )
    verify = subprocess.run(
        [
            "openssl",
            "ts",
            "-verify",
            "-token_in",
            "-in",
            str(tmp_path / "token.der"),
            "-data",
            str(tmp_path / "covered.bin"),
            "-CAfile",
            str(chain),
            "-untrusted",
            str(chain),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert verify.returncode == 0 and "Verification: OK" in verify.stdout, (
        verify.stdout + verify.stderr
    )


@pytest.mark.parametrize("level", ["B_T", "B_LT"])
async def test_pdfsig_through_grpc(level: str, tmp_path: Path, signing_server) -> None:  # type: ignore[no-untyped-def]
    """Signed by the running service with a credential of its own CA; pdfsig fetches OCSP and
    CRLs from the service's HTTP endpoints."""
    from hoso.signing.v1 import signing_pb2 as pb

    from tests.fixtures.pades import async_pdfsig_check
    from tests.integration.test_signing_api import sign

    _, signed = await sign(signing_server, make_pdf(), level=getattr(pb, f"PADES_LEVEL_{level}"))
    path = tmp_path / f"{level}.pdf"
    path.write_bytes(signed)
    root = tmp_path / "root.pem"
    root.write_bytes(signing_server.root_pem)
    report = await async_pdfsig_check(path, root, tmp_path)
    assert "Signature Validation: Signature is Valid." in report, report
    assert "Certificate Validation: Certificate is Trusted." in report, report
    qpdf = subprocess.run(
        ["qpdf", "--check", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert qpdf.returncode == 0, qpdf.stdout + qpdf.stderr

"""ExtendSignature to LT/LTA and CAdES detached signatures."""

from __future__ import annotations

import io
import subprocess
import tempfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from hoso.common.errors import InvalidArgument
from hoso.signing.pades.cades import sign_detached
from hoso.signing.pades.engine import PadesEngine, SignRequest
from hoso.signing.pades.environment import TrustEnvironment
from hoso.signing.pades.extend import extend_signatures
from hoso.signing.pades.inputs import spool_bytes
from hoso.signing.pades.levels import SignatureLevel
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from tests.fixtures.pades import ThrowawayPki, _asn1, make_pdf

pytestmark = pytest.mark.asyncio


@pytest.mark.parametrize("target", [SignatureLevel.B_LT, SignatureLevel.B_LTA])
async def test_extend_b_t_to_lt_and_lta(
    target: SignatureLevel, pades_env: TrustEnvironment, throwaway_pki: ThrowawayPki
) -> None:
    engine = PadesEngine(pades_env)
    with spool_bytes(make_pdf(), max_bytes=10**8) as doc, tempfile.TemporaryFile() as out:
        await engine.sign(doc, throwaway_pki.official, SignRequest(), out)
        signed = out.read()
    with spool_bytes(signed, max_bytes=10**8) as doc, tempfile.TemporaryFile() as out:
        count = await extend_signatures(engine, doc, target, out)
        extended = out.read()
    assert count == 1
    reader = PdfFileReader(io.BytesIO(extended))
    assert "/DSS" in reader.root
    assert bool(reader.embedded_timestamp_signatures) == (target is SignatureLevel.B_LTA)
    context = ValidationContext(trust_roots=[_asn1(throwaway_pki.root)], allow_fetching=False)
    status = await async_validate_pdf_signature(reader.embedded_regular_signatures[0], context)
    assert status.bottom_line


async def test_extend_refuses_unsigned_and_b_t_target(
    pades_env: TrustEnvironment,
) -> None:
    engine = PadesEngine(pades_env)
    with spool_bytes(make_pdf(), max_bytes=10**8) as doc, tempfile.TemporaryFile() as out:
        with pytest.raises(InvalidArgument, match="no signature"):
            await extend_signatures(engine, doc, SignatureLevel.B_LT, out)
        with pytest.raises(InvalidArgument) as caught:
            await extend_signatures(engine, doc, SignatureLevel.B_T, out)
        assert caught.value.field == "target_level"


@pytest.mark.parametrize("level", [SignatureLevel.B_B, SignatureLevel.B_T])
async def test_cades_detached_verifies_with_openssl(
    level: SignatureLevel, tmp_path: Path, pades_env: TrustEnvironment, throwaway_pki: ThrowawayPki
) -> None:
    content = "<hoSo><ten>Nguyễn Văn A</ten></hoSo>".encode()
    with spool_bytes(content, max_bytes=10**6) as doc:
        result = await sign_detached(PadesEngine(pades_env), doc, throwaway_pki.agency, level)
    (tmp_path / "data.xml").write_bytes(content)
    (tmp_path / "sig.p7s").write_bytes(result.cms_der)
    (tmp_path / "root.pem").write_bytes(throwaway_pki.root.public_bytes(serialization.Encoding.PEM))
    verify = subprocess.run(
        [
            "openssl",
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            str(tmp_path / "sig.p7s"),
            "-content",
            str(tmp_path / "data.xml"),
            "-CAfile",
            str(tmp_path / "root.pem"),
            "-purpose",
            "any",
            "-out",
            "/dev/null",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert verify.returncode == 0, verify.stderr
    from asn1crypto import cms

    signer_info = cms.ContentInfo.load(result.cms_der)["content"]["signer_infos"][0]
    unsigned = signer_info["unsigned_attrs"].native or []
    has_ts = any(a["type"] == "signature_time_stamp_token" for a in unsigned)
    assert has_ts == (level is SignatureLevel.B_T)
    assert (
        cms.ContentInfo.load(result.cms_der)["content"]["encap_content_info"]["content"].native
        is None
    )


async def test_cades_refuses_lt(pades_env: TrustEnvironment, throwaway_pki: ThrowawayPki) -> None:
    with spool_bytes(b"data", max_bytes=10) as doc, pytest.raises(InvalidArgument):
        await sign_detached(PadesEngine(pades_env), doc, throwaway_pki.agency, SignatureLevel.B_LT)

"""The PAdES engine on the trust engineer's real PKI (``trust_services``): our CA, our TSA and
our OCSP/CRL in process, keys in the software key store."""

from __future__ import annotations

import io
import tempfile

import pytest
from asn1crypto import x509 as asn1_x509
from hoso.common.errors import FailedPrecondition
from hoso.signing.pades.engine import PadesEngine, SignRequest
from hoso.signing.pades.environment import TrustEnvironment
from hoso.signing.pades.inputs import spool_bytes
from hoso.signing.pades.levels import SignatureLevel
from hoso.signing.pades.signer import SigningCredential
from hoso.signing.trust.authority import IssuedMaterial, to_asn1
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from tests.fixtures.pades import make_pdf
from tests.fixtures.trust import TrustFixture

pytestmark = pytest.mark.asyncio


def _engine(trust: TrustFixture) -> PadesEngine:
    return PadesEngine(
        TrustEnvironment(
            trust_roots=(trust.root_cert,),
            other_certs=(trust.issuing_cert,),
            timestampers=(trust.time_stamper,),
            revocation=trust.revocation,
        )
    )


def _credential(trust: TrustFixture, material: IssuedMaterial) -> SigningCredential:
    return SigningCredential(
        credential_id="cred-test",
        key=material.key,  # type: ignore[arg-type]
        certificate=to_asn1(material.certificate),
        chain=(trust.issuing_cert, trust.root_cert),
    )


async def _sign(
    engine: PadesEngine, credential: SigningCredential, level: SignatureLevel, pdf: bytes
) -> bytes:
    with spool_bytes(pdf, max_bytes=10**8) as document, tempfile.TemporaryFile() as out:
        await engine.sign(document, credential, SignRequest(level=level), out)
        out.seek(0)
        return out.read()


async def _assert_valid(signed: bytes, root: asn1_x509.Certificate, count: int) -> None:
    reader = PdfFileReader(io.BytesIO(signed))
    context = ValidationContext(trust_roots=[root], allow_fetching=False)
    assert len(reader.embedded_regular_signatures) == count
    for signature in reader.embedded_regular_signatures:
        status = await async_validate_pdf_signature(signature, context)
        assert status.intact and status.valid and status.trusted, status.summary()


async def test_official_then_seal_at_b_lt_with_our_own_trust_services(
    trust_services: TrustFixture,
) -> None:
    engine = _engine(trust_services)
    official = _credential(trust_services, trust_services.official)  # RSA-2048
    seal = _credential(trust_services, trust_services.agency_seal)  # EC P-256
    signed = await _sign(engine, official, SignatureLevel.B_LT, make_pdf())
    signed = await _sign(engine, seal, SignatureLevel.B_LT, signed)
    # the second signature of the same kind reuses the learnt container size: still valid
    signed = await _sign(engine, official, SignatureLevel.B_T, signed)
    await _assert_valid(signed, trust_services.root_cert, count=3)
    assert "/DSS" in PdfFileReader(io.BytesIO(signed)).root


async def test_revoked_certificate_is_refused_at_once(trust_services: TrustFixture) -> None:
    engine = _engine(trust_services)
    official = _credential(trust_services, trust_services.official)
    await _sign(engine, official, SignatureLevel.B_T, make_pdf())
    await trust_services.revoke(trust_services.official)
    with pytest.raises(FailedPrecondition, match="revoked"):
        await _sign(engine, official, SignatureLevel.B_T, make_pdf())

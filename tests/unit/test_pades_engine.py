"""The PAdES engine: every level validates, and bad inputs fail with the right error."""

from __future__ import annotations

import io
import tempfile

import pytest
from hoso.common.errors import (
    FailedPrecondition,
    InvalidArgument,
    ResourceExhausted,
    Unavailable,
)
from hoso.signing.pades.engine import PadesEngine, SignRequest
from hoso.signing.pades.environment import TrustEnvironment
from hoso.signing.pades.inputs import spool_bytes
from hoso.signing.pades.levels import SignatureLevel
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from tests.fixtures.pades import ThrowawayPki, make_pdf

pytestmark = pytest.mark.asyncio


async def _sign(engine: PadesEngine, pdf: bytes, credential, request: SignRequest) -> bytes:
    with spool_bytes(pdf, max_bytes=50 * 1024 * 1024) as document, tempfile.TemporaryFile() as out:
        await engine.sign(document, credential, request, out)
        out.seek(0)
        return out.read()


def _context(pki: ThrowawayPki) -> ValidationContext:
    from tests.fixtures.pades import _asn1

    return ValidationContext(trust_roots=[_asn1(pki.root)], allow_fetching=False)


@pytest.mark.parametrize("level", list(SignatureLevel))
async def test_each_level_validates_with_pyhanko(
    level: SignatureLevel, pades_env: TrustEnvironment, throwaway_pki: ThrowawayPki
) -> None:
    engine = PadesEngine(pades_env)
    signed = await _sign(engine, make_pdf(), throwaway_pki.official, SignRequest(level=level))
    reader = PdfFileReader(io.BytesIO(signed))
    signature = reader.embedded_regular_signatures[0]
    status = await async_validate_pdf_signature(signature, _context(throwaway_pki))
    assert status.intact and status.valid, status.pretty_print_details()
    assert status.trusted
    assert (status.timestamp_validity is not None) == level.needs_timestamp
    assert ("/DSS" in reader.root) == level.needs_validation_data
    assert bool(reader.embedded_timestamp_signatures) == level.needs_archive_timestamp
    assert signature.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"


async def test_ec_agency_key_signs_with_ecdsa(
    pades_env: TrustEnvironment, throwaway_pki: ThrowawayPki
) -> None:
    engine = PadesEngine(pades_env)
    signed = await _sign(
        engine, make_pdf(), throwaway_pki.agency, SignRequest(level=SignatureLevel.B_B)
    )
    signature = PdfFileReader(io.BytesIO(signed)).embedded_regular_signatures[0]
    assert signature.signer_info["signature_algorithm"]["algorithm"].native == "sha256_ecdsa"
    status = await async_validate_pdf_signature(signature, _context(throwaway_pki))
    assert status.valid and status.trusted


async def test_rsa_key_signs_with_pss(
    pades_env: TrustEnvironment, throwaway_pki: ThrowawayPki
) -> None:
    engine = PadesEngine(pades_env)
    signed = await _sign(
        engine, make_pdf(), throwaway_pki.official, SignRequest(level=SignatureLevel.B_B)
    )
    signature = PdfFileReader(io.BytesIO(signed)).embedded_regular_signatures[0]
    assert signature.signer_info["signature_algorithm"]["algorithm"].native == "rsassa_pss"


async def test_result_reports_digests(
    pades_env: TrustEnvironment, throwaway_pki: ThrowawayPki
) -> None:
    import hashlib

    engine = PadesEngine(pades_env)
    pdf = make_pdf()
    with spool_bytes(pdf, max_bytes=10**8) as document, tempfile.TemporaryFile() as out:
        result = await engine.sign(document, throwaway_pki.official, SignRequest(), out)
        signed = out.read()
    assert result.document_sha256 == hashlib.sha256(pdf).digest()
    assert result.output_sha256 == hashlib.sha256(signed).digest()
    assert result.output_size == len(signed)
    assert result.level is SignatureLevel.B_T
    assert len(result.signature_sha256) == 32


async def test_not_a_pdf_is_invalid_argument(
    pades_env: TrustEnvironment, throwaway_pki: ThrowawayPki
) -> None:
    with pytest.raises(InvalidArgument, match="not a PDF") as caught:
        await _sign(
            PadesEngine(pades_env), b"GIF89a not a pdf", throwaway_pki.official, SignRequest()
        )
    assert caught.value.field == "document"


async def test_encrypted_pdf_is_failed_precondition(
    pades_env: TrustEnvironment, throwaway_pki: ThrowawayPki
) -> None:
    import pikepdf

    buffer = io.BytesIO()
    with pikepdf.open(io.BytesIO(make_pdf())) as pdf:
        pdf.save(buffer, encryption=pikepdf.Encryption(owner="o", user="u"))
    with pytest.raises(FailedPrecondition, match="encrypted"):
        await _sign(
            PadesEngine(pades_env), buffer.getvalue(), throwaway_pki.official, SignRequest()
        )


async def test_damaged_pdf_says_where(
    pades_env: TrustEnvironment, throwaway_pki: ThrowawayPki
) -> None:
    pdf = make_pdf()
    damaged = pdf[: len(pdf) // 3]  # truncated: no xref table, no trailer
    with pytest.raises(InvalidArgument, match="damaged") as caught:
        await _sign(PadesEngine(pades_env), damaged, throwaway_pki.official, SignRequest())
    assert str(len(damaged)) in caught.value.message


@pytest.mark.filterwarnings("ignore")
def test_too_large_is_resource_exhausted() -> None:
    with pytest.raises(ResourceExhausted, match="limit of 1000 bytes"):
        spool_bytes([b"%PDF-1.7\n", b"x" * 1000], max_bytes=1000)


async def test_expired_credential_is_refused(
    pades_env: TrustEnvironment, throwaway_pki: ThrowawayPki
) -> None:
    with pytest.raises(FailedPrecondition, match="expired") as caught:
        await _sign(PadesEngine(pades_env), make_pdf(), throwaway_pki.expired, SignRequest())
    assert caught.value.field == "credential_id"


async def test_revoked_credential_is_refused(pades_env: TrustEnvironment) -> None:
    from tests.fixtures.pades import _asn1, _build_pki

    pki = _build_pki()
    from cryptography import x509

    cert = x509.load_der_x509_certificate(pki.official.certificate.dump())
    pki.revoked_serials.add(cert.serial_number)
    env = TrustEnvironment(
        trust_roots=(_asn1(pki.root),),
        other_certs=(_asn1(pki.ca),),
        timestampers=(pki.timestamper(),),
        revocation=pki,
    )
    with pytest.raises(FailedPrecondition, match="revoked"):
        await _sign(
            PadesEngine(env), make_pdf(), pki.official, SignRequest(level=SignatureLevel.B_B)
        )


async def test_tsa_down_fails_unavailable_and_never_downgrades(
    pades_env: TrustEnvironment, throwaway_pki: ThrowawayPki
) -> None:
    from hoso.signing.pades.timestamping import http_timestamper

    dead = http_timestamper("http://127.0.0.1:9/tsa", timeout_seconds=2)
    env = TrustEnvironment(
        trust_roots=pades_env.trust_roots,
        other_certs=pades_env.other_certs,
        timestampers=(dead,),
        revocation=pades_env.revocation,
    )
    with pytest.raises(Unavailable, match="time-stamp authority"):
        await _sign(
            PadesEngine(env),
            make_pdf(),
            throwaway_pki.official,
            SignRequest(level=SignatureLevel.B_T),
        )


async def test_tsa_fallback_uses_the_next_authority(
    pades_env: TrustEnvironment, throwaway_pki: ThrowawayPki
) -> None:
    from hoso.signing.pades.timestamping import http_timestamper

    dead = http_timestamper("http://127.0.0.1:9/tsa", timeout_seconds=2)
    env = TrustEnvironment(
        trust_roots=pades_env.trust_roots,
        other_certs=pades_env.other_certs,
        timestampers=(dead, *pades_env.timestampers),
        revocation=pades_env.revocation,
    )
    signed = await _sign(PadesEngine(env), make_pdf(), throwaway_pki.official, SignRequest())
    signature = PdfFileReader(io.BytesIO(signed)).embedded_regular_signatures[0]
    status = await async_validate_pdf_signature(signature, _context(throwaway_pki))
    assert status.timestamp_validity is not None and status.timestamp_validity.valid


async def test_unknown_field_is_invalid_argument(
    pades_env: TrustEnvironment, throwaway_pki: ThrowawayPki
) -> None:
    with pytest.raises(InvalidArgument, match="does not exist") as caught:
        await _sign(
            PadesEngine(pades_env),
            make_pdf(),
            throwaway_pki.official,
            SignRequest(field_name="KhongCo"),
        )
    assert caught.value.field == "field_name"


async def test_already_signed_field_is_failed_precondition(
    pades_env: TrustEnvironment, throwaway_pki: ThrowawayPki
) -> None:
    engine = PadesEngine(pades_env)
    once = await _sign(
        engine,
        make_pdf(),
        throwaway_pki.official,
        SignRequest(field_name="ChuTich", create_field=True, level=SignatureLevel.B_B),
    )
    with pytest.raises(FailedPrecondition, match="already signed"):
        await _sign(
            engine,
            once,
            throwaway_pki.agency,
            SignRequest(field_name="ChuTich", level=SignatureLevel.B_B),
        )


async def test_level_parsing() -> None:
    assert SignatureLevel.parse(None) is SignatureLevel.B_T
    assert SignatureLevel.parse("pades-b-lta") is SignatureLevel.B_LTA
    assert SignatureLevel.parse("B_LT") is SignatureLevel.B_LT
    with pytest.raises(InvalidArgument, match="B-B, B-T, B-LT, B-LTA"):
        SignatureLevel.parse("B-X")

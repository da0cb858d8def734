"""SigningService through gRPC: SignPdf at every level, idempotency, audit, archive, Timestamp,
SignDetached and ExtendSignature, and every bad input with its status code."""

from __future__ import annotations

import hashlib
import io

import pytest
from asn1crypto import x509 as asn1_x509
from hoso.client.streams import drain, header_then_chunks
from hoso.signing.v1 import signing_pb2 as pb
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from tests.fixtures.pades import PIN, SigningServer, make_pdf

pytestmark = pytest.mark.asyncio


async def sign(
    server: SigningServer,
    data: bytes,
    *,
    level: int = pb.PADES_LEVEL_B_T,
    pin: str = PIN,
    credential: str | None = None,
    options: pb.SignatureOptions | None = None,
    **header_fields: object,
) -> tuple[pb.SignPdfResult, bytes]:
    opts = options or pb.SignatureOptions()
    if not opts.level:
        opts.level = level  # type: ignore[assignment]
    header = pb.SignPdfHeader(
        credential=credential or server.credential,
        consent=pb.Consent(pin=pin),
        options=opts,
        **header_fields,  # type: ignore[arg-type]
    )
    requests = header_then_chunks(pb.SignPdfRequest, "header", header, data)
    return await drain(server.stub.SignPdf(requests), "result")  # type: ignore[attr-defined]


def root_of(server: SigningServer) -> asn1_x509.Certificate:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    der = x509.load_pem_x509_certificate(server.root_pem).public_bytes(Encoding.DER)
    return asn1_x509.Certificate.load(der)


async def assert_valid(server: SigningServer, signed: bytes, count: int = 1) -> None:
    reader = PdfFileReader(io.BytesIO(signed))
    signatures = reader.embedded_regular_signatures
    assert len(signatures) == count
    context = ValidationContext(
        trust_roots=[root_of(server)], allow_fetching=False, revocation_mode="soft-fail"
    )
    for signature in signatures:
        status = await async_validate_pdf_signature(signature, context)
        assert status.intact and status.valid and status.trusted, status.summary()


async def test_sign_pdf_b_t_returns_a_valid_signature_and_audits_it(
    signing_server: SigningServer,
) -> None:
    data = make_pdf()
    result, signed = await sign(signing_server, data)
    assert result.level == pb.PADES_LEVEL_B_T
    assert result.sha256 == hashlib.sha256(signed).hexdigest()
    assert result.size_bytes == len(signed)
    assert result.input_sha256 == hashlib.sha256(data).hexdigest()
    assert signed.startswith(data)  # incremental update: the original bytes stay
    await assert_valid(signing_server, signed)

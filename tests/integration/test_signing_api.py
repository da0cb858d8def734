"""SigningService through gRPC: SignPdf at every level, idempotency, audit, archive, Timestamp,
SignDetached and ExtendSignature, and every bad input with its status code."""

from __future__ import annotations

import hashlib
import io
import uuid

import grpc
import pytest
from asn1crypto import cms, tsp
from asn1crypto import x509 as asn1_x509
from hoso.client.streams import drain, header_then_chunks
from hoso.signing.v1 import signing_pb2 as pb
from hoso.signing.v1 import trust_pb2 as trust_pb
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


async def rpc_error(coro) -> grpc.aio.AioRpcError:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await coro
    return caught.value


async def audit_events(server: SigningServer, action: str) -> list[object]:
    from hoso.common.audit import AuditEvent
    from sqlalchemy import select

    async with server.handle.runtime.session() as session:  # type: ignore[attr-defined]
        rows = await session.execute(select(AuditEvent).where(AuditEvent.action == action))
        return list(rows.scalars())


@pytest.mark.parametrize("level", [pb.PADES_LEVEL_B_B, pb.PADES_LEVEL_B_LT, pb.PADES_LEVEL_B_LTA])
async def test_every_level_validates(signing_server: SigningServer, level: int) -> None:
    result, signed = await sign(signing_server, make_pdf(), level=level)
    assert result.level == level
    await assert_valid(signing_server, signed)
    reader = PdfFileReader(io.BytesIO(signed))
    has_dss = "/DSS" in reader.root
    assert has_dss == (level in (pb.PADES_LEVEL_B_LT, pb.PADES_LEVEL_B_LTA))
    assert len(reader.embedded_timestamp_signatures) == (level == pb.PADES_LEVEL_B_LTA)
    unsigned = reader.embedded_regular_signatures[0].signer_info["unsigned_attrs"]
    timestamped = any(a["type"].native == "signature_time_stamp_token" for a in unsigned or [])
    assert timestamped == (level != pb.PADES_LEVEL_B_B)


async def test_audit_event_names_caller_credential_digests_and_level(
    signing_server: SigningServer,
) -> None:
    data = make_pdf()
    result, _ = await sign(signing_server, data, level=pb.PADES_LEVEL_B_B)
    (event,) = await audit_events(signing_server, "signing.sign_pdf")
    import json

    details = json.loads(event.details)  # type: ignore[attr-defined]
    assert event.actor == "test-operator"  # type: ignore[attr-defined]
    assert details["credential"] == signing_server.credential.removeprefix("credentials/")
    assert details["document_sha256"] == hashlib.sha256(data).hexdigest()
    assert details["signature_sha256"] == result.signature_digest
    assert details["level"] == "B-B"


async def test_repeated_request_id_returns_the_first_result(
    signing_server: SigningServer,
) -> None:
    data = make_pdf()
    request_id = str(uuid.uuid4())
    first, first_bytes = await sign(signing_server, data, request_id=request_id)
    # the repeat carries a wrong PIN: it must not be checked again, nor sign again
    again, again_bytes = await sign(signing_server, data, request_id=request_id, pin="0000000")
    assert again_bytes == first_bytes
    assert again == first
    assert len(await audit_events(signing_server, "signing.sign_pdf")) == 1
    other = await rpc_error(sign(signing_server, make_pdf(pages=2), request_id=request_id))
    assert other.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "request_id" in (other.details() or "")


async def test_archive_target_stores_the_signed_pdf(signing_server: SigningServer) -> None:
    import datetime as dt

    from hoso.client.storage import ArchiveClient
    from hoso.common.protoconv import to_timestamp
    from hoso.storage.v1 import storage_pb2 as storage_pb

    archive = ArchiveClient(signing_server.handle.channel("operator"))  # type: ignore[attr-defined]
    dossier = await archive.create_dossier(
        storage_pb.Dossier(
            dossier_code="000.00.01.H01-261205-0001",
            procedure_code="1.001234",
            agency_code="H01",
            applicant_id="001099012345",
            receive_time=to_timestamp(dt.datetime(2026, 12, 1, 1, 0, tzinfo=dt.UTC)),
            title="Hồ sơ thử",
        )
    )
    result, signed = await sign(
        signing_server,
        make_pdf(),
        archive=pb.ArchiveTarget(dossier=dossier.name, filename="quyet-dinh.pdf"),
        filename="quyet-dinh.pdf",
        request_id=str(uuid.uuid4()),
    )
    assert result.archived_file_version.startswith(dossier.name + "/files/")
    version, stored = await archive.read_file(result.archived_file_version)
    assert stored == signed
    assert version.sha256 == result.sha256
    bad = await rpc_error(
        sign(signing_server, make_pdf(), archive=pb.ArchiveTarget(dossier="dossiers/unknown-1"))
    )
    assert bad.code() == grpc.StatusCode.NOT_FOUND


def _encrypted_pdf() -> bytes:
    import pikepdf

    buffer = io.BytesIO()
    with pikepdf.open(io.BytesIO(make_pdf())) as pdf:
        pdf.save(buffer, encryption=pikepdf.Encryption(owner="o", user="u"))
    return buffer.getvalue()


async def test_bad_documents_get_clear_statuses(signing_server: SigningServer) -> None:
    cases = [
        (b"PK\x03\x04 not a pdf at all", grpc.StatusCode.INVALID_ARGUMENT, "not a PDF"),
        (_encrypted_pdf(), grpc.StatusCode.FAILED_PRECONDITION, "encrypted"),
        (make_pdf()[:-400], grpc.StatusCode.INVALID_ARGUMENT, "damaged"),
    ]
    for data, code, words in cases:
        error = await rpc_error(sign(signing_server, data))
        assert error.code() == code, (words, error.details())
        assert words in (error.details() or ""), error.details()


async def test_bad_credentials_and_consent(signing_server: SigningServer) -> None:
    data = make_pdf()
    unknown = await rpc_error(sign(signing_server, data, credential="credentials/cred-nope"))
    assert unknown.code() == grpc.StatusCode.NOT_FOUND
    malformed = await rpc_error(sign(signing_server, data, credential="credentials/"))
    assert malformed.code() == grpc.StatusCode.INVALID_ARGUMENT
    wrong = await rpc_error(sign(signing_server, data, pin="9999999"))
    assert wrong.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "wrong PIN" in (wrong.details() or "")
    # a SAD bound to another document is refused
    sad = await signing_server.trust.authorize(  # type: ignore[attr-defined]
        signing_server.credential, PIN, [hashlib.sha256(b"other").digest()]
    )
    header = pb.SignPdfHeader(credential=signing_server.credential, consent=pb.Consent(sad=sad.sad))
    error = await rpc_error(
        drain(
            signing_server.stub.SignPdf(  # type: ignore[attr-defined]
                header_then_chunks(pb.SignPdfRequest, "header", header, data)
            ),
            "result",
        )
    )
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    # no consent at all
    header = pb.SignPdfHeader(credential=signing_server.credential)
    error = await rpc_error(
        drain(
            signing_server.stub.SignPdf(  # type: ignore[attr-defined]
                header_then_chunks(pb.SignPdfRequest, "header", header, data)
            ),
            "result",
        )
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "consent" in (error.details() or "")


async def test_locked_revoked_and_expired_credentials(signing_server: SigningServer) -> None:
    data = make_pdf()
    locked, _ = await signing_server.new_credential()
    codes = [
        (await rpc_error(sign(signing_server, data, credential=locked, pin="9999999"))).code()
        for _ in range(5)
    ]
    assert codes[:4] == [grpc.StatusCode.PERMISSION_DENIED] * 4
    assert codes[4] == grpc.StatusCode.FAILED_PRECONDITION
    error = await rpc_error(sign(signing_server, data, credential=locked))  # right PIN, too late
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "locked" in (error.details() or "")

    revoked, certificate = await signing_server.new_credential()
    await sign(signing_server, data, credential=revoked, level=pb.PADES_LEVEL_B_B)  # usable now
    stub = signing_server.trust._stub  # type: ignore[attr-defined]
    await stub.RevokeCertificate(
        trust_pb.RevokeCertificateRequest(
            name=certificate, reason=trust_pb.REVOCATION_REASON_KEY_COMPROMISE
        )
    )
    error = await rpc_error(sign(signing_server, data, credential=revoked))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "REVOKED" in (error.details() or "").upper()

    # expiry: the catalog's view of the certificate is what consent checks; move it back
    import datetime as dt

    from hoso.signing.models import SigningCertificate

    expired, certificate = await signing_server.new_credential()
    async with signing_server.handle.runtime.session() as session:  # type: ignore[attr-defined]
        row = await session.get(SigningCertificate, certificate.removeprefix("certificates/"))
        row.not_after = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    error = await rpc_error(sign(signing_server, data, credential=expired))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "expired" in (error.details() or "")


async def test_fields_and_docmdp(signing_server: SigningServer) -> None:
    data = make_pdf()
    unknown = await rpc_error(
        sign(
            signing_server,
            data,
            options=pb.SignatureOptions(placement=pb.Placement(existing_field="KhongCo")),
        )
    )
    assert unknown.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "KhongCo" in (unknown.details() or "")
    _, once = await sign(
        signing_server,
        data,
        level=pb.PADES_LEVEL_B_B,
        options=pb.SignatureOptions(
            placement=pb.Placement(
                new_field=pb.NewFieldPlacement(
                    page=1, rect=pb.Rectangle(x1=300, y1=200, x2=450, y2=260), field_name="ChuTich"
                )
            )
        ),
    )
    again = await rpc_error(
        sign(
            signing_server,
            once,
            options=pb.SignatureOptions(placement=pb.Placement(existing_field="ChuTich")),
        )
    )
    assert again.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "already signed" in (again.details() or "")
    _, certified = await sign(
        signing_server,
        data,
        level=pb.PADES_LEVEL_B_B,
        options=pb.SignatureOptions(
            kind=pb.SIGNATURE_KIND_CERTIFICATION,
            doc_mdp_permission=pb.DOC_MDP_PERMISSION_NO_CHANGES,
        ),
    )
    await assert_valid(signing_server, certified)
    locked = await rpc_error(sign(signing_server, certified))
    assert locked.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "P=1" in (locked.details() or "")
    bad_rect = await rpc_error(
        sign(
            signing_server,
            data,
            options=pb.SignatureOptions(
                placement=pb.Placement(
                    new_field=pb.NewFieldPlacement(page=1, rect=pb.Rectangle(x1=10, y1=10))
                )
            ),
        )
    )
    assert bad_rect.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_sequential_signatures_keep_earlier_ones_valid(
    signing_server: SigningServer,
) -> None:
    leader, _ = await signing_server.new_credential()
    seal, _ = await signing_server.new_credential(seal=True)
    _, signed = await sign(signing_server, make_pdf())
    _, signed = await sign(signing_server, signed, credential=leader)
    _, signed = await sign(signing_server, signed, credential=seal, level=pb.PADES_LEVEL_B_LT)
    await assert_valid(signing_server, signed, count=3)


async def test_stream_protocol_errors(signing_server: SigningServer) -> None:
    async def chunk_first():  # type: ignore[no-untyped-def]
        yield pb.SignPdfRequest(chunk=b"%PDF-")

    error = await rpc_error(drain(signing_server.stub.SignPdf(chunk_first()), "result"))  # type: ignore[attr-defined]
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "header" in (error.details() or "")

    async def huge_chunk():  # type: ignore[no-untyped-def]
        yield pb.SignPdfRequest(
            header=pb.SignPdfHeader(
                credential=signing_server.credential, consent=pb.Consent(pin=PIN)
            )
        )
        yield pb.SignPdfRequest(chunk=bytes(1024 * 1024 + 1))

    error = await rpc_error(drain(signing_server.stub.SignPdf(huge_chunk()), "result"))  # type: ignore[attr-defined]
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "1 MiB" in (error.details() or "")
    too_big = await rpc_error(sign(signing_server, make_pdf(), size_bytes=10**12))
    assert too_big.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


async def test_size_limit_and_tsa_down(start_server) -> None:  # type: ignore[no-untyped-def]
    from tests.fixtures.pades import start_signing_server

    server = await start_signing_server(
        start_server,
        {
            "signing": {
                "max_document_bytes": 64 * 1024,
                "tsa_in_process": False,
                "tsa_urls": ["http://127.0.0.1:9/tsa"],  # discard port: nothing listens
                "tsa_timeout_seconds": 2,
            }
        },
    )
    large = await rpc_error(sign(server, make_pdf(padding_bytes=100 * 1024)))
    assert large.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "max_document_bytes" in (large.details() or "")
    down = await rpc_error(sign(server, make_pdf()))
    assert down.code() == grpc.StatusCode.UNAVAILABLE
    assert "time-stamp" in (down.details() or "")
    result, _ = await sign(server, make_pdf(), level=pb.PADES_LEVEL_B_B)  # B-B needs no TSA
    assert result.level == pb.PADES_LEVEL_B_B
    ts = await rpc_error(
        server.stub.Timestamp(  # type: ignore[attr-defined]
            pb.TimestampRequest(digest=trust_pb.DocumentDigest(value=bytes(32)))
        )
    )
    assert ts.code() == grpc.StatusCode.UNAVAILABLE


async def test_timestamp(signing_server: SigningServer) -> None:
    digest = hashlib.sha256(b"ho so").digest()
    response = await signing_server.stub.Timestamp(  # type: ignore[attr-defined]
        pb.TimestampRequest(digest=trust_pb.DocumentDigest(value=digest), nonce=b"\x01\x02")
    )
    token = cms.ContentInfo.load(response.token)
    info = token["content"]["encap_content_info"]["content"].parsed
    assert isinstance(info, tsp.TSTInfo)
    assert info["message_imprint"]["hashed_message"].native == digest
    assert info["nonce"].native == 0x0102
    assert response.serial_hex == format(info["serial_number"].native, "x")
    for request, field in [
        (pb.TimestampRequest(digest=trust_pb.DocumentDigest(value=b"short")), "digest.value"),
        (
            pb.TimestampRequest(digest=trust_pb.DocumentDigest(value=digest), nonce=bytes(33)),
            "nonce",
        ),
        (
            pb.TimestampRequest(digest=trust_pb.DocumentDigest(value=digest), policy_oid="1.2.3"),
            "policy_oid",
        ),
    ]:
        error = await rpc_error(signing_server.stub.Timestamp(request))  # type: ignore[attr-defined]
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, field


async def _detached(server: SigningServer, data: bytes, level: int) -> pb.SignDetachedResponse:
    header = pb.SignDetachedHeader(
        credential=server.credential,
        consent=pb.Consent(pin=PIN),
        level=level,
        media_type="application/xml",
        filename="to-khai.xml",
    )
    return await server.stub.SignDetached(  # type: ignore[attr-defined]
        header_then_chunks(pb.SignDetachedRequest, "header", header, data)
    )


async def test_sign_detached(signing_server: SigningServer) -> None:
    data = "<toKhai>Nguyễn Văn An</toKhai>".encode()
    response = await _detached(signing_server, data, pb.CADES_LEVEL_B_T)
    signed_data = cms.ContentInfo.load(response.cms)["content"]
    assert signed_data["encap_content_info"]["content"].native is None  # detached
    signer_info = signed_data["signer_infos"][0]
    attrs = {a["type"].native: a["values"][0].native for a in signer_info["signed_attrs"]}
    assert attrs["message_digest"] == hashlib.sha256(data).digest()
    assert response.content_digest.value == hashlib.sha256(data).digest()
    assert any(
        a["type"].native == "signature_time_stamp_token" for a in signer_info["unsigned_attrs"]
    )
    assert response.level == pb.CADES_LEVEL_B_T
    empty = await rpc_error(_detached(signing_server, b"", pb.CADES_LEVEL_B_B))
    assert empty.code() == grpc.StatusCode.INVALID_ARGUMENT
    bad_level = await rpc_error(_detached(signing_server, data, 7))
    assert bad_level.code() == grpc.StatusCode.INVALID_ARGUMENT


async def _extend(server: SigningServer, data: bytes, level: int) -> tuple[object, bytes]:
    header = pb.ExtendSignatureHeader(target_level=level)  # type: ignore[arg-type]
    return await drain(
        server.stub.ExtendSignature(  # type: ignore[attr-defined]
            header_then_chunks(pb.ExtendSignatureRequest, "header", header, data)
        ),
        "result",
    )


async def test_extend_signature(signing_server: SigningServer) -> None:
    _, signed = await sign(signing_server, make_pdf())
    result, extended = await _extend(signing_server, signed, pb.PADES_LEVEL_B_LTA)
    assert result.signatures_extended == 1  # type: ignore[attr-defined]
    assert result.sha256 == hashlib.sha256(extended).hexdigest()  # type: ignore[attr-defined]
    reader = PdfFileReader(io.BytesIO(extended))
    assert "/DSS" in reader.root and len(reader.embedded_timestamp_signatures) == 1
    await assert_valid(signing_server, extended)
    low = await rpc_error(_extend(signing_server, signed, pb.PADES_LEVEL_B_T))
    assert low.code() == grpc.StatusCode.INVALID_ARGUMENT
    unsigned = await rpc_error(_extend(signing_server, make_pdf(), pb.PADES_LEVEL_B_LT))
    assert unsigned.code() == grpc.StatusCode.INVALID_ARGUMENT


def _signature_tst_gen_time(signed: bytes, index: int = 0):  # type: ignore[no-untyped-def]
    """genTime of a signature's time-stamp token, read with pyHanko/asn1crypto."""
    signature = PdfFileReader(io.BytesIO(signed)).embedded_regular_signatures[index]
    for attr in signature.signer_info["unsigned_attrs"] or []:
        if attr["type"].native == "signature_time_stamp_token":
            token = attr["values"][0]
            return token["content"]["encap_content_info"]["content"].parsed["gen_time"].native
    return None


@pytest.mark.parametrize("level", [pb.PADES_LEVEL_B_T, pb.PADES_LEVEL_B_LT, pb.PADES_LEVEL_B_LTA])
async def test_signing_time_is_the_time_stamp_gen_time(
    signing_server: SigningServer, level: int
) -> None:
    from hoso.common.protoconv import from_timestamp

    result, signed = await sign(signing_server, make_pdf(), level=level)
    gen_time = _signature_tst_gen_time(signed)
    assert gen_time is not None
    assert from_timestamp(result.signing_time) == gen_time


async def test_b_b_signing_time_is_the_server_clock(signing_server: SigningServer) -> None:
    import datetime as dt

    from hoso.common.protoconv import from_timestamp

    before = dt.datetime.now(dt.UTC)
    result, signed = await sign(signing_server, make_pdf(), level=pb.PADES_LEVEL_B_B)
    after = dt.datetime.now(dt.UTC)
    assert _signature_tst_gen_time(signed) is None
    assert before <= from_timestamp(result.signing_time) <= after

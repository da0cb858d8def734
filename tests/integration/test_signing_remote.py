"""Two-phase signing through gRPC: PrepareSignature/CompleteSignature with a credential and
consent, with an external token's raw signature value, and batches under one consent."""

from __future__ import annotations

import hashlib
import io

import grpc
import pytest
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, utils
from hoso.client.streams import drain, header_then_chunks
from hoso.common.protoconv import from_timestamp
from hoso.signing.v1 import signing_pb2 as pb
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from tests.fixtures.pades import PIN, SigningServer, ThrowawayPki, _asn1, make_pdf
from tests.integration.test_signing_api import _signature_tst_gen_time, assert_valid, rpc_error

pytestmark = pytest.mark.asyncio


async def prepare(
    server: SigningServer, data: bytes, header: pb.PrepareSignatureHeader
) -> pb.PrepareSignatureResponse:
    return await server.stub.PrepareSignature(  # type: ignore[attr-defined]
        header_then_chunks(pb.PrepareSignatureRequest, "header", header, data)
    )


async def complete(server: SigningServer, request: pb.CompleteSignatureRequest):  # type: ignore[no-untyped-def]
    return await drain(server.stub.CompleteSignature(request), "result")  # type: ignore[attr-defined]


@pytest.mark.parametrize("level", [pb.PADES_LEVEL_B_T, pb.PADES_LEVEL_B_LT])
async def test_prepare_then_complete_with_a_sad(signing_server: SigningServer, level: int) -> None:
    data = make_pdf()
    prepared = await prepare(
        signing_server,
        data,
        pb.PrepareSignatureHeader(
            credential=signing_server.credential, options=pb.SignatureOptions(level=level)
        ),
    )
    assert prepared.prepared_signature.startswith("preparedSignatures/")
    assert len(prepared.digest_to_sign.value) == 32
    assert prepared.signature_algorithm == "rsassa_pss"
    sad = await signing_server.trust.authorize(  # type: ignore[attr-defined]
        signing_server.credential, PIN, [prepared.digest_to_sign.value]
    )
    result, signed = await complete(
        signing_server,
        pb.CompleteSignatureRequest(
            prepared_signature=prepared.prepared_signature, consent=pb.Consent(sad=sad.sad)
        ),
    )
    assert result.level == level
    assert result.sha256 == hashlib.sha256(signed).hexdigest()
    assert result.input_sha256 == hashlib.sha256(data).hexdigest()
    assert from_timestamp(result.signing_time) == _signature_tst_gen_time(signed)
    await assert_valid(signing_server, signed)
    assert ("/DSS" in PdfFileReader(io.BytesIO(signed)).root) == (level == pb.PADES_LEVEL_B_LT)
    again = await rpc_error(
        complete(
            signing_server,
            pb.CompleteSignatureRequest(
                prepared_signature=prepared.prepared_signature, consent=pb.Consent(pin=PIN)
            ),
        )
    )
    assert again.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_external_token_signature_value(
    signing_server: SigningServer, throwaway_pki: ThrowawayPki
) -> None:
    """A certificate and key the server never saw: the client signs digest_to_sign itself."""
    credential = throwaway_pki.official
    prepared = await prepare(
        signing_server,
        make_pdf(),
        pb.PrepareSignatureHeader(
            signer_certificate=credential.certificate.dump(),
            chain=[cert.dump() for cert in credential.chain],
            options=pb.SignatureOptions(level=pb.PADES_LEVEL_B_T),
        ),
    )
    private_key = credential.key._private_key  # type: ignore[attr-defined]
    pss = padding.PSS(padding.MGF1(hashes.SHA256()), 32)
    value = private_key.sign(prepared.digest_to_sign.value, pss, utils.Prehashed(hashes.SHA256()))
    wrong = await rpc_error(
        complete(
            signing_server,
            pb.CompleteSignatureRequest(
                prepared_signature=prepared.prepared_signature,
                signature_value=bytes(len(value)),
            ),
        )
    )
    assert wrong.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "does not verify" in (wrong.details() or "")
    consent = await rpc_error(
        complete(
            signing_server,
            pb.CompleteSignatureRequest(
                prepared_signature=prepared.prepared_signature, consent=pb.Consent(pin=PIN)
            ),
        )
    )
    assert consent.code() == grpc.StatusCode.INVALID_ARGUMENT
    result, signed = await complete(
        signing_server,
        pb.CompleteSignatureRequest(
            prepared_signature=prepared.prepared_signature, signature_value=value
        ),
    )
    assert result.level == pb.PADES_LEVEL_B_T
    reader = PdfFileReader(io.BytesIO(signed))
    context = ValidationContext(
        trust_roots=[_asn1(throwaway_pki.root), _root(signing_server)],
        allow_fetching=False,
        revocation_mode="soft-fail",
    )
    status = await async_validate_pdf_signature(reader.embedded_regular_signatures[0], context)
    assert status.intact and status.valid and status.trusted, status.summary()


def _root(server: SigningServer) -> asn1_x509.Certificate:
    from tests.integration.test_signing_api import root_of

    return root_of(server)


async def test_prepare_and_complete_bad_inputs(signing_server: SigningServer) -> None:
    unknown = await rpc_error(
        complete(
            signing_server,
            pb.CompleteSignatureRequest(
                prepared_signature="preparedSignatures/prep-nope", consent=pb.Consent(pin=PIN)
            ),
        )
    )
    assert unknown.code() == grpc.StatusCode.NOT_FOUND
    malformed = await rpc_error(
        complete(signing_server, pb.CompleteSignatureRequest(prepared_signature="x"))
    )
    assert malformed.code() == grpc.StatusCode.INVALID_ARGUMENT
    no_signer = await rpc_error(prepare(signing_server, make_pdf(), pb.PrepareSignatureHeader()))
    assert no_signer.code() == grpc.StatusCode.INVALID_ARGUMENT
    bad_cert = await rpc_error(
        prepare(signing_server, make_pdf(), pb.PrepareSignatureHeader(signer_certificate=b"junk"))
    )
    assert bad_cert.code() == grpc.StatusCode.INVALID_ARGUMENT
    not_pdf = await rpc_error(
        prepare(
            signing_server,
            b"hello",
            pb.PrepareSignatureHeader(credential=signing_server.credential),
        )
    )
    assert not_pdf.code() == grpc.StatusCode.INVALID_ARGUMENT
    prepared = await prepare(
        signing_server, make_pdf(), pb.PrepareSignatureHeader(credential=signing_server.credential)
    )
    other_caller = await rpc_error(
        drain(
            pb_stub(signing_server, "dms").CompleteSignature(
                pb.CompleteSignatureRequest(
                    prepared_signature=prepared.prepared_signature, consent=pb.Consent(pin=PIN)
                )
            ),
            "result",
        )
    )
    assert other_caller.code() == grpc.StatusCode.NOT_FOUND  # prepared by another caller
    wrong_pin = await rpc_error(
        complete(
            signing_server,
            pb.CompleteSignatureRequest(
                prepared_signature=prepared.prepared_signature, consent=pb.Consent(pin="0000000")
            ),
        )
    )
    assert wrong_pin.code() == grpc.StatusCode.PERMISSION_DENIED
    # the failed attempt left the prepared signature usable
    _, signed = await complete(
        signing_server,
        pb.CompleteSignatureRequest(
            prepared_signature=prepared.prepared_signature, consent=pb.Consent(pin=PIN)
        ),
    )
    await assert_valid(signing_server, signed)


def pb_stub(server: SigningServer, role: str):  # type: ignore[no-untyped-def]
    from hoso.signing.v1 import signing_pb2_grpc

    return signing_pb2_grpc.SigningServiceStub(server.handle.channel(role))  # type: ignore[attr-defined]


async def _batch_requests(server: SigningServer, documents: dict[str, bytes]):  # type: ignore[no-untyped-def]
    yield pb.PrepareBatchRequest(
        header=pb.PrepareBatchHeader(
            credential=server.credential,
            options=pb.SignatureOptions(level=pb.PADES_LEVEL_B_T),
            document_count=len(documents),
        )
    )
    for name, data in documents.items():
        yield pb.PrepareBatchRequest(document=pb.BatchDocument(document_id=name))
        for start in range(0, len(data), 4096):
            yield pb.PrepareBatchRequest(chunk=data[start : start + 4096])


async def test_batch_with_one_consent(signing_server: SigningServer) -> None:
    documents = {f"giay-phep-{n}.pdf": make_pdf(pages=n) for n in (1, 2, 3)}
    prepared = await signing_server.stub.PrepareBatch(  # type: ignore[attr-defined]
        _batch_requests(signing_server, documents)
    )
    assert [d.document_id for d in prepared.documents] == list(documents)
    digests = [d.digest_to_sign.value for d in prepared.documents]
    partial = await signing_server.trust.authorize(  # type: ignore[attr-defined]
        signing_server.credential, PIN, digests[:2]
    )
    refused = await rpc_error(
        _collect(
            signing_server,
            pb.CompleteBatchRequest(
                prepared_batch=prepared.prepared_batch, consent=pb.Consent(sad=partial.sad)
            ),
        )
    )
    assert refused.code() == grpc.StatusCode.PERMISSION_DENIED
    sad = await signing_server.trust.authorize(  # type: ignore[attr-defined]
        signing_server.credential, PIN, digests
    )
    signed = await _collect(
        signing_server,
        pb.CompleteBatchRequest(
            prepared_batch=prepared.prepared_batch, consent=pb.Consent(sad=sad.sad)
        ),
    )
    assert list(signed) == list(documents)
    for name, (result, data) in signed.items():
        assert result.input_sha256 == hashlib.sha256(documents[name]).hexdigest()
        assert result.sha256 == hashlib.sha256(data).hexdigest()
        await assert_valid(signing_server, data)
    again = await rpc_error(
        _collect(
            signing_server,
            pb.CompleteBatchRequest(
                prepared_batch=prepared.prepared_batch, consent=pb.Consent(pin=PIN)
            ),
        )
    )
    assert again.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_batch_bad_inputs(signing_server: SigningServer) -> None:
    async def requests(count: int, names: list[str]):  # type: ignore[no-untyped-def]
        yield pb.PrepareBatchRequest(
            header=pb.PrepareBatchHeader(credential=signing_server.credential, document_count=count)
        )
        for name in names:
            yield pb.PrepareBatchRequest(document=pb.BatchDocument(document_id=name))
            yield pb.PrepareBatchRequest(chunk=make_pdf())

    for count, names, field in [
        (0, [], "document_count"),
        (2, ["a.pdf"], "document_count"),
        (2, ["a.pdf", "a.pdf"], "repeated"),
        (1, [""], "document_id"),
    ]:
        error = await rpc_error(signing_server.stub.PrepareBatch(requests(count, names)))  # type: ignore[attr-defined]
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, field
        assert field in (error.details() or ""), error.details()
    unknown = await rpc_error(
        _collect(
            signing_server,
            pb.CompleteBatchRequest(
                prepared_batch="preparedBatches/batch-x", consent=pb.Consent(pin=PIN)
            ),
        )
    )
    assert unknown.code() == grpc.StatusCode.NOT_FOUND


async def _collect(server: SigningServer, request: pb.CompleteBatchRequest):  # type: ignore[no-untyped-def]
    out: dict[str, tuple[pb.SignPdfResult, bytes]] = {}
    current = None
    parts: list[bytes] = []
    async for message in server.stub.CompleteBatch(request):  # type: ignore[attr-defined]
        if message.WhichOneof("payload") == "document_result":
            if current is not None:
                out[current.document_id] = (current.result, b"".join(parts))
            current, parts = message.document_result, []
        else:
            parts.append(message.chunk)
    if current is not None:
        out[current.document_id] = (current.result, b"".join(parts))
    return out

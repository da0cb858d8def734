"""Two-phase signing through gRPC: request ids make every call idempotent, and an archive
target given at preparation is applied when the signature is completed."""

from __future__ import annotations

import datetime as dt
import uuid

import grpc
import pytest
from hoso.client.storage import ArchiveClient
from hoso.common.protoconv import to_timestamp
from hoso.signing.models import SigningPrepared
from hoso.signing.v1 import signing_pb2 as pb
from hoso.storage.v1 import storage_pb2 as storage_pb
from sqlalchemy import func, select

from tests.fixtures.pades import PIN, SigningServer, make_pdf
from tests.integration.test_signing_api import assert_valid, audit_events, rpc_error
from tests.integration.test_signing_remote import _collect, complete, prepare

pytestmark = pytest.mark.asyncio


async def _dossier(server: SigningServer, code: str) -> tuple[ArchiveClient, str]:
    archive = ArchiveClient(server.handle.channel("operator"))  # type: ignore[attr-defined]
    dossier = await archive.create_dossier(
        storage_pb.Dossier(
            dossier_code=code,
            procedure_code="1.001234",
            agency_code="H01",
            applicant_id="001099012345",
            receive_time=to_timestamp(dt.datetime(2026, 12, 1, 1, 0, tzinfo=dt.UTC)),
            title="Hồ sơ ký hai bước",
        )
    )
    return archive, dossier.name


async def _prepared_rows(server: SigningServer) -> int:
    async with server.handle.runtime.session() as session:  # type: ignore[attr-defined]
        return int(await session.scalar(select(func.count()).select_from(SigningPrepared)) or 0)


async def test_prepare_and_complete_repeat_the_first_result_and_archive(
    signing_server: SigningServer,
) -> None:
    archive, dossier = await _dossier(signing_server, "000.00.01.H01-261205-0101")
    header = pb.PrepareSignatureHeader(
        credential=signing_server.credential,
        options=pb.SignatureOptions(level=pb.PADES_LEVEL_B_T),
        filename="quyet-dinh.pdf",
        archive=pb.ArchiveTarget(dossier=dossier, filename="quyet-dinh-da-ky.pdf"),
        request_id=str(uuid.uuid4()),
    )
    data = make_pdf()
    first = await prepare(signing_server, data, header)
    again = await prepare(signing_server, data, header)
    assert again == first
    assert await _prepared_rows(signing_server) == 1
    other = await rpc_error(prepare(signing_server, make_pdf(pages=2), header))
    assert other.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "request_id" in (other.details() or "")

    request = pb.CompleteSignatureRequest(
        prepared_signature=first.prepared_signature,
        consent=pb.Consent(pin=PIN),
        request_id=str(uuid.uuid4()),
    )
    result, signed = await complete(signing_server, request)
    await assert_valid(signing_server, signed)
    assert result.archived_file_version.startswith(dossier + "/files/")
    version, stored = await archive.read_file(result.archived_file_version)
    assert stored == signed and version.sha256 == result.sha256
    # the repeat carries a wrong PIN: not checked again, nothing signed or archived again
    request.consent.pin = "0000000"
    replay, replayed = await complete(signing_server, request)
    assert replay == result and replayed == signed
    assert len(await audit_events(signing_server, "signing.complete_signature")) == 1
    files = await archive.list_files(dossier)
    assert [f.name for f in files] == [result.archived_file_version]
    # without a request id a second completion is refused as before
    refused = await rpc_error(
        complete(
            signing_server,
            pb.CompleteSignatureRequest(
                prepared_signature=first.prepared_signature, consent=pb.Consent(pin=PIN)
            ),
        )
    )
    assert refused.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_complete_without_archive_target_archives_nothing(
    signing_server: SigningServer,
) -> None:
    prepared = await prepare(
        signing_server,
        make_pdf(),
        pb.PrepareSignatureHeader(credential=signing_server.credential),
    )
    result, _ = await complete(
        signing_server,
        pb.CompleteSignatureRequest(
            prepared_signature=prepared.prepared_signature, consent=pb.Consent(pin=PIN)
        ),
    )
    assert result.archived_file_version == ""


async def _batch(server: SigningServer, dossier: str, request_id: str, documents: dict):  # type: ignore[no-untyped-def,type-arg]
    yield pb.PrepareBatchRequest(
        header=pb.PrepareBatchHeader(
            credential=server.credential,
            options=pb.SignatureOptions(level=pb.PADES_LEVEL_B_T),
            document_count=len(documents),
            request_id=request_id,
        )
    )
    for name, data in documents.items():
        yield pb.PrepareBatchRequest(
            document=pb.BatchDocument(
                document_id=name,
                archive=pb.ArchiveTarget(dossier=dossier, filename=name) if dossier else None,
            )
        )
        yield pb.PrepareBatchRequest(chunk=data)


async def test_batch_repeats_the_first_result_and_archives_each_document(
    signing_server: SigningServer,
) -> None:
    archive, dossier = await _dossier(signing_server, "000.00.01.H01-261205-0102")
    documents = {f"giay-phep-{n}.pdf": make_pdf(pages=n) for n in (1, 2)}
    prepare_id = str(uuid.uuid4())
    stub = signing_server.stub
    first = await stub.PrepareBatch(_batch(signing_server, dossier, prepare_id, documents))  # type: ignore[attr-defined]
    again = await stub.PrepareBatch(_batch(signing_server, dossier, prepare_id, documents))  # type: ignore[attr-defined]
    assert again == first
    assert await _prepared_rows(signing_server) == 2
    changed = dict(documents, **{"giay-phep-2.pdf": make_pdf(pages=3)})
    other = await rpc_error(stub.PrepareBatch(_batch(signing_server, dossier, prepare_id, changed)))  # type: ignore[attr-defined]
    assert other.code() == grpc.StatusCode.FAILED_PRECONDITION

    request = pb.CompleteBatchRequest(
        prepared_batch=first.prepared_batch,
        consent=pb.Consent(pin=PIN),
        request_id=str(uuid.uuid4()),
    )
    signed = await _collect(signing_server, request)
    assert list(signed) == list(documents)
    for result, data in signed.values():
        await assert_valid(signing_server, data)
        assert result.archived_file_version.startswith(dossier + "/files/")
        _, stored = await archive.read_file(result.archived_file_version)
        assert stored == data
    request.consent.pin = "0000000"
    replay = await _collect(signing_server, request)
    assert replay == signed
    assert len(await audit_events(signing_server, "signing.complete_signature")) == 2
    assert len(await archive.list_files(dossier)) == 2

"""The archive over gRPC: the same suite against the local store and Ceph RGW, SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import io
import tarfile
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import grpc
import pytest
import pytest_asyncio
from google.protobuf import field_mask_pb2, timestamp_pb2
from hoso.storage.v1 import storage_pb2 as pb
from hoso.storage.v1 import storage_pb2_grpc as pb_grpc

from tests.fixtures.archive import ArchiveBackend, make_pdf

pytestmark = pytest.mark.asyncio

CHUNK = 1024 * 1024


def _ts(text: str) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(datetime.fromisoformat(text).astimezone(UTC))
    return stamp


async def _requests(
    header: pb.PutFileHeader, data: bytes, chunk: int = CHUNK
) -> AsyncIterator[pb.PutFileRequest]:
    yield pb.PutFileRequest(header=header)
    for start in range(0, len(data), chunk):
        yield pb.PutFileRequest(chunk=data[start : start + chunk])


async def put(
    stub: pb_grpc.ArchiveServiceStub, dossier: str, data: bytes, **fields: object
) -> pb.FileVersion:
    header = pb.PutFileHeader(
        dossier=dossier,
        filename=str(fields.pop("filename", "scan.pdf")),
        component_type=int(fields.pop("component_type", pb.COMPONENT_TYPE_APPLICATION_FORM)),  # type: ignore[call-overload]
        **fields,  # type: ignore[arg-type]
    )
    response = await stub.PutFile(_requests(header, data))
    return response.file_version


async def read_all(
    stub: pb_grpc.ArchiveServiceStub, name: str, offset: int = 0, length: int = 0
) -> tuple[pb.FileVersion, bytes]:
    meta = None
    out = bytearray()
    async for message in stub.GetFile(pb.GetFileRequest(name=name, offset=offset, length=length)):
        if message.WhichOneof("payload") == "metadata":
            meta = message.metadata
        else:
            out += message.chunk
    assert meta is not None
    return meta, bytes(out)


async def create_dossier(
    stub: pb_grpc.ArchiveServiceStub, code: str | None = None, **fields: object
) -> pb.Dossier:
    dossier = pb.Dossier(
        dossier_code=code or f"000.00.01.H26-{uuid.uuid4().hex[:8]}",
        procedure_code=str(fields.pop("procedure_code", "1.001612")),
        agency_code=str(fields.pop("agency_code", "H26")),
        applicant_id="001099012345",
        title=str(fields.pop("title", "Đăng ký hộ kinh doanh")),
        receive_time=fields.pop("receive_time", _ts("2025-01-02T08:00:00+07:00")),  # type: ignore[arg-type]
        **fields,  # type: ignore[arg-type]
    )
    return (await stub.CreateDossier(pb.CreateDossierRequest(dossier=dossier))).dossier


@pytest_asyncio.fixture
async def archive(start_server, archive_backend: ArchiveBackend, database_url: str):  # type: ignore[no-untyped-def]
    server = await start_server(
        ["storage"], overrides=archive_backend.settings(), database_url=database_url
    )
    yield pb_grpc.ArchiveServiceStub(server.channel("operator")), archive_backend, server


async def _expect(code: grpc.StatusCode, awaitable: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await awaitable  # type: ignore[misc]
    assert info.value.code() == code, info.value.details()
    return info.value


def _object_keys(backend: ArchiveBackend) -> list[str]:
    if backend.kind == "s3":
        return [
            o.object_name
            for o in backend.minio.list_objects(
                bucket_name=backend.bucket, prefix="d/", recursive=True
            )
        ]
    from pathlib import Path

    root = Path(backend.overrides["local_root"]) / "objects"
    return [str(p) for p in root.rglob("*.obj")] + [
        str(p) for p in (root.parent / "staging").glob("*")
    ]


async def test_put_get_versions_and_ranges(archive) -> None:  # type: ignore[no-untyped-def]
    stub, _backend, _ = archive
    dossier = await create_dossier(stub)
    data = make_pdf(padding=3 * CHUNK + 12345)
    first = await put(stub, dossier.name, data, expected_sha256=hashlib.sha256(data).hexdigest())
    assert first.version == 1 and first.media_type == "application/pdf"
    assert first.sha256 == hashlib.sha256(data).hexdigest() and first.size_bytes == len(data)
    meta, body = await read_all(stub, first.name)
    assert body == data and meta.name == first.name
    _, middle = await read_all(stub, first.name, offset=CHUNK - 7, length=CHUNK + 100)
    assert middle == data[CHUNK - 7 : 2 * CHUNK + 93]
    # Same filename and component: a new version, the old one untouched.
    second_data = make_pdf(pages=2)
    second = await put(stub, dossier.name, second_data)
    assert second.file_id == first.file_id and second.version == 2
    assert (await read_all(stub, first.name))[1] == data
    latest, body = await read_all(stub, f"{dossier.name}/files/{first.file_id}")
    assert latest.version == 2 and body == second_data
    versions = await stub.ListFileVersions(
        pb.ListFileVersionsRequest(file=f"{dossier.name}/files/{first.file_id}")
    )
    assert [v.version for v in versions.file_versions] == [2, 1]
    files = await stub.ListFiles(pb.ListFilesRequest(dossier=dossier.name))
    assert [f.version for f in files.file_versions] == [2]
    await _expect(grpc.StatusCode.OUT_OF_RANGE, read_all(stub, first.name, offset=len(data) + 1))
    # Events for OCR: archived files with a traceparent, resumable by cursor.
    events = await stub.ListEvents(pb.ListEventsRequest(types=[pb.EVENT_TYPE_FILE_ARCHIVED]))
    assert [e.file_version for e in events.events] == [first.name, second.name]
    assert all(e.traceparent.startswith("00-") and e.sha256 for e in events.events)
    after = await stub.ListEvents(
        pb.ListEventsRequest(
            after_sequence=events.events[0].sequence, types=[pb.EVENT_TYPE_FILE_ARCHIVED]
        )
    )
    assert [e.file_version for e in after.events] == [second.name]


async def test_rejected_uploads_leave_nothing(archive) -> None:  # type: ignore[no-untyped-def]
    stub, backend, _ = archive
    dossier = await create_dossier(stub)
    data = make_pdf(padding=2 * CHUNK)
    error = await _expect(
        grpc.StatusCode.INVALID_ARGUMENT, put(stub, dossier.name, data, expected_sha256="0" * 64)
    )
    assert "SHA-256" in error.details()
    await _expect(
        grpc.StatusCode.INVALID_ARGUMENT, put(stub, dossier.name, data, filename="../etc/passwd")
    )
    await _expect(
        grpc.StatusCode.INVALID_ARGUMENT, put(stub, dossier.name, data, filename="a\x07.pdf")
    )
    await _expect(grpc.StatusCode.INVALID_ARGUMENT, put(stub, dossier.name, b""))
    await _expect(
        grpc.StatusCode.INVALID_ARGUMENT,
        put(stub, dossier.name, b"MZ" + bytes(4096), filename="x.exe"),
    )
    zip_tail = io.BytesIO()
    import zipfile

    with zipfile.ZipFile(zip_tail, "w") as archive_zip:
        archive_zip.writestr("payload.txt", "hidden")
    await _expect(
        grpc.StatusCode.INVALID_ARGUMENT, put(stub, dossier.name, data + zip_tail.getvalue())
    )
    await _expect(grpc.StatusCode.INVALID_ARGUMENT, put(stub, dossier.name, b"junk" * 10 + data))
    await _expect(
        grpc.StatusCode.INVALID_ARGUMENT,
        put(stub, dossier.name, data, declared_media_type="image/png"),
    )
    await _expect(grpc.StatusCode.INVALID_ARGUMENT, put(stub, dossier.name, data, component_type=0))
    await _expect(grpc.StatusCode.NOT_FOUND, put(stub, "dossiers/NO-SUCH", data))
    await _expect(grpc.StatusCode.INVALID_ARGUMENT, put(stub, "nonsense", data))
    await _expect(
        grpc.StatusCode.INVALID_ARGUMENT, put(stub, dossier.name, data, expected_sha256="xyz")
    )
    await _expect(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        put(stub, dossier.name, data, expected_size_bytes=1 << 50),
    )

    async def body_first() -> AsyncIterator[pb.PutFileRequest]:
        yield pb.PutFileRequest(chunk=b"%PDF-")

    await _expect(grpc.StatusCode.INVALID_ARGUMENT, stub.PutFile(body_first()))
    files = await stub.ListFiles(pb.ListFilesRequest(dossier=dossier.name, include_derived=True))
    assert list(files.file_versions) == []
    assert _object_keys(backend) == []
    events = await stub.ListEvents(pb.ListEventsRequest(types=[pb.EVENT_TYPE_FILE_ARCHIVED]))
    assert list(events.events) == []


async def test_request_id_is_idempotent(archive) -> None:  # type: ignore[no-untyped-def]
    stub, _backend, _ = archive
    dossier = await create_dossier(stub)
    data = make_pdf()
    request_id = str(uuid.uuid4())
    first = await put(stub, dossier.name, data, request_id=request_id)
    again = await put(stub, dossier.name, data, request_id=request_id)
    assert again.name == first.name
    versions = await stub.ListFileVersions(
        pb.ListFileVersionsRequest(file=f"{dossier.name}/files/{first.file_id}")
    )
    assert len(versions.file_versions) == 1
    await _expect(
        grpc.StatusCode.INVALID_ARGUMENT,
        put(stub, dossier.name, data, filename="other.pdf", request_id=request_id),
    )


async def test_retained_version_cannot_be_deleted(archive) -> None:  # type: ignore[no-untyped-def]
    stub, backend, _server = archive
    dossier = await create_dossier(stub)
    unretained = await put(stub, dossier.name, make_pdf(), filename="draft.pdf")
    deleted = await stub.DeleteFile(pb.DeleteFileRequest(name=unretained.name, reason="nhầm tệp"))
    assert list(deleted.deleted_versions) == [unretained.name]
    await _expect(
        grpc.StatusCode.NOT_FOUND, stub.StatFile(pb.StatFileRequest(name=unretained.name))
    )
    kept = await put(
        stub,
        dossier.name,
        make_pdf(),
        filename="result.pdf",
        retention_class=pb.RETENTION_CLASS_FIVE_YEARS,
    )
    assert kept.HasField("retain_until") and kept.retention_class == pb.RETENTION_CLASS_FIVE_YEARS
    error = await _expect(
        grpc.StatusCode.FAILED_PRECONDITION,
        stub.DeleteFile(pb.DeleteFileRequest(name=kept.name, reason="x")),
    )
    assert "retained until" in error.details()
    assert kept.retain_until.ToDatetime().date().isoformat() in error.details()
    await _expect(
        grpc.StatusCode.INVALID_ARGUMENT, stub.SetRetention(pb.SetRetentionRequest(name=kept.name))
    )
    await _expect(
        grpc.StatusCode.INVALID_ARGUMENT,
        stub.DeleteFile(pb.DeleteFileRequest(name=kept.name, reason=" ")),
    )
    if backend.kind == "s3":
        info = await stub.GetStorageInfo(pb.GetStorageInfoRequest())
        assert info.capabilities.object_lock
        from minio.error import S3Error

        row_key = [
            o
            for o in backend.minio.list_objects(
                bucket_name=backend.bucket, prefix="d/", recursive=True, include_version=True
            )
        ]
        assert row_key, "the retained object is in the bucket"
        for obj in row_key:
            with pytest.raises(S3Error):
                backend.minio.remove_object(
                    bucket_name=backend.bucket,
                    object_name=obj.object_name,
                    version_id=obj.version_id,
                )
    assert (
        await stub.StatFile(pb.StatFileRequest(name=kept.name))
    ).file_version.sha256 == kept.sha256
    # Legal hold on an unretained file also blocks deletion.
    held = await put(stub, dossier.name, make_pdf(pages=2), filename="held.pdf")
    await stub.SetLegalHold(
        pb.SetLegalHoldRequest(name=held.name, legal_hold=True, reason="tranh chấp")
    )
    error = await _expect(
        grpc.StatusCode.FAILED_PRECONDITION,
        stub.DeleteFile(pb.DeleteFileRequest(name=held.name, reason="x")),
    )
    assert "legal hold" in error.details()
    await stub.SetLegalHold(pb.SetLegalHoldRequest(name=held.name, legal_hold=False, reason="xong"))
    await stub.DeleteFile(pb.DeleteFileRequest(name=held.name, reason="xong"))


async def test_fixity_and_export(archive) -> None:  # type: ignore[no-untyped-def]
    stub, _backend, _ = archive
    dossier = await create_dossier(stub)
    data = make_pdf(padding=200_000)
    version = await put(stub, dossier.name, data, filename="tờ khai.pdf")
    report = await stub.VerifyFixity(pb.VerifyFixityRequest(name=dossier.name))
    assert report.ok and [r.status for r in report.results] == [pb.FIXITY_STATUS_OK]
    header = None
    tar_bytes = bytearray()
    async for message in stub.ExportDossier(pb.ExportDossierRequest(name=dossier.name)):
        if message.WhichOneof("payload") == "manifest":
            header = message.manifest
        else:
            tar_bytes += message.chunk
    assert header is not None and header.payload_files == 1 and header.payload_bytes == len(data)
    with tarfile.open(fileobj=io.BytesIO(bytes(tar_bytes))) as tar:
        names = tar.getnames()
        root = header.bag_name
        assert f"{root}/bagit.txt" in names and f"{root}/tagmanifest-sha256.txt" in names
        payload_path = f"data/application_form/001/{version.filename}"
        assert tar.extractfile(f"{root}/{payload_path}").read() == data  # type: ignore[union-attr]
        manifest = tar.extractfile(f"{root}/manifest-sha256.txt").read().decode()  # type: ignore[union-attr]
        assert manifest == f"{hashlib.sha256(data).hexdigest()}  {payload_path}\n"
        info = tar.extractfile(f"{root}/bag-info.txt").read().decode()  # type: ignore[union-attr]
        assert f"Payload-Oxum: {len(data)}.1" in info
    await _expect(
        grpc.StatusCode.NOT_FOUND, stub.VerifyFixity(pb.VerifyFixityRequest(name="dossiers/NOPE"))
    )
    await _expect(
        grpc.StatusCode.INVALID_ARGUMENT, stub.GetFixityAudit(pb.GetFixityAuditRequest(name="x"))
    )


async def test_dossier_crud_filters_and_bad_input(archive) -> None:  # type: ignore[no-untyped-def]
    stub, _, _ = archive
    codes = [f"HS-{n:03d}" for n in range(5)]
    for n, code in enumerate(codes):
        await create_dossier(
            stub,
            code,
            procedure_code="1.001612" if n % 2 else "2.000001",
            receive_time=_ts(f"2025-01-0{n + 1}T08:00:00+07:00"),
        )
    page = await stub.ListDossiers(pb.ListDossiersRequest(page_size=2))
    seen = [d.dossier_code for d in page.dossiers]
    while page.next_page_token:
        page = await stub.ListDossiers(
            pb.ListDossiersRequest(page_size=2, page_token=page.next_page_token)
        )
        seen += [d.dossier_code for d in page.dossiers]
    assert seen == list(reversed(codes))
    filtered = await stub.ListDossiers(pb.ListDossiersRequest(procedure_code="1.001612"))
    assert sorted(d.dossier_code for d in filtered.dossiers) == ["HS-001", "HS-003"]
    # The text filter ignores accents, đ/d, case and Unicode normalisation, on both sides.
    await create_dossier(stub, "HS-DD", title="Đề nghị cấp giấy phép xây dựng")
    for query in ["giay phep xay dung", "ĐỀ NGHỊ", "de nghi cap", "đè nghị", "hs-dd"]:
        found = await stub.ListDossiers(pb.ListDossiersRequest(text=query))
        assert [d.dossier_code for d in found.dossiers] == ["HS-DD"], query
    for query in ["giấy phép lái xe", "100%", "hs_dd"]:
        found = await stub.ListDossiers(pb.ListDossiersRequest(text=query))
        assert list(found.dossiers) == [], query
    updated = await stub.UpdateDossier(
        pb.UpdateDossierRequest(
            dossier=pb.Dossier(
                name="dossiers/HS-001", status=pb.DOSSIER_STATUS_COMPLETED, title="Cấp phép"
            ),
            update_mask=field_mask_pb2.FieldMask(paths=["status", "title"]),
        )
    )
    assert (
        updated.dossier.status == pb.DOSSIER_STATUS_COMPLETED
        and updated.dossier.title == "Cấp phép"
    )
    await _expect(
        grpc.StatusCode.INVALID_ARGUMENT,
        stub.UpdateDossier(
            pb.UpdateDossierRequest(
                dossier=pb.Dossier(name="dossiers/HS-001"),
                update_mask=field_mask_pb2.FieldMask(paths=["dossier_code"]),
            )
        ),
    )
    await _expect(grpc.StatusCode.ALREADY_EXISTS, create_dossier(stub, "HS-001"))
    await _expect(grpc.StatusCode.INVALID_ARGUMENT, create_dossier(stub, "bad code/1"))
    await _expect(grpc.StatusCode.INVALID_ARGUMENT, create_dossier(stub, "HS-X", procedure_code=""))
    await _expect(
        grpc.StatusCode.INVALID_ARGUMENT,
        create_dossier(stub, "HS-Y", due_time=_ts("2024-01-01T00:00:00+00:00")),
    )
    await _expect(
        grpc.StatusCode.NOT_FOUND, stub.GetDossier(pb.GetDossierRequest(name="dossiers/NOPE"))
    )
    await _expect(
        grpc.StatusCode.INVALID_ARGUMENT,
        stub.ListDossiers(pb.ListDossiersRequest(page_token="%%%")),
    )
    await _expect(
        grpc.StatusCode.INVALID_ARGUMENT, stub.ListEvents(pb.ListEventsRequest(after_sequence=-1))
    )
    created = await stub.ListEvents(pb.ListEventsRequest(types=[pb.EVENT_TYPE_DOSSIER_CREATED]))
    assert [e.dossier for e in created.events] == [f"dossiers/{c}" for c in [*codes, "HS-DD"]]


async def test_orphan_objects_are_swept_at_start(archive, start_server, database_url: str) -> None:  # type: ignore[no-untyped-def]
    """An object stored before a crash kept its catalog row from being written is removed."""
    stub, backend, _ = archive
    dossier = await create_dossier(stub)
    data = make_pdf()
    kept = await put(stub, dossier.name, data)
    orphan_key = f"d/{uuid.uuid4()}/{uuid.uuid4().hex}"
    if backend.kind == "s3":
        backend.minio.put_object(
            bucket_name=backend.bucket,
            object_name=orphan_key,
            data=io.BytesIO(data),
            length=len(data),
        )
    else:
        from pathlib import Path

        from hoso.storage.objectstore.local import LocalObjectStore

        async def once() -> AsyncIterator[bytes]:
            yield data

        store = LocalObjectStore(
            Path(backend.overrides["local_root"]), bytes.fromhex(backend.overrides["local_key"])
        )
        await store.put(orphan_key, once(), content_type="application/pdf")
    assert any(orphan_key in key for key in _object_keys(backend))
    restarted = await start_server(
        ["storage"], overrides=backend.settings(stale_upload_seconds=0), database_url=database_url
    )
    keys = _object_keys(backend)
    assert not any(orphan_key in key for key in keys) and len(keys) == 1
    again = pb_grpc.ArchiveServiceStub(restarted.channel("operator"))
    assert (await read_all(again, kept.name))[1] == data

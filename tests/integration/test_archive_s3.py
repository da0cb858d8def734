"""What only the S3 backend (Ceph RGW) can show: object lock, legal hold, SSE-C and multipart
in the bucket itself, aborted and interrupted uploads, and start-up checks of the bucket.

The shared behaviour of both backends is in test_archive_api.py; these tests look into the
bucket with minio directly. Retention uses GOVERNANCE mode so the fixture can clean up.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import time
import uuid
import zipfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import pytest_asyncio
from hoso.storage.errors import BackendUnavailable, StorageMisconfigured
from hoso.storage.objectstore.s3 import parse_s3_time
from hoso.storage.v1 import storage_pb2 as pb
from hoso.storage.v1 import storage_pb2_grpc as pb_grpc
from minio.deleteobjects import DeleteObject
from minio.error import S3Error
from minio.sse import SseCustomerKey

from tests.fixtures.archive import (
    TEST_KEY,
    drop_bucket,
    make_bucket,
    make_pdf,
    require_s3,
    s3_client,
    s3_overrides,
)
from tests.fixtures.grpc_server import TOKENS
from tests.fixtures.tcp_proxy import TcpProxy
from tests.integration.test_archive_api import _expect, create_dossier, put, read_all

pytestmark = pytest.mark.asyncio

MiB = 1024 * 1024
SSEC = SseCustomerKey(bytes.fromhex(TEST_KEY))


class Bucket:
    """A fresh object-lock bucket and a minio client looking into it."""

    def __init__(self, env: dict[str, str], client: Any, name: str) -> None:
        self.env = env
        self.client = client
        self.name = name

    def overrides(self, **more: Any) -> dict[str, dict[str, Any]]:
        return {"storage": {**s3_overrides(self.env, self.name), **more}}

    def versions(self, prefix: str = "d/") -> list[Any]:
        return [
            o
            for o in self.client.list_objects(
                bucket_name=self.name, prefix=prefix, recursive=True, include_version=True
            )
            if not o.is_delete_marker
        ]

    def incomplete(self) -> list[str]:
        return [u.object_name for u in self.client._list_multipart_uploads(self.name).uploads]


@pytest.fixture
def bucket() -> Iterator[Bucket]:
    env = require_s3()
    client = s3_client(env)
    name = make_bucket(client)
    try:
        yield Bucket(env, client, name)
    finally:
        drop_bucket(client, name)


@pytest_asyncio.fixture
async def archive(start_server, bucket: Bucket):  # type: ignore[no-untyped-def]
    server = await start_server(["storage"], overrides=bucket.overrides())
    return pb_grpc.ArchiveServiceStub(server.channel("operator")), server


async def eventually(predicate: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    """Wait until ``predicate()`` holds (a condition, polled; fails after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        await asyncio.sleep(0.05)


async def test_bucket_enforces_lock_hold_ssec_and_multipart(archive, bucket: Bucket) -> None:  # type: ignore[no-untyped-def]
    stub, _ = archive
    info = await stub.GetStorageInfo(pb.GetStorageInfoRequest())
    caps = info.capabilities
    assert caps.object_lock and caps.legal_hold and caps.versioning and caps.sse_c
    assert info.encryption == pb.ENCRYPTION_KIND_SSE_C and info.bucket == bucket.name
    dossier = await create_dossier(stub)
    data = make_pdf(padding=12 * MiB)
    kept = await put(
        stub, dossier.name, data, retention_class=pb.RETENTION_CLASS_FIVE_YEARS, filename="kq.pdf"
    )
    [stored] = bucket.versions()
    # Multipart with 5 MiB parts: the ETag of a multipart object ends in -<parts>.
    stat = bucket.client.stat_object(
        bucket_name=bucket.name, object_name=stored.object_name, ssec=SSEC
    )
    assert stat.etag.endswith(f"-{-(-len(data) // (5 * MiB))}"), stat.etag
    headers = {k.lower(): v for k, v in stat.metadata.items()}
    assert headers["x-amz-object-lock-mode"] == "GOVERNANCE"
    until = parse_s3_time(headers["x-amz-object-lock-retain-until-date"])
    assert abs(until.timestamp() - kept.retain_until.ToDatetime().timestamp()) < 1
    # SSE-C: without the customer key the bytes cannot be read, with it they are the upload.
    with pytest.raises(S3Error):
        bucket.client.get_object(bucket_name=bucket.name, object_name=stored.object_name)
    response = bucket.client.get_object(
        bucket_name=bucket.name, object_name=stored.object_name, ssec=SSEC
    )
    try:
        assert hashlib.sha256(response.read()).hexdigest() == kept.sha256
    finally:
        response.close()
        response.release_conn()
    await _expect(
        grpc.StatusCode.FAILED_PRECONDITION,
        stub.GetDownloadUrl(pb.GetDownloadUrlRequest(name=kept.name)),
    )
    # The retained version cannot be deleted: neither through the service nor in the bucket.
    error = await _expect(
        grpc.StatusCode.FAILED_PRECONDITION,
        stub.DeleteFile(pb.DeleteFileRequest(name=kept.name, reason="thử xoá")),
    )
    assert "retained until" in error.details()
    with pytest.raises(S3Error) as denied:
        bucket.client.remove_object(
            bucket_name=bucket.name, object_name=stored.object_name, version_id=stored.version_id
        )
    assert denied.value.code == "AccessDenied"
    # Legal hold: on in the bucket, and not even a governance bypass removes the version.
    held = await put(stub, dossier.name, make_pdf(pages=2), filename="held.pdf")
    await stub.SetLegalHold(pb.SetLegalHoldRequest(name=held.name, legal_hold=True, reason="x"))
    [held_obj] = [v for v in bucket.versions() if v.object_name != stored.object_name]
    assert bucket.client.is_object_legal_hold_enabled(
        bucket_name=bucket.name, object_name=held_obj.object_name, version_id=held_obj.version_id
    )
    errors = list(
        bucket.client.remove_objects(
            bucket_name=bucket.name,
            delete_object_list=[DeleteObject(held_obj.object_name, held_obj.version_id)],
            bypass_governance_mode=True,
        )
    )
    assert [e.code for e in errors] == ["AccessDenied"]
    await _expect(
        grpc.StatusCode.FAILED_PRECONDITION,
        stub.DeleteFile(pb.DeleteFileRequest(name=held.name, reason="x")),
    )
    await stub.SetLegalHold(pb.SetLegalHoldRequest(name=held.name, legal_hold=False, reason="y"))
    assert not bucket.client.is_object_legal_hold_enabled(
        bucket_name=bucket.name, object_name=held_obj.object_name, version_id=held_obj.version_id
    )
    await stub.DeleteFile(pb.DeleteFileRequest(name=held.name, reason="hết tranh chấp"))
    assert [v.object_name for v in bucket.versions()] == [stored.object_name]
    assert (await read_all(stub, kept.name))[1] == data


async def test_rejected_and_cancelled_uploads_leave_no_object_nor_multipart(
    archive, bucket: Bucket
) -> None:  # type: ignore[no-untyped-def]
    stub, server = archive
    dossier = await create_dossier(stub)
    data = make_pdf(padding=11 * MiB)
    # Rejections found only at the end of a multipart stream abort the upload.
    await _expect(
        grpc.StatusCode.INVALID_ARGUMENT, put(stub, dossier.name, data, expected_sha256="0" * 64)
    )
    assert bucket.incomplete() == []
    tail = io.BytesIO()
    with zipfile.ZipFile(tail, "w") as archive_zip:
        archive_zip.writestr("payload.txt", "hidden")
    await _expect(grpc.StatusCode.INVALID_ARGUMENT, put(stub, dossier.name, data + tail.getvalue()))
    assert bucket.incomplete() == []
    # A client that vanishes mid-way: the server aborts the multipart upload it started.
    big = make_pdf(padding=20 * MiB)
    sent = asyncio.Event()
    never = asyncio.Event()

    async def requests() -> AsyncIterator[pb.PutFileRequest]:
        yield pb.PutFileRequest(
            header=pb.PutFileHeader(
                dossier=dossier.name,
                filename="cut-off.pdf",
                component_type=pb.COMPONENT_TYPE_APPLICATION_FORM,
            )
        )
        for start in range(0, 12 * MiB, MiB):
            yield pb.PutFileRequest(chunk=big[start : start + MiB])
        sent.set()
        await never.wait()

    # A plain channel: a cancel through intercepted channels does not reach the server.
    channel = grpc.aio.insecure_channel(server.address)
    call = pb_grpc.ArchiveServiceStub(channel).PutFile(
        requests(), metadata=(("authorization", f"Bearer {TOKENS['operator']}"),)
    )
    await sent.wait()
    await eventually(lambda: bool(bucket.incomplete()), "the server began a multipart upload")
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    await eventually(lambda: bucket.incomplete() == [], "the server aborted the upload")
    await channel.close()
    assert bucket.versions() == []
    files = await stub.ListFiles(pb.ListFilesRequest(dossier=dossier.name))
    assert list(files.file_versions) == []


async def test_s3_down_during_upload_is_unavailable_and_nothing_half_stored(
    start_server, bucket: Bucket, tcp_proxy: Callable[[str, int], TcpProxy], tmp_path: Path
) -> None:
    catalog = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    host, port = bucket.env["HOSO_TEST_S3_ENDPOINT"].rsplit(":", 1)
    proxy = tcp_proxy(host, int(port))
    server = await start_server(
        ["storage"], overrides=bucket.overrides(s3_endpoint=proxy.address), database_url=catalog
    )
    stub = pb_grpc.ArchiveServiceStub(server.channel("operator"))
    dossier = await create_dossier(stub)
    data = make_pdf(padding=12 * MiB)
    header = pb.PutFileHeader(
        dossier=dossier.name,
        filename="lớn.pdf",
        component_type=pb.COMPONENT_TYPE_APPLICATION_FORM,
        request_id=str(uuid.uuid4()),
    )
    # S3 hangs once the first part is on its way (the multipart upload exists by then); the
    # server keeps reading into its parts in flight until the client sent everything, then the
    # connection is cut. (Cutting while the client still writes would race in grpc.aio's
    # client, which may report INTERNAL instead of the server's status.)
    proxy.hold_after(MiB)
    all_sent = asyncio.Event()

    async def requests() -> AsyncIterator[pb.PutFileRequest]:
        yield pb.PutFileRequest(header=header)
        for start in range(0, len(data), MiB):
            yield pb.PutFileRequest(chunk=data[start : start + MiB])
        all_sent.set()

    async def cut_when_sent() -> None:
        # The server read the whole stream, so it created the multipart upload before the hold.
        await asyncio.wait_for(all_sent.wait(), 60)
        proxy.stop()

    cutter = asyncio.create_task(cut_when_sent())
    error = await _expect(grpc.StatusCode.UNAVAILABLE, stub.PutFile(requests()))
    await cutter
    assert "retry" in error.details()
    # While S3 is down a small upload fails the same way.
    await _expect(grpc.StatusCode.UNAVAILABLE, put(stub, dossier.name, make_pdf()))
    assert bucket.versions() == []
    assert (
        list((await stub.ListFiles(pb.ListFilesRequest(dossier=dossier.name))).file_versions) == []
    )
    # Back up: the client retries with the same request id and the upload succeeds.
    proxy.start()
    version = await put(
        stub,
        dossier.name,
        data,
        filename=header.filename,
        request_id=header.request_id,
        expected_sha256=hashlib.sha256(data).hexdigest(),
    )
    assert version.size_bytes == len(data)
    assert len(bucket.versions()) == 1
    # The upload the cut left behind (its abort could not get through) is swept at start.
    await start_server(
        ["storage"], overrides=bucket.overrides(stale_upload_seconds=0), database_url=catalog
    )
    assert bucket.incomplete() == []
    assert len(bucket.versions()) == 1


async def test_start_refuses_missing_bucket_unlocked_bucket_and_unreachable_s3(
    start_server, bucket: Bucket, tcp_proxy: Callable[[str, int], TcpProxy]
) -> None:
    missing = f"hoso-missing-{uuid.uuid4().hex[:8]}"
    with pytest.raises(StorageMisconfigured, match=f"bucket '{missing}' does not exist"):
        await start_server(["storage"], overrides=bucket.overrides(s3_bucket=missing))
    unlocked = make_bucket(bucket.client, object_lock=False)
    try:
        with pytest.raises(StorageMisconfigured, match=r"no object lock.*default_retention_class"):
            await start_server(
                ["storage"],
                overrides=bucket.overrides(s3_bucket=unlocked, default_retention_class="10y"),
            )
        with pytest.raises(StorageMisconfigured, match=r"no object lock.*require_object_lock"):
            await start_server(
                ["storage"],
                overrides=bucket.overrides(s3_bucket=unlocked, require_object_lock=True),
            )
        # Without retention needs an unlocked bucket is usable, and says so.
        server = await start_server(["storage"], overrides=bucket.overrides(s3_bucket=unlocked))
        info = await pb_grpc.ArchiveServiceStub(server.channel("operator")).GetStorageInfo(
            pb.GetStorageInfoRequest()
        )
        assert not info.capabilities.object_lock
    finally:
        drop_bucket(bucket.client, unlocked)
    host, port = bucket.env["HOSO_TEST_S3_ENDPOINT"].rsplit(":", 1)
    proxy = tcp_proxy(host, int(port))
    proxy.stop()
    with pytest.raises(BackendUnavailable, match="unreachable"):
        await start_server(["storage"], overrides=bucket.overrides(s3_endpoint=proxy.address))

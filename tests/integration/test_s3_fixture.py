"""The S3 fixtures against the real Ceph RGW: round trip, object lock, SSE-C, cleanup."""

from __future__ import annotations

import hashlib
import io
import os
from datetime import UTC, datetime, timedelta

import pytest
from minio import Minio
from minio.commonconfig import GOVERNANCE
from minio.error import S3Error
from minio.retention import Retention
from minio.sse import SseCustomerKey

from tests.fixtures.s3 import S3Server, empty_and_remove_bucket, object_lock_of

pytestmark = pytest.mark.s3


def _put(client: Minio, bucket: str, name: str, data: bytes, **kwargs: object) -> str:
    result = client.put_object(
        bucket_name=bucket,
        object_name=name,
        data=io.BytesIO(data),
        length=len(data),
        **kwargs,  # type: ignore[arg-type]
    )
    assert result.version_id, "object lock buckets are versioned: every put has a version"
    return result.version_id


def _get(client: Minio, bucket: str, name: str, **kwargs: object) -> bytes:
    response = client.get_object(bucket_name=bucket, object_name=name, **kwargs)  # type: ignore[arg-type]
    try:
        return response.read()
    finally:
        response.close()
        response.release_conn()


def test_put_get_round_trip(minio_client: Minio, s3_bucket: str) -> None:
    data = os.urandom(256 * 1024)
    _put(minio_client, s3_bucket, "dossier/a.bin", data, content_type="application/pdf")

    assert _get(minio_client, s3_bucket, "dossier/a.bin") == data
    stat = minio_client.stat_object(bucket_name=s3_bucket, object_name="dossier/a.bin")
    assert stat.size == len(data)
    assert stat.content_type == "application/pdf"
    assert stat.etag == hashlib.md5(data).hexdigest()  # single-part ETag is the MD5


def test_bucket_has_object_lock_and_versioning(minio_client: Minio, s3_bucket: str) -> None:
    config = minio_client.get_object_lock_config(bucket_name=s3_bucket)
    assert config is not None
    versioning = minio_client.get_bucket_versioning(bucket_name=s3_bucket)
    assert versioning.status == "Enabled"


def test_governance_retention_refuses_delete_of_the_version(
    minio_client: Minio, s3_bucket: str
) -> None:
    # Far enough ahead that no clock step can make it lapse during the test.
    until = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    version = _put(
        minio_client,
        s3_bucket,
        "signed.pdf",
        b"%PDF-1.7 signed",
        retention=Retention(GOVERNANCE, until),
    )

    mode, retain_until, hold = object_lock_of(minio_client, s3_bucket, "signed.pdf", version)
    assert (mode, retain_until, hold) == ("GOVERNANCE", until, False)

    with pytest.raises(S3Error) as refused:
        minio_client.remove_object(
            bucket_name=s3_bucket, object_name="signed.pdf", version_id=version
        )
    assert refused.value.code == "AccessDenied"
    assert _get(minio_client, s3_bucket, "signed.pdf", version_id=version) == b"%PDF-1.7 signed"


def test_legal_hold_on_and_off(minio_client: Minio, s3_bucket: str) -> None:
    version = _put(minio_client, s3_bucket, "held.pdf", b"%PDF-1.7 held")
    kwargs = {"bucket_name": s3_bucket, "object_name": "held.pdf", "version_id": version}

    minio_client.enable_object_legal_hold(**kwargs)
    assert minio_client.is_object_legal_hold_enabled(**kwargs)
    assert object_lock_of(minio_client, s3_bucket, "held.pdf", version)[2] is True
    with pytest.raises(S3Error) as refused:
        minio_client.remove_object(**kwargs)
    assert refused.value.code == "AccessDenied"

    minio_client.disable_object_legal_hold(**kwargs)
    assert not minio_client.is_object_legal_hold_enabled(**kwargs)
    minio_client.remove_object(**kwargs)
    remaining = list(
        minio_client.list_objects(bucket_name=s3_bucket, recursive=True, include_version=True)
    )
    assert remaining == []


def test_sse_c_needs_the_customer_key(minio_client: Minio, s3_bucket: str) -> None:
    key = SseCustomerKey(bytes(range(32)))
    data = b"CCCD 001234567890 " * 100
    _put(minio_client, s3_bucket, "secret.bin", data, sse=key)

    assert _get(minio_client, s3_bucket, "secret.bin", ssec=key) == data
    with pytest.raises(S3Error) as refused:
        _get(minio_client, s3_bucket, "secret.bin")
    assert refused.value.response.status == 400  # RGW: InvalidRequest, the key is required
    with pytest.raises(S3Error):
        _get(minio_client, s3_bucket, "secret.bin", ssec=SseCustomerKey(b"\x01" * 32))


def test_cleanup_removes_locked_versions_and_bucket(
    s3_server: S3Server, minio_client: Minio
) -> None:
    bucket = "hoso-test-cleanup-" + os.urandom(6).hex()
    minio_client.make_bucket(bucket_name=bucket, object_lock=True)
    until = datetime.now(UTC) + timedelta(days=1)
    _put(minio_client, bucket, "a", b"1", retention=Retention(GOVERNANCE, until))
    _put(minio_client, bucket, "a", b"2", legal_hold=True)
    minio_client.remove_object(bucket_name=bucket, object_name="a")  # a delete marker

    assert empty_and_remove_bucket(minio_client, bucket) is True
    assert not minio_client.bucket_exists(bucket_name=bucket)
    assert s3_server.url.startswith("http")

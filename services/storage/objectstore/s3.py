"""S3 object store through the minio SDK (tested against Ceph RGW).

minio is synchronous, so every call runs in a worker thread. A put cuts the stream into
``part_size`` parts and uploads them as a multipart upload (:mod:`.s3_upload`), completed only
once the producer finished without error, so a failed or aborted upload is aborted and no
object ever becomes visible. Uploads orphaned by a crash are aborted by
:meth:`S3ObjectStore.sweep_incomplete` at start.

RGW quirks handled here: a multipart ``put_object`` result has ``etag=None`` (we never rely on
it), and minio cannot parse RGW's retention timestamps with nanoseconds, so retention is read
from the ``stat_object`` headers or from the raw ``?retention`` XML.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import urllib3
from hoso.common.errors import HosoError, Internal
from hoso.storage.errors import (
    BackendUnavailable,
    ObjectMissing,
    RetentionActive,
    StorageMisconfigured,
)
from hoso.storage.objectstore._common import check_key
from hoso.storage.objectstore.api import (
    Capabilities,
    ObjectInfo,
    ObjectStore,
    PutResult,
    StoredObject,
)
from hoso.storage.objectstore.s3_upload import upload_stream
from minio import Minio
from minio.commonconfig import ENABLED
from minio.error import InvalidResponseError, S3Error, ServerError
from minio.helpers import genheaders
from minio.retention import Retention
from minio.sse import SseCustomerKey
from minio.versioningconfig import VersioningConfig

__all__ = ["S3Config", "S3ObjectStore", "parse_s3_time"]

T = TypeVar("T")
_READ_SIZE = 1024 * 1024
_MISSING_CODES = {"NoSuchKey", "NoSuchVersion", "NoSuchObject"}


def parse_s3_time(value: str) -> datetime:
    """Parse an ISO 8601 time as S3 servers write it, nanoseconds included (RGW)."""
    text = value.strip().replace("Z", "+00:00")
    # Python accepts at most 6 fractional digits; RGW writes 9.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class S3Config:
    """Connection settings of the store (kept apart from StorageSettings for tests/bench)."""

    def __init__(
        self,
        *,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        secure: bool,
        region: str | None = None,
        part_size: int = 6 * 1024 * 1024,
        parallel_uploads: int = 3,
        tenant_keys: Callable[[str], bytes | None] | None = None,
    ) -> None:
        """Describe one bucket on one endpoint; ``tenant_keys`` maps tenant → SSE-C key."""
        self.endpoint = endpoint
        self.access_key = access_key
        self.secret_key = secret_key
        self.bucket = bucket
        self.secure = secure
        self.region = region
        self.part_size = part_size
        self.parallel_uploads = parallel_uploads
        self.tenant_keys = tenant_keys or (lambda tenant: None)


class S3ObjectStore(ObjectStore):
    """One bucket of an S3 server."""

    name = "s3"

    def __init__(self, config: S3Config) -> None:
        """Build the client (no network call until used)."""
        self._config = config
        self._bucket = config.bucket
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=5, read=120),
            maxsize=16,
            retries=urllib3.Retry(
                total=2, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]
            ),
        )
        self._client = Minio(
            endpoint=config.endpoint,
            access_key=config.access_key,
            secret_key=config.secret_key,
            secure=config.secure,
            region=config.region,
            http_client=http,
        )

    @property
    def client(self) -> Minio:
        """The underlying minio client (tests and the bench use it directly)."""
        return self._client

    async def _call(self, fn: Callable[..., T], /, **kwargs: Any) -> T:
        try:
            return await asyncio.to_thread(fn, **kwargs)
        except HosoError:
            raise
        except BaseException as exc:
            raise self._translate(exc) from exc

    def _translate(self, exc: BaseException) -> BaseException:
        if isinstance(exc, S3Error):
            if exc.code in _MISSING_CODES:
                return ObjectMissing(f"object {exc.object_name} is missing from the bucket")
            if exc.code == "NoSuchBucket":
                return StorageMisconfigured(
                    f"bucket {self._bucket!r} does not exist; create it (with object lock)"
                )
            if exc.code in {"SlowDown", "ServiceUnavailable", "InternalError"}:
                return BackendUnavailable(f"the object store is busy ({exc.code}); retry later")
            return Internal(f"object store refused the request: {exc.code}")
        if isinstance(exc, ServerError | InvalidResponseError):
            return BackendUnavailable("the object store answered with a server error; retry later")
        if isinstance(exc, urllib3.exceptions.HTTPError | OSError):
            return BackendUnavailable(
                f"the object store at {self._config.endpoint} is unreachable; retry later"
            )
        return exc

    def _ssec(self, tenant: str | None) -> SseCustomerKey | None:
        key = self._config.tenant_keys(tenant or "")
        return SseCustomerKey(key) if key else None

    # -- put ---------------------------------------------------------------------------------
    async def put(
        self,
        key: str,
        chunks: AsyncIterator[bytes],
        *,
        content_type: str,
        tenant: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> PutResult:
        """Stream into a multipart upload; abort it when ``chunks`` fails (see s3_upload)."""
        check_key(key)
        sse = self._ssec(tenant)
        headers = genheaders(dict(metadata or {}), sse, None, None, False)
        headers["Content-Type"] = content_type or "application/octet-stream"
        version_id, size = await upload_stream(
            self._client,
            self._call,
            chunks,
            bucket=self._bucket,
            key=key,
            headers=headers,
            part_headers=dict(sse.headers()) if sse is not None else None,
            ssec=sse,
            part_size=self._config.part_size,
            parallel=self._config.parallel_uploads,
        )
        return PutResult(key=key, version_id=version_id, size=size)

    # -- get ---------------------------------------------------------------------------------
    async def get(
        self,
        key: str,
        *,
        version_id: str | None = None,
        offset: int = 0,
        length: int | None = None,
        tenant: str | None = None,
    ) -> AsyncIterator[bytes]:
        """Stream a range in 1 MiB pieces read in a worker thread."""
        if length == 0:
            return
        response = await self._call(
            self._client.get_object,
            bucket_name=self._bucket,
            object_name=check_key(key),
            offset=offset,
            length=length or 0,
            ssec=self._ssec(tenant),
            version_id=version_id,
        )
        # One read ahead: the next piece comes off the socket while this one is sent on.
        ahead: asyncio.Future[bytes] | None = None
        try:
            ahead = asyncio.ensure_future(asyncio.to_thread(response.read, _READ_SIZE))
            while True:
                try:
                    data = await ahead
                except BaseException as exc:
                    ahead = None
                    raise self._translate(exc) from exc
                if not data:
                    ahead = None
                    break
                ahead = asyncio.ensure_future(asyncio.to_thread(response.read, _READ_SIZE))
                yield data
        finally:
            if ahead is not None:
                # the reader thread must be done with the response before it is released
                with contextlib.suppress(BaseException):
                    await asyncio.shield(ahead)
            response.close()
            response.release_conn()

    # -- metadata, retention -----------------------------------------------------------------
    async def stat(
        self, key: str, *, version_id: str | None = None, tenant: str | None = None
    ) -> ObjectInfo:
        """HEAD the version; retention comes from its headers, else from the raw XML."""
        obj = await self._call(
            self._client.stat_object,
            bucket_name=self._bucket,
            object_name=check_key(key),
            ssec=self._ssec(tenant),
            version_id=version_id,
        )
        headers = {k.lower(): v for k, v in (obj.metadata or {}).items()}
        until_text = headers.get("x-amz-object-lock-retain-until-date")
        mode = headers.get("x-amz-object-lock-mode")
        if until_text is None:
            mode, until_text = await self._raw_retention(key, obj.version_id)
        hold = headers.get("x-amz-object-lock-legal-hold")
        legal_hold = (
            (hold or "").upper() == "ON"
            if hold is not None
            else await self._raw_hold(key, obj.version_id)
        )
        user_meta = {
            k.removeprefix("x-amz-meta-"): v
            for k, v in headers.items()
            if k.startswith("x-amz-meta-")
        }
        return ObjectInfo(
            key=key,
            version_id=obj.version_id,
            size=int(obj.size or 0),
            retain_until=parse_s3_time(until_text) if until_text else None,
            retention_mode=mode,
            legal_hold=legal_hold,
            metadata=user_meta,
        )

    async def _raw_subresource(
        self, key: str, version_id: str | None, name: str
    ) -> ET.Element | None:
        query: dict[str, str | list[str] | tuple[str]] = {name: ""}
        if version_id:
            query["versionId"] = version_id
        try:
            response = await asyncio.to_thread(
                self._client._execute,  # private: minio's parser breaks on RGW's timestamps
                "GET",
                self._bucket,
                object_name=key,
                query_params=query,
            )
        except S3Error as exc:
            if exc.code in {
                "NoSuchObjectLockConfiguration",
                "ObjectLockConfigurationNotFoundError",
                "InvalidRequest",
                "NoSuchKey",
            }:
                return None
            raise self._translate(exc) from exc
        except BaseException as exc:
            raise self._translate(exc) from exc
        return ET.fromstring(response.data)

    async def _raw_retention(
        self, key: str, version_id: str | None
    ) -> tuple[str | None, str | None]:
        root = await self._raw_subresource(key, version_id, "retention")
        if root is None:
            return None, None
        values = {el.tag.rsplit("}", 1)[-1]: (el.text or "") for el in root.iter()}
        return values.get("Mode") or None, values.get("RetainUntilDate") or None

    async def _raw_hold(self, key: str, version_id: str | None) -> bool:
        root = await self._raw_subresource(key, version_id, "legal-hold")
        if root is None:
            return False
        values = {el.tag.rsplit("}", 1)[-1]: (el.text or "") for el in root.iter()}
        return values.get("Status", "").upper() == "ON"

    async def delete(self, key: str, *, version_id: str | None = None) -> None:
        """Delete a version; a lock makes S3 answer AccessDenied, reported as RetentionActive."""
        try:
            await asyncio.to_thread(
                self._client.remove_object,
                bucket_name=self._bucket,
                object_name=check_key(key),
                version_id=version_id,
            )
        except S3Error as exc:
            if exc.code == "AccessDenied":
                info = await self.stat(key, version_id=version_id)
                raise RetentionActive(
                    "the object store refuses the delete: the version is locked"
                    + (f" until {info.retain_until.isoformat()}" if info.retain_until else "")
                    + (" and under legal hold" if info.legal_hold else ""),
                    until=info.retain_until,
                ) from exc
            raise self._translate(exc) from exc
        except BaseException as exc:
            raise self._translate(exc) from exc

    async def set_retention(
        self, key: str, *, version_id: str | None, until: datetime, mode: str
    ) -> None:
        """Apply Object Lock retention to the version."""
        await self._call(
            self._client.set_object_retention,
            bucket_name=self._bucket,
            object_name=check_key(key),
            config=Retention(mode, until.astimezone(UTC)),
            version_id=version_id,
        )

    async def set_legal_hold(self, key: str, *, version_id: str | None, on: bool) -> None:
        """Set or clear the legal hold of the version."""
        fn = self._client.enable_object_legal_hold if on else self._client.disable_object_legal_hold
        await self._call(
            fn, bucket_name=self._bucket, object_name=check_key(key), version_id=version_id
        )

    async def presign_get(
        self, key: str, *, version_id: str | None, expires_seconds: int
    ) -> str | None:
        """Presign a GET (callers must not presign SSE-C objects: the key is a header)."""
        return await self._call(
            self._client.presigned_get_object,
            bucket_name=self._bucket,
            object_name=check_key(key),
            expires=timedelta(seconds=expires_seconds),
            version_id=version_id,
        )

    async def probe(self) -> Capabilities:
        """Check the bucket exists, read versioning and object lock, and try an SSE-C write."""
        exists = await self._call(self._client.bucket_exists, bucket_name=self._bucket)
        if not exists:
            raise StorageMisconfigured(
                f"bucket {self._bucket!r} does not exist at {self._config.endpoint};"
                " create it with object lock enabled"
            )
        versioning = await self._call(self._client.get_bucket_versioning, bucket_name=self._bucket)
        lock = True
        try:
            await asyncio.to_thread(self._client.get_object_lock_config, bucket_name=self._bucket)
        except S3Error as exc:
            code = exc.code or ""
            if "ObjectLock" not in code and code != "NoSuchObjectLockConfiguration":
                raise self._translate(exc) from exc
            lock = False
        except BaseException as exc:
            raise self._translate(exc) from exc
        encryption = "none"
        detail = f"bucket {self._bucket} at {self._config.endpoint}"
        ssec = self._ssec("*")
        if ssec is not None:
            await self._probe_sse(ssec)
            encryption = "sse-c"
        return Capabilities(
            backend="s3",
            versioning=versioning.status == ENABLED,
            object_lock=lock,
            legal_hold=lock,
            encryption=encryption,
            presign=True,
            detail=detail,
        )

    async def _probe_sse(self, ssec: SseCustomerKey) -> None:
        import io

        key = f"_probe/{uuid.uuid4().hex}"
        try:
            result = await asyncio.to_thread(
                self._client.put_object,
                bucket_name=self._bucket,
                object_name=key,
                data=io.BytesIO(b"probe"),
                length=5,
                sse=ssec,
            )
        except S3Error as exc:
            raise StorageMisconfigured(
                f"the object store refuses SSE-C ({exc.code}); use HTTPS or, on Ceph RGW,"
                " set `rgw crypt require ssl = false` for tests"
            ) from exc
        except BaseException as exc:
            raise self._translate(exc) from exc
        # A bucket default retention may keep the probe; it is tiny and harmless.
        with contextlib.suppress(S3Error):
            await asyncio.to_thread(
                self._client.remove_object,
                bucket_name=self._bucket,
                object_name=key,
                version_id=result.version_id,
            )

    async def ensure_versioning(self) -> None:
        """Turn versioning on (object lock buckets have it already)."""
        await self._call(
            self._client.set_bucket_versioning,
            bucket_name=self._bucket,
            config=VersioningConfig(ENABLED),
        )

    async def sweep_incomplete(self, *, older_than_seconds: int) -> int:
        """Abort multipart uploads initiated longer ago than the limit (every listing page)."""
        limit = datetime.now(UTC) - timedelta(seconds=older_than_seconds)
        aborted = 0
        key_marker: str | None = None
        upload_marker: str | None = None
        while True:
            listing = await self._call(
                self._client._list_multipart_uploads,
                bucket_name=self._bucket,
                key_marker=key_marker,
                upload_id_marker=upload_marker,
            )
            for upload in listing.uploads:
                initiated = upload.initiated_time
                if initiated is not None and initiated.tzinfo is None:
                    initiated = initiated.replace(tzinfo=UTC)
                if initiated is None or initiated <= limit:
                    with contextlib.suppress(ObjectMissing):  # aborted meanwhile
                        await self._call(
                            self._client._abort_multipart_upload,
                            bucket_name=self._bucket,
                            object_name=upload.object_name,
                            upload_id=upload.upload_id,
                        )
                    aborted += 1
            if not listing.is_truncated:
                return aborted
            key_marker = listing.next_key_marker
            upload_marker = listing.next_upload_id_marker

    async def list_versions(self, prefix: str) -> AsyncIterator[StoredObject]:
        """Every object version under ``prefix`` (delete markers skipped), page by page."""
        listing = self._client.list_objects(
            bucket_name=self._bucket, prefix=prefix, recursive=True, include_version=True
        )
        while True:
            page = await self._call(_take, iterator=listing, count=1000)
            for obj in page:
                if obj.is_delete_marker or obj.is_dir:
                    continue
                modified = obj.last_modified
                if modified is not None and modified.tzinfo is None:
                    modified = modified.replace(tzinfo=UTC)
                yield StoredObject(obj.object_name, obj.version_id, modified)
            if len(page) < 1000:
                return

    async def close(self) -> None:
        """Drop pooled connections."""
        self._client._http.clear()


def _take(*, iterator: Iterator[T], count: int) -> list[T]:
    """Up to ``count`` items of a (lazily paging) iterator, in a worker thread."""
    return list(itertools.islice(iterator, count))

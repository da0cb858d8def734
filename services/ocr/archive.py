"""The archive as the OCR workers see it: originals read with ``GetFile``, renditions stored
with ``PutFile`` as derived files, dossier facts for search filters.

The archive is reached over gRPC even in the embedded process (through the runtime's
loopback channel), so the embedded and scaled-out modes run the same code, and the calls
carry the job's trace on.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

import grpc
from hoso.client.storage import ArchiveClient
from hoso.common.errors import (
    FailedPrecondition,
    HosoError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unavailable,
)
from hoso.ocr.models import OcrJob
from hoso.ocr.settings import OcrSettings
from hoso.ocr.worker import FileSource, RenditionSink
from hoso.storage.v1 import storage_pb2 as _storage

__all__ = [
    "ArchiveConnection",
    "ArchiveSink",
    "ArchiveSource",
    "DossierFacts",
    "component_name",
    "translate_rpc_error",
]

#: Unary calls to the archive give up after this long (GetFile/PutFile stream without one).
_CALL_TIMEOUT_SECONDS = 30.0
# Request ids of renditions are derived from the job id, so a retried job stores one.
_RENDITION_NAMESPACE = uuid.UUID("6f1c1d1e-8a55-4f55-9a1b-6b0c9b6a0c7e")

_STATUS_ERRORS: dict[grpc.StatusCode, type[HosoError]] = {
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.UNAUTHENTICATED: PermissionDenied,
}


def translate_rpc_error(error: grpc.aio.AioRpcError, what: str) -> HosoError:
    """The hoso error for an archive call's failure; transport trouble is ``Unavailable``."""
    kind = _STATUS_ERRORS.get(error.code(), Unavailable)
    field = "file_version" if kind is NotFound else None
    return kind(f"{what}: archive answered {error.code().name}: {error.details()}", field=field)


def component_name(value: int) -> str:
    """``RESULT`` for ``COMPONENT_TYPE_RESULT``: the name search filters use."""
    name = _storage.ComponentType.Name(value) if value else ""
    return name.removeprefix("COMPONENT_TYPE_") if name != "COMPONENT_TYPE_UNSPECIFIED" else ""


class ArchiveConnection:
    """A lazily opened channel to the archive.

    Args:
        settings: ``ocr.storage_address`` / ``ocr.storage_token``.
        loopback: Gives this process's own channel (``runtime.loopback_channel``), used when
            no address is set; called on first use, after the server started.
    """

    def __init__(self, settings: OcrSettings, loopback: Callable[[], Any] | None = None) -> None:
        self._settings = settings
        self._loopback = loopback
        self._own: grpc.aio.Channel | None = None

    def channel(self) -> grpc.aio.Channel:
        """The channel (opened on first use)."""
        if self._settings.storage_address:
            if self._own is None:
                from hoso.client.channel import ClientConfig, connect

                token = self._settings.storage_token
                self._own = connect(
                    ClientConfig(
                        address=self._settings.storage_address,
                        token=token.get_secret_value() if token else None,
                    )
                )
            return self._own
        if self._loopback is None:
            raise Unavailable("no archive to read from: set ocr.storage_address")
        return self._loopback()

    def client(self) -> ArchiveClient:
        """An archive client on the channel."""
        return ArchiveClient(self.channel(), timeout=_CALL_TIMEOUT_SECONDS)

    async def close(self) -> None:
        """Close a channel this connection opened (the loopback belongs to the runtime)."""
        if self._own is not None:
            await self._own.close()
            self._own = None


class DossierFacts:
    """Agency and procedure of dossiers (search filters), fetched once per dossier."""

    def __init__(self, connection: ArchiveConnection) -> None:
        self._connection = connection
        self._known: dict[str, tuple[str, str]] = {}

    async def of(self, dossier: str) -> tuple[str, str]:
        """``(agency_code, procedure_code)`` of ``dossier``; empty when it cannot be read."""
        if not dossier:
            return "", ""
        if dossier not in self._known:
            try:
                found = await self._connection.client().get_dossier(dossier)
            except grpc.aio.AioRpcError as e:
                if e.code() != grpc.StatusCode.NOT_FOUND:
                    raise translate_rpc_error(e, f"reading {dossier}") from e
                return "", ""
            if len(self._known) > 10_000:  # a long-running follower must not grow forever
                self._known.clear()
            self._known[dossier] = (found.agency_code, found.procedure_code)
        return self._known[dossier]


class ArchiveSource(FileSource):
    """Originals read from the archive with ``GetFile``."""

    def __init__(self, connection: ArchiveConnection) -> None:
        self._connection = connection

    async def fetch(self, file_version: str, target: Path) -> None:
        try:
            await self._connection.client().get_file(file_version, target)
        except grpc.aio.AioRpcError as e:
            raise translate_rpc_error(e, f"reading {file_version}") from e


class ArchiveSink(RenditionSink):
    """Renditions stored with ``PutFile`` as files derived from the original version.

    A searchable PDF/A is ``RENDITION_KIND_OCR_PDFA``; for a signed original it is a sidecar
    (``RENDITION_KIND_OCR_TEXT_SIDECAR``) and the signed bytes stay as they are.
    """

    def __init__(self, connection: ArchiveConnection) -> None:
        self._connection = connection

    async def store(self, job: OcrJob, rendition: bytes, *, signed: bool = False) -> str:
        client = self._connection.client()
        try:
            original = await client.stat_file(job.file_version)
            kind = (
                _storage.RENDITION_KIND_OCR_TEXT_SIDECAR
                if signed
                else _storage.RENDITION_KIND_OCR_PDFA
            )
            stem = PurePosixPath(original.filename).stem or "document"
            suffix = ".ocr-sidecar.pdf" if signed else ".ocr.pdf"
            header = _storage.PutFileHeader(
                dossier=original.dossier,
                filename=f"{stem}{suffix}",
                component_type=original.component_type or _storage.COMPONENT_TYPE_OTHER,
                declared_media_type="application/pdf",
                derived_from=original.name,
                rendition_kind=kind,
                labels={"ocr_job": job.id},
                request_id=str(uuid.uuid5(_RENDITION_NAMESPACE, job.id)),
            )
            stored = await client.put_file(header, rendition, timeout=300)
        except grpc.aio.AioRpcError as e:
            raise translate_rpc_error(e, f"storing the rendition of {job.file_version}") from e
        return stored.name

    async def load(self, rendition_version: str) -> tuple[bytes, bool]:
        try:
            stored, data = await self._connection.client().read_file(rendition_version)
        except grpc.aio.AioRpcError as e:
            raise translate_rpc_error(e, f"reading the rendition {rendition_version}") from e
        return data, stored.rendition_kind == _storage.RENDITION_KIND_OCR_TEXT_SIDECAR

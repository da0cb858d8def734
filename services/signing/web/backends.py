"""Where the verification pages get reports and archived documents from.

The pages only need two operations; :class:`GrpcBackends` does both through the public gRPC
APIs (``VerifyPdf`` and the archive's ``ListFiles``/``StatFile``/``GetFile``), by default over
the process's loopback channel, so the pages behave the same embedded and scaled out.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import grpc
from hoso.client.signing import VerificationClient
from hoso.client.storage import ArchiveClient
from hoso.signing.v1 import verification_pb2 as _pb
from hoso.storage.v1 import storage_pb2 as _storage_pb

__all__ = ["ArchivedFile", "BackendError", "GrpcBackends", "PageBackends"]


@dataclass(frozen=True)
class ArchivedFile:
    """An archived version and its bytes."""

    version: _storage_pb.FileVersion
    dossier: _storage_pb.Dossier
    data: bytes


class PageBackends(Protocol):
    """What the pages need: verify bytes, and read an archived file."""

    async def verify(
        self, data: bytes, filename: str, language: _pb.ReportLanguage.ValueType
    ) -> _pb.VerificationReport:
        """The verification report of ``data``; raises :class:`BackendError`."""
        ...

    async def archived(
        self, dossier_code: str, file: str, version: int | None, *, max_bytes: int
    ) -> ArchivedFile:
        """The archived version (latest when ``version`` is None) of ``file``.

        ``file`` is a file id or a file name within the dossier. Raises ``grpc.aio.AioRpcError``
        Raises :class:`BackendError` (NOT_FOUND when unknown, RESOURCE_EXHAUSTED when larger
        than ``max_bytes``, the call's status otherwise).
        """
        ...


class BackendError(Exception):
    """A failed backend call, with the gRPC status it maps to."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        """Record ``code`` and a message that is safe to show."""
        super().__init__(message)
        self.code = code
        self.message = message


class GrpcBackends:
    """Both operations through the gRPC APIs over a channel made on first use."""

    def __init__(self, channel_factory: Callable[[], grpc.aio.Channel]) -> None:
        """``channel_factory`` returns the (shared, long-lived) channel to use."""
        self._channel_factory = channel_factory

    def _channel(self) -> grpc.aio.Channel:
        return self._channel_factory()

    async def verify(
        self, data: bytes, filename: str, language: _pb.ReportLanguage.ValueType
    ) -> _pb.VerificationReport:
        client = VerificationClient(self._channel())
        try:
            return await client.verify_pdf(data, filename=filename, language=language, timeout=120)
        except grpc.aio.AioRpcError as e:
            raise BackendError(e.code(), e.details() or e.code().name) from e

    async def archived(
        self, dossier_code: str, file: str, version: int | None, *, max_bytes: int
    ) -> ArchivedFile:
        try:
            return await self._archived(dossier_code, file, version, max_bytes=max_bytes)
        except grpc.aio.AioRpcError as e:
            raise BackendError(e.code(), e.details() or e.code().name) from e

    async def _archived(
        self, dossier_code: str, file: str, version: int | None, *, max_bytes: int
    ) -> ArchivedFile:
        archive = ArchiveClient(self._channel(), timeout=30)
        dossier_name = f"dossiers/{dossier_code}"
        dossier = await archive.get_dossier(dossier_name)
        wanted = unicodedata.normalize("NFC", file)
        files = await archive.list_files(dossier_name)
        match = next((f for f in files if f.file_id == wanted), None) or next(
            (f for f in files if f.filename == wanted), None
        )
        if match is None:
            raise BackendError(grpc.StatusCode.NOT_FOUND, f"{dossier_name} has no file {wanted!r}")
        name = f"{dossier_name}/files/{match.file_id}"
        if version is not None:
            name += f"/versions/{version}"
        stat = await archive.stat_file(name)
        if stat.size_bytes > max_bytes:
            raise BackendError(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"{stat.size_bytes} bytes; the page verifies up to {max_bytes}",
            )
        metadata, data = await archive.read_file(stat.name)
        return ArchivedFile(version=metadata, dossier=dossier, data=data)

"""A small typed client for the archive (``hoso.storage.v1.ArchiveService``).

Files stream in and out in chunks through :mod:`hoso.client.streams`, so memory stays bounded
whatever the file size. Every mutating call gets a fresh request id unless the caller passes
one (pass the same id to retry safely).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import IO

import grpc
from hoso.client.streams import Source, drain, drain_to_file, header_then_chunks
from hoso.storage.v1 import storage_pb2 as _pb
from hoso.storage.v1 import storage_pb2_grpc as _pb_grpc

__all__ = ["ArchiveClient", "Progress"]

Progress = Callable[[int], None]


def _request_id(request_id: str | None) -> str:
    return request_id or str(uuid.uuid4())


class ArchiveClient:
    """Dossiers and their files: create, upload, download, retain, check, export."""

    def __init__(self, channel: grpc.aio.Channel, *, timeout: float | None = None) -> None:
        """Wrap ``channel``; ``timeout`` (seconds) applies to unary calls."""
        self._stub = _pb_grpc.ArchiveServiceStub(channel)
        self._timeout = timeout

    # -- dossiers ---------------------------------------------------------------------------

    async def create_dossier(
        self, dossier: _pb.Dossier, *, request_id: str | None = None
    ) -> _pb.Dossier:
        """Create ``dossier`` (its ``name`` is derived from ``dossier_code``)."""
        response = await self._stub.CreateDossier(
            _pb.CreateDossierRequest(dossier=dossier, request_id=_request_id(request_id)),
            timeout=self._timeout,
        )
        return response.dossier

    async def get_dossier(self, name: str) -> _pb.Dossier:
        """The dossier ``dossiers/{code}``."""
        response = await self._stub.GetDossier(
            _pb.GetDossierRequest(name=name), timeout=self._timeout
        )
        return response.dossier

    async def list_dossiers(self, request: _pb.ListDossiersRequest) -> AsyncIterator[_pb.Dossier]:
        """Every dossier matching ``request``'s filters, following page tokens."""
        page = _pb.ListDossiersRequest()
        page.CopyFrom(request)
        while True:
            response = await self._stub.ListDossiers(page, timeout=self._timeout)
            for dossier in response.dossiers:
                yield dossier
            if not response.next_page_token:
                return
            page.page_token = response.next_page_token

    async def update_dossier(
        self, dossier: _pb.Dossier, paths: Sequence[str], *, request_id: str | None = None
    ) -> _pb.Dossier:
        """Update the fields of ``dossier`` named in ``paths``."""
        request = _pb.UpdateDossierRequest(dossier=dossier, request_id=_request_id(request_id))
        request.update_mask.paths.extend(paths)
        response = await self._stub.UpdateDossier(request, timeout=self._timeout)
        return response.dossier

    # -- files ------------------------------------------------------------------------------

    async def put_file(
        self,
        header: _pb.PutFileHeader,
        source: Source,
        *,
        progress: Progress | None = None,
        timeout: float | None = None,
    ) -> _pb.FileVersion:
        """Stream ``source`` (bytes, a path or a binary file) into the archive.

        A request id is added to ``header`` when it has none, so a retry of this exact call
        (same header object) returns the first version instead of storing a second one.
        """
        if not header.request_id:
            header.request_id = str(uuid.uuid4())
        requests = header_then_chunks(
            _pb.PutFileRequest, "header", header, source, progress=progress
        )
        response = await self._stub.PutFile(requests, timeout=timeout)
        return response.file_version

    async def read_file(
        self, name: str, *, offset: int = 0, length: int = 0
    ) -> tuple[_pb.FileVersion, bytes]:
        """A file (or a range of it) in memory: for small files; use :meth:`get_file` else."""
        stream = self._stub.GetFile(_pb.GetFileRequest(name=name, offset=offset, length=length))
        metadata, data = await drain(stream, "metadata")
        return metadata, data

    async def get_file(
        self,
        name: str,
        destination: Path | IO[bytes],
        *,
        offset: int = 0,
        length: int = 0,
        progress: Progress | None = None,
    ) -> _pb.FileVersion:
        """Stream a file version (latest when ``name`` has no version) into ``destination``.

        A path is written atomically: to a temporary sibling first, renamed when complete.
        """
        request = _pb.GetFileRequest(name=name, offset=offset, length=length)
        if not isinstance(destination, Path):
            return await drain_to_file(
                self._stub.GetFile(request), "metadata", destination, progress=progress
            )
        partial = destination.with_name(destination.name + ".part")
        try:
            with partial.open("wb") as handle:
                metadata = await drain_to_file(
                    self._stub.GetFile(request), "metadata", handle, progress=progress
                )
            partial.replace(destination)
        finally:
            partial.unlink(missing_ok=True)
        return metadata

    async def stat_file(self, name: str) -> _pb.FileVersion:
        """A version's metadata without its content."""
        response = await self._stub.StatFile(_pb.StatFileRequest(name=name), timeout=self._timeout)
        return response.file_version

    async def list_files(
        self,
        dossier: str,
        *,
        include_derived: bool = False,
        component_type: _pb.ComponentType.ValueType = _pb.COMPONENT_TYPE_UNSPECIFIED,
    ) -> list[_pb.FileVersion]:
        """The latest version of every file of ``dossier`` (all pages)."""
        request = _pb.ListFilesRequest(
            dossier=dossier, include_derived=include_derived, component_type=component_type
        )
        out: list[_pb.FileVersion] = []
        while True:
            response = await self._stub.ListFiles(request, timeout=self._timeout)
            out.extend(response.file_versions)
            if not response.next_page_token:
                return out
            request.page_token = response.next_page_token

    async def list_renditions(self, file_version: str) -> list[_pb.FileVersion]:
        """Renditions derived from ``file_version``, newest first."""
        response = await self._stub.ListRenditions(
            _pb.ListRenditionsRequest(file_version=file_version), timeout=self._timeout
        )
        return list(response.renditions)

    async def download_url(self, name: str, *, lifetime_seconds: int = 0) -> str:
        """A presigned GET URL (S3 backends only)."""
        response = await self._stub.GetDownloadUrl(
            _pb.GetDownloadUrlRequest(name=name, lifetime_seconds=lifetime_seconds),
            timeout=self._timeout,
        )
        return response.url

    # -- retention, fixity, export ----------------------------------------------------------

    async def set_retention(
        self,
        name: str,
        retention_class: _pb.RetentionClass.ValueType,
        *,
        mode: _pb.RetentionMode.ValueType = _pb.RETENTION_MODE_UNSPECIFIED,
        request_id: str | None = None,
    ) -> list[_pb.FileVersion]:
        """Set (extend) the retention of a dossier or a file version."""
        response = await self._stub.SetRetention(
            _pb.SetRetentionRequest(
                name=name,
                retention_class=retention_class,
                mode=mode,
                request_id=_request_id(request_id),
            ),
            timeout=self._timeout,
        )
        return list(response.file_versions)

    async def verify_fixity(self, name: str) -> _pb.VerifyFixityResponse:
        """Re-read a version, a file or a whole dossier and compare with the catalog."""
        return await self._stub.VerifyFixity(
            _pb.VerifyFixityRequest(name=name), timeout=self._timeout
        )

    async def export_dossier(
        self,
        name: str,
        destination: IO[bytes],
        *,
        include_derived: bool = True,
        include_all_versions: bool = False,
        include_verification_reports: bool = True,
        progress: Progress | None = None,
    ) -> _pb.ExportManifest:
        """Stream the dossier's BagIt tar into ``destination``; return its manifest."""
        request = _pb.ExportDossierRequest(
            name=name,
            include_derived=include_derived,
            include_all_versions=include_all_versions,
            include_verification_reports=include_verification_reports,
        )
        return await drain_to_file(
            self._stub.ExportDossier(request), "manifest", destination, progress=progress
        )

    async def list_events(
        self, *, after_sequence: int = 0, types: Sequence[_pb.EventType.ValueType] = ()
    ) -> _pb.ListEventsResponse:
        """One page of outbox events after ``after_sequence``."""
        return await self._stub.ListEvents(
            _pb.ListEventsRequest(after_sequence=after_sequence, types=list(types)),
            timeout=self._timeout,
        )

    async def storage_info(self) -> _pb.GetStorageInfoResponse:
        """The backend and its probed capabilities."""
        return await self._stub.GetStorageInfo(_pb.GetStorageInfoRequest(), timeout=self._timeout)

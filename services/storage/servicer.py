"""gRPC layer of the archive: request validation and message conversion only.

Dossier fields are read from requests by :mod:`hoso.storage.requests`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import grpc
from hoso.common.errors import InvalidArgument
from hoso.common.paging import decode_token, encode_token, page_size
from hoso.common.protoconv import optional_time, to_timestamp
from hoso.common.streaming import first_message
from hoso.storage import export
from hoso.storage.audit_runs import FixityAuditor, verify_rows
from hoso.storage.convert import EVENT_TYPE_NAMES, dossier_message, event_message, version_message
from hoso.storage.ingest import PutHeader, put_file
from hoso.storage.names import (
    COMPONENT_TYPES,
    RENDITION_KINDS,
    RETENTION_CLASSES,
    STATUSES,
    nfc,
    parse_dossier_name,
    parse_file_name,
    version_name,
)
from hoso.storage.repository import DossierFilter, Row, StorageRepository
from hoso.storage.requests import (
    RETENTION_MODES,
    dossier_changes,
    dossier_fields,
    enum_name,
    labels_from,
)
from hoso.storage.service import ArchiveCore
from hoso.storage.v1 import storage_pb2 as _pb
from hoso.storage.v1 import storage_pb2_grpc as _pb_grpc

__all__ = ["ArchiveServicer"]


class ArchiveServicer(_pb_grpc.ArchiveServiceServicer):
    """Implements hoso.storage.v1.ArchiveService over :class:`ArchiveCore`."""

    def __init__(self, core: ArchiveCore, *, verifier: export.Verifier | None = None) -> None:
        """Serve ``core``; ``verifier`` adds signature reports to exports."""
        self.core = core
        self.auditor = FixityAuditor(core)
        self.verifier = verifier

    async def close(self) -> None:
        """Stop background work and release the object store."""
        await self.auditor.close()
        await self.core.store.close()

    async def _source_name(self, row: Row) -> str:
        if not row.version.source_version_id:
            return ""
        async with self.core.runtime.session() as session:
            source = await StorageRepository(session).row_by_version_id(
                row.version.source_version_id
            )
        return (
            version_name(source.dossier.code, source.file.id, source.version.number)
            if source
            else ""
        )

    async def _version(self, row: Row) -> _pb.FileVersion:
        return version_message(row, await self._source_name(row))

    # -- dossiers ----------------------------------------------------------------------------
    async def CreateDossier(
        self, request: _pb.CreateDossierRequest, context: grpc.aio.ServicerContext
    ) -> _pb.CreateDossierResponse:
        fields = dossier_fields(request.dossier)
        dossier = await self.core.create_dossier(fields, request.request_id)
        _, count = await self.core.get_dossier(dossier.code)
        return _pb.CreateDossierResponse(dossier=dossier_message(dossier, count))

    async def GetDossier(
        self, request: _pb.GetDossierRequest, context: grpc.aio.ServicerContext
    ) -> _pb.GetDossierResponse:
        dossier, count = await self.core.get_dossier(parse_dossier_name(request.name))
        return _pb.GetDossierResponse(dossier=dossier_message(dossier, count))

    async def ListDossiers(
        self, request: _pb.ListDossiersRequest, context: grpc.aio.ServicerContext
    ) -> _pb.ListDossiersResponse:
        start = optional_time(request, "receive_time_start")
        end = optional_time(request, "receive_time_end")
        if start is not None and end is not None and end <= start:
            raise InvalidArgument(
                "receive_time_end must be after receive_time_start", field="receive_time_end"
            )
        where = DossierFilter(
            procedure_code=request.procedure_code,
            agency=request.agency_code,
            status=enum_name(STATUSES, request.status, "status") or "",
            applicant_id=request.applicant_id,
            received_from=start,
            received_before=end,
            text=nfc(request.text),
        )
        position = decode_token(request.page_token)
        after = (str(position["r"]), str(position["i"])) if position else None
        rows, following = await self.core.list_dossiers(
            where, after=after, limit=page_size(request.page_size, default=50, maximum=500)
        )
        return _pb.ListDossiersResponse(
            dossiers=[dossier_message(d, n) for d, n in rows],
            next_page_token=encode_token({"r": following[0], "i": following[1]})
            if following
            else "",
        )

    async def UpdateDossier(
        self, request: _pb.UpdateDossierRequest, context: grpc.aio.ServicerContext
    ) -> _pb.UpdateDossierResponse:
        code = parse_dossier_name(request.dossier.name, field="dossier.name")
        changes = dossier_changes(request.dossier, list(request.update_mask.paths))
        dossier, count = await self.core.update_dossier(code, changes, request.request_id)
        return _pb.UpdateDossierResponse(dossier=dossier_message(dossier, count))

    # -- files -------------------------------------------------------------------------------
    async def PutFile(
        self, request_iterator: AsyncIterator[_pb.PutFileRequest], context: grpc.aio.ServicerContext
    ) -> _pb.PutFileResponse:
        h, iterator = await first_message(request_iterator)
        header = PutHeader(
            dossier_code=parse_dossier_name(h.dossier, field="header.dossier"),
            filename=h.filename,
            component_type=enum_name(
                COMPONENT_TYPES, h.component_type, "header.component_type", required=True
            )
            or "",
            ordinal=h.ordinal,
            declared_media_type=h.declared_media_type,
            expected_sha256=h.expected_sha256,
            expected_size=h.expected_size_bytes,
            retention_class=enum_name(
                RETENTION_CLASSES, h.retention_class, "header.retention_class"
            ),
            derived_from=h.derived_from,
            rendition_kind=enum_name(RENDITION_KINDS, h.rendition_kind, "header.rendition_kind"),
            labels=labels_from(h.labels),
            request_id=h.request_id,
        )

        async def chunks() -> AsyncIterator[bytes]:
            async for message in iterator:
                if message.WhichOneof("payload") != "chunk":
                    raise InvalidArgument("only chunks may follow the header", field="chunk")
                yield message.chunk
            # grpc.aio ends the request stream the same way when the client half-closes and
            # when it vanishes; the cancellation of this handler follows a moment later. Let it
            # arrive before the stream counts as complete, so a cut-off upload is not stored.
            for _ in range(3):
                await asyncio.sleep(0)
            if context.cancelled() or context.done():
                raise asyncio.CancelledError("the client cancelled the upload")

        row = await put_file(self.core, header, chunks())
        return _pb.PutFileResponse(file_version=await self._version(row))

    async def GetFile(
        self, request: _pb.GetFileRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[_pb.GetFileResponse]:
        row = await self.core.resolve(request.name)
        stream = await self.core.read(row, offset=request.offset, length=request.length)
        yield _pb.GetFileResponse(metadata=await self._version(row))
        async for chunk in stream:
            for start in range(0, len(chunk), 1024 * 1024):
                yield _pb.GetFileResponse(chunk=chunk[start : start + 1024 * 1024])

    async def StatFile(
        self, request: _pb.StatFileRequest, context: grpc.aio.ServicerContext
    ) -> _pb.StatFileResponse:
        return _pb.StatFileResponse(
            file_version=await self._version(await self.core.resolve(request.name))
        )

    async def ListFiles(
        self, request: _pb.ListFilesRequest, context: grpc.aio.ServicerContext
    ) -> _pb.ListFilesResponse:
        code = parse_dossier_name(request.dossier, field="dossier")
        position = decode_token(request.page_token)
        after = (str(position["c"]), int(position["o"]), str(position["v"])) if position else None
        rows, following = await self.core.list_files(
            code,
            include_derived=request.include_derived,
            component_type=enum_name(COMPONENT_TYPES, request.component_type, "component_type")
            or "",
            after=after,
            limit=page_size(request.page_size, default=100, maximum=1000),
        )
        return _pb.ListFilesResponse(
            file_versions=[await self._version(r) for r in rows],
            next_page_token=encode_token({"c": following[0], "o": following[1], "v": following[2]})
            if following
            else "",
        )

    async def ListFileVersions(
        self, request: _pb.ListFileVersionsRequest, context: grpc.aio.ServicerContext
    ) -> _pb.ListFileVersionsResponse:
        ref = parse_file_name(request.file, field="file")
        if ref.version is not None:
            raise InvalidArgument("file must name a file, not a version", field="file")
        rows = await self.core.versions(ref)
        size = page_size(request.page_size, default=100, maximum=1000)
        position = decode_token(request.page_token)
        start = int(position["n"]) if position else 0
        page = rows[start : start + size]
        return _pb.ListFileVersionsResponse(
            file_versions=[await self._version(r) for r in page],
            next_page_token=encode_token({"n": start + size}) if start + size < len(rows) else "",
        )

    async def ListRenditions(
        self, request: _pb.ListRenditionsRequest, context: grpc.aio.ServicerContext
    ) -> _pb.ListRenditionsResponse:
        kind = enum_name(RENDITION_KINDS, request.rendition_kind, "rendition_kind") or ""
        rows = await self.core.renditions(request.file_version, kind)
        return _pb.ListRenditionsResponse(renditions=[await self._version(r) for r in rows])

    async def GetDownloadUrl(
        self, request: _pb.GetDownloadUrlRequest, context: grpc.aio.ServicerContext
    ) -> _pb.GetDownloadUrlResponse:
        row = await self.core.resolve(request.name)
        url, expires = await self.core.download_url(row, request.lifetime_seconds)
        return _pb.GetDownloadUrlResponse(url=url, expire_time=to_timestamp(expires))

    async def DeleteFile(
        self, request: _pb.DeleteFileRequest, context: grpc.aio.ServicerContext
    ) -> _pb.DeleteFileResponse:
        deleted = await self.core.delete(request.name, request.reason, request.request_id)
        return _pb.DeleteFileResponse(deleted_versions=deleted)

    async def SetRetention(
        self, request: _pb.SetRetentionRequest, context: grpc.aio.ServicerContext
    ) -> _pb.SetRetentionResponse:
        retention = (
            enum_name(RETENTION_CLASSES, request.retention_class, "retention_class", required=True)
            or ""
        )
        mode = enum_name(RETENTION_MODES, request.mode, "mode")
        rows = await self.core.set_retention(request.name, retention, mode)
        return _pb.SetRetentionResponse(file_versions=[await self._version(r) for r in rows])

    async def SetLegalHold(
        self, request: _pb.SetLegalHoldRequest, context: grpc.aio.ServicerContext
    ) -> _pb.SetLegalHoldResponse:
        rows = await self.core.set_legal_hold(request.name, request.legal_hold, request.reason)
        return _pb.SetLegalHoldResponse(file_versions=[await self._version(r) for r in rows])

    # -- fixity ------------------------------------------------------------------------------
    async def VerifyFixity(
        self, request: _pb.VerifyFixityRequest, context: grpc.aio.ServicerContext
    ) -> _pb.VerifyFixityResponse:
        if "/files/" in request.name:
            ref = parse_file_name(request.name)
            rows = (
                await self.core.versions(ref)
                if ref.version is None
                else [await self.core.resolve(request.name)]
            )
        else:
            _, rows = await self.core._targets(request.name)
        results = await verify_rows(self.core, list(rows))
        messages = []
        for row, outcome in results:
            messages.append(
                _pb.FixityResult(
                    file_version=version_name(row.dossier.code, row.file.id, row.version.number),
                    status={"ok": 1, "mismatch": 2, "missing": 3}[outcome.status],  # type: ignore[arg-type]
                    expected_sha256=outcome.expected_sha256,
                    actual_sha256=outcome.actual_sha256,
                    expected_size_bytes=outcome.expected_size,
                    actual_size_bytes=outcome.actual_size,
                    check_time=to_timestamp(outcome.checked_at),
                )
            )
        return _pb.VerifyFixityResponse(ok=all(o.ok for _, o in results), results=messages)

    def _audit_message(self, run: Any) -> _pb.FixityAudit:
        failures = [
            _pb.FixityResult(
                file_version=f["name"],
                status={"mismatch": 2, "missing": 3}[f["status"]],
                expected_sha256=f["expected_sha256"],
                actual_sha256=f["actual_sha256"],
                expected_size_bytes=f["expected_size"],
                actual_size_bytes=f["actual_size"],
            )
            for f in json.loads(run.failures or "[]")
        ]
        message = _pb.FixityAudit(
            name=f"fixityAudits/{run.id}",
            state={"running": 1, "succeeded": 2, "failed": 3}[run.status],  # type: ignore[arg-type]
            files_total=run.total,
            files_checked=run.checked,
            bytes_checked=run.bytes_checked,
            ok_count=run.ok,
            mismatch_count=run.mismatches,
            missing_count=run.missing,
            failures=failures,
            start_time=to_timestamp(run.started_at),
            error_message=run.error_message,
        )
        if run.finished_at is not None:
            message.finish_time.CopyFrom(to_timestamp(run.finished_at))
        return message

    async def StartFixityAudit(
        self, request: _pb.StartFixityAuditRequest, context: grpc.aio.ServicerContext
    ) -> _pb.StartFixityAuditResponse:
        code = parse_dossier_name(request.dossier, field="dossier") if request.dossier else ""
        since = optional_time(request, "not_checked_since")
        run = await self.auditor.start(dossier_code=code, not_checked_since=since)
        return _pb.StartFixityAuditResponse(fixity_audit=self._audit_message(run))

    async def GetFixityAudit(
        self, request: _pb.GetFixityAuditRequest, context: grpc.aio.ServicerContext
    ) -> _pb.GetFixityAuditResponse:
        run_id = request.name.removeprefix("fixityAudits/")
        if not request.name.startswith("fixityAudits/") or not run_id:
            raise InvalidArgument("name must look like fixityAudits/{id}", field="name")
        return _pb.GetFixityAuditResponse(
            fixity_audit=self._audit_message(await self.auditor.get(run_id))
        )

    # -- export ------------------------------------------------------------------------------
    async def ExportDossier(
        self, request: _pb.ExportDossierRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[_pb.ExportDossierResponse]:
        code = parse_dossier_name(request.name)
        dossier, _count = await self.core.get_dossier(code)
        async with self.core.runtime.session() as session:
            rows = await StorageRepository(session).latest_per_file(
                dossier.id,
                include_derived=request.include_derived,
                all_versions=request.include_all_versions,
            )
        meta = {
            "dossier_code": dossier.code,
            "procedure_code": dossier.procedure_code,
            "agency_code": dossier.agency,
            "applicant_id": dossier.applicant_id,
            "title": dossier.title,
            "status": dossier.status,
            "received_at": dossier.received_at.isoformat() if dossier.received_at else None,
            "due_at": dossier.due_at.isoformat() if dossier.due_at else None,
            "completed_at": dossier.completed_at.isoformat() if dossier.completed_at else None,
            "retention_class": dossier.retention_class,
            "labels": json.loads(dossier.labels or "{}"),
        }
        plan = export.plan_bag(meta, rows, all_versions=request.include_all_versions)
        verifier = self.verifier if request.include_verification_reports else None
        yield _pb.ExportDossierResponse(
            manifest=_pb.ExportManifest(
                bag_name=plan.bag_name,
                payload_files=len(plan.entries),
                payload_bytes=plan.payload_bytes,
                verification_reports_included=verifier is not None
                and any(r.version.signed for _, r in plan.entries),
            )
        )
        async for chunk in export.stream_bag(
            plan, self.core.store, verifier=verifier, source_organization=dossier.agency
        ):
            for start in range(0, len(chunk), 1024 * 1024):
                yield _pb.ExportDossierResponse(chunk=chunk[start : start + 1024 * 1024])

    # -- events and info ---------------------------------------------------------------------
    def _types(self, values: Any) -> list[str]:
        out = []
        for value in values:
            if value not in EVENT_TYPE_NAMES:
                raise InvalidArgument(
                    f"types contains an unknown event type {value}", field="types"
                )
            out.append(EVENT_TYPE_NAMES[value])
        return out

    async def ListEvents(
        self, request: _pb.ListEventsRequest, context: grpc.aio.ServicerContext
    ) -> _pb.ListEventsResponse:
        found = await self.core.list_events(
            request.after_sequence,
            page_size(request.page_size, default=100, maximum=1000),
            self._types(request.types),
        )
        return _pb.ListEventsResponse(
            events=[event_message(e) for e in found],
            last_sequence=found[-1].sequence if found else request.after_sequence,
        )

    async def WatchEvents(
        self, request: _pb.WatchEventsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[_pb.WatchEventsResponse]:
        async for event in self.core.watch_events(
            request.after_sequence, self._types(request.types)
        ):
            yield _pb.WatchEventsResponse(event=event_message(event))

    async def GetStorageInfo(
        self, request: _pb.GetStorageInfoRequest, context: grpc.aio.ServicerContext
    ) -> _pb.GetStorageInfoResponse:
        caps = self.core.capabilities
        settings = self.core.settings
        s3 = caps.backend == "s3"
        default_class = next(
            (k for k, v in RETENTION_CLASSES.items() if v == settings.default_retention_class), 0
        )
        return _pb.GetStorageInfoResponse(
            backend=2 if s3 else 1,  # type: ignore[arg-type]
            bucket=settings.s3_bucket if s3 else str(settings.local_root),
            endpoint=(("https://" if settings.s3_secure else "http://") + settings.s3_endpoint)
            if s3
            else "",
            capabilities=_pb.StorageCapabilities(
                object_lock=caps.object_lock,
                legal_hold=caps.legal_hold,
                versioning=caps.versioning,
                sse_c=caps.encryption == "sse-c",
                sse_kms=False,
                presigned_urls=caps.presign,
            ),
            encryption={"sse-c": 2, "aes-256-gcm": 4}.get(caps.encryption, 1),  # type: ignore[arg-type]
            default_retention_class=default_class,  # type: ignore[arg-type]
            default_retention_mode=1 if settings.object_lock_mode.value == "GOVERNANCE" else 2,  # type: ignore[arg-type]
            max_file_size_bytes=settings.max_file_size,
            probe_time=to_timestamp(self.core.probed_at),
        )

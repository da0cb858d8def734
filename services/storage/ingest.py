"""PutFile: stream, hash and sniff into the object store, then catalog in one transaction.

The pipeline, in order:

1. ``check_header``: validate the metadata before any byte is read.
2. ``resolve_target``: the dossier, the source version of a rendition, an earlier result of
   the same request id.
3. ``store_stream``: feed the chunks through size limits, SHA-256 and the sniffer into the
   object store. The digest, size and type verdicts are raised from inside the stream, before
   its end reaches the store, so a rejected upload is aborted and never becomes visible.
4. ``record``: file, version, request id, audit event and outbox event in one transaction. If
   it fails the object is deleted again; a crash between 3 and 4 leaves an object no catalog
   row references (harmless, and found by a sweep), never a row without an object.
5. ``apply_lock``: mirror retention and legal hold onto the backend.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from hoso.common.errors import Aborted, InvalidArgument
from hoso.storage import events
from hoso.storage.errors import DigestMismatch, EmptyFile, FileTooLarge, UnknownFile
from hoso.storage.models import FileVersion, StoredFile
from hoso.storage.names import check_filename, parse_file_name, version_name
from hoso.storage.repository import Row, StorageRepository
from hoso.storage.retention import retain_until_for
from hoso.storage.service import ArchiveCore
from hoso.storage.sniff import ContentSniffer, SniffPolicy, SniffResult, normalise_media_type
from sqlalchemy.exc import IntegrityError

__all__ = ["MAX_CHUNK", "PutHeader", "put_file"]

log = logging.getLogger("hoso.storage.ingest")

MAX_CHUNK = 1024 * 1024
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class PutHeader:
    """The PutFile header in domain terms."""

    dossier_code: str
    filename: str
    component_type: str
    ordinal: int = 0
    declared_media_type: str = ""
    expected_sha256: str = ""
    expected_size: int = 0
    retention_class: str | None = None
    derived_from: str = ""
    rendition_kind: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    request_id: str = ""


def check_header(core: ArchiveCore, header: PutHeader) -> None:
    """Validate the header; raise InvalidArgument/FileTooLarge naming the field."""
    header.filename = check_filename(header.filename)
    if header.ordinal < 0:
        raise InvalidArgument(
            "header.ordinal must be 0 (next free) or positive", field="header.ordinal"
        )
    header.expected_sha256 = header.expected_sha256.lower()
    if header.expected_sha256 and not _HEX64.match(header.expected_sha256):
        raise InvalidArgument(
            "header.expected_sha256 must be 64 hex digits", field="header.expected_sha256"
        )
    if header.expected_size < 0:
        raise InvalidArgument(
            "header.expected_size_bytes must not be negative", field="header.expected_size_bytes"
        )
    if header.expected_size > core.settings.max_file_size:
        raise FileTooLarge(
            f"the file ({header.expected_size} bytes) is above the limit of {core.settings.max_file_size} bytes"
        )
    if header.rendition_kind and not header.derived_from:
        raise InvalidArgument(
            "header.rendition_kind needs header.derived_from", field="header.rendition_kind"
        )
    if header.derived_from:
        parse_file_name(header.derived_from, field="header.derived_from")
    if header.retention_class is not None:
        core.settings.retention_years(header.retention_class)


@dataclass
class _Target:
    dossier_id: str
    tenant: str
    source_version_id: str | None
    retention_class: str | None


async def _resolve_target(core: ArchiveCore, header: PutHeader, fingerprint: str) -> _Target | Row:
    async with core.runtime.session() as session:
        repo = StorageRepository(session)
        earlier = await core.replay(repo, header.request_id, "PutFile", fingerprint)
        if earlier is not None:
            row = await repo.row_by_version_id(earlier["version_id"])
            if row is not None:
                return row
        dossier = await repo.dossier_by_code(header.dossier_code)
        if dossier is None:
            raise UnknownFile(
                f"dossier {header.dossier_code} does not exist; create it first",
                field="header.dossier",
            )
        source_id = None
        if header.derived_from:
            ref = parse_file_name(header.derived_from, field="header.derived_from")
            rows = await repo.versions_of_file(ref.dossier_code, ref.file_id, number=ref.version)
            if not rows:
                raise UnknownFile(
                    f"{header.derived_from} does not exist", field="header.derived_from"
                )
            source_id = rows[0].version.id
        return _Target(
            dossier.id, dossier.agency, source_id, header.retention_class or dossier.retention_class
        )


async def _checked_stream(
    core: ArchiveCore,
    header: PutHeader,
    chunks: AsyncIterator[bytes],
    sniffer: ContentSniffer,
    outcome: dict[str, object],
) -> AsyncIterator[bytes]:
    """Yield the chunks; raise before the end when the content must not be stored."""
    digest = hashlib.sha256()
    size = 0
    limit = core.settings.max_file_size
    async for chunk in chunks:
        if len(chunk) > MAX_CHUNK:
            raise InvalidArgument("each chunk must be at most 1 MiB", field="chunk")
        size += len(chunk)
        if size > limit:
            raise FileTooLarge(f"the file is above the limit of {limit} bytes; nothing was stored")
        digest.update(chunk)
        sniffer.feed(chunk)
        yield chunk
    if size == 0:
        raise EmptyFile("the file is empty; send at least one non-empty chunk", field="chunk")
    if header.expected_size and size != header.expected_size:
        raise InvalidArgument(
            f"received {size} bytes but header.expected_size_bytes is {header.expected_size};"
            " nothing was stored",
            field="header.expected_size_bytes",
        )
    actual = digest.hexdigest()
    if header.expected_sha256 and actual != header.expected_sha256:
        raise DigestMismatch(
            f"SHA-256 of the received bytes is {actual}, not {header.expected_sha256};"
            " nothing was stored, send the file again",
            field="header.expected_sha256",
        )
    outcome["sha256"] = actual
    outcome["size"] = size
    outcome["sniff"] = sniffer.finish(header.declared_media_type or None)
    outcome["signed"] = sniffer.looks_signed


async def put_file(core: ArchiveCore, header: PutHeader, chunks: AsyncIterator[bytes]) -> Row:
    """Run the ingest pipeline (see module doc) and return the stored version."""
    check_header(core, header)
    fingerprint = core.fingerprint({k: v for k, v in vars(header).items() if k != "request_id"})
    target = await _resolve_target(core, header, fingerprint)
    if isinstance(target, Row):
        return target
    settings = core.settings
    policy = SniffPolicy(
        allowed=frozenset(
            normalise_media_type(t) for t in settings.allowed_for(header.component_type)
        ),
        allow_encrypted_pdf=settings.allow_encrypted_pdf,
        reject_polyglots=settings.reject_polyglots,
        pdf_deep_check_max_bytes=settings.pdf_deep_check_max_bytes,
    )
    sniffer = ContentSniffer(policy, expected_size=header.expected_size)
    outcome: dict[str, object] = {}
    key = f"d/{target.dossier_id}/{uuid.uuid4().hex}"
    try:
        stored = await core.store.put(
            key,
            _checked_stream(core, header, chunks, sniffer, outcome),
            content_type=header.declared_media_type or "application/octet-stream",
            tenant=target.tenant,
        )
    finally:
        sniffer.close()
    sniff = outcome["sniff"]
    assert isinstance(sniff, SniffResult)
    try:
        version_id = await _record(
            core, header, target, stored.key, stored.version_id, outcome, sniff, fingerprint
        )
    except BaseException:
        try:
            await core.store.delete(stored.key, version_id=stored.version_id)
        except Exception:
            log.warning(
                "could not remove %s after a failed catalog write", stored.key, exc_info=True
            )
        raise
    await core.notifier.notify()
    row = await core._reload(version_id)
    await core.apply_lock(row.version)
    if row.dossier.legal_hold and core.capabilities.legal_hold:
        await core.store.set_legal_hold(
            row.version.object_key, version_id=row.version.object_version, on=True
        )
    return await core._reload(version_id)


async def _record(
    core: ArchiveCore,
    header: PutHeader,
    target: _Target,
    key: str,
    object_version: str | None,
    outcome: dict[str, object],
    sniff: SniffResult,
    fingerprint: str,
) -> str:
    now = core.clock()
    try:
        async with core.runtime.session() as session:
            repo = StorageRepository(session)
            if header.request_id and await repo.find_request(header.request_id) is not None:
                raise Aborted(
                    "a concurrent request with the same request_id won; retry to get its result"
                )
            stored_file = None
            if header.ordinal:
                stored_file = await repo.file_at(
                    target.dossier_id, header.component_type, header.ordinal
                )
            elif not target.source_version_id:
                stored_file = await repo.file_by_filename(
                    target.dossier_id, header.component_type, header.filename
                )
            if stored_file is None:
                ordinal = header.ordinal or await repo.next_ordinal(
                    target.dossier_id, header.component_type
                )
                stored_file = StoredFile(
                    id=str(uuid.uuid4()),
                    dossier_id=target.dossier_id,
                    component_type=header.component_type,
                    ordinal=ordinal,
                    retention_class=header.retention_class,
                    legal_hold=False,
                    created_at=now,
                )
                session.add(stored_file)
                await session.flush()
            retention_class = target.retention_class
            years = core.settings.retention_years(retention_class) if retention_class else 0
            until, permanent = retain_until_for(now, years) if retention_class else (None, False)
            version = FileVersion(
                id=str(uuid.uuid4()),
                file_id=stored_file.id,
                number=await repo.next_version_number(stored_file.id),
                filename=header.filename,
                media_type=sniff.media_type,
                size=int(outcome["size"]),  # type: ignore[call-overload]
                sha256=str(outcome["sha256"]),
                object_key=key,
                object_version=object_version,
                tenant=target.tenant,
                source_version_id=target.source_version_id,
                rendition_kind=header.rendition_kind,
                retention_class=retention_class,
                retention_mode=core.settings.object_lock_mode.value if retention_class else None,
                retain_until=until,
                retain_permanently=permanent,
                lock_applied=False,
                legal_hold=False,
                signed=bool(outcome.get("signed")),
                encryption=core.store_encryption(target.tenant),
                labels=json.dumps(header.labels, ensure_ascii=False, sort_keys=True),
                created_at=now,
                created_by=_caller_name(),
            )
            session.add(version)
            await session.flush()
            if header.request_id:
                repo.add_request(
                    header.request_id, "PutFile", fingerprint, {"version_id": version.id}, now
                )
            name = version_name(header.dossier_code, stored_file.id, version.number)
            await core.runtime.audit(
                session,
                action="storage.file.put",
                target=name,
                digest=version.sha256,
                details={
                    "size": version.size,
                    "media_type": version.media_type,
                    "filename": version.filename,
                },
            )
            await events.append_event(
                session,
                type="file.archived",
                dossier_id=target.dossier_id,
                dossier_code=header.dossier_code,
                file_id=stored_file.id,
                version_id=version.id,
                payload={
                    "name": name,
                    "media_type": version.media_type,
                    "sha256": version.sha256,
                    "size": version.size,
                    "component_type": header.component_type,
                    "rendition_kind": header.rendition_kind or "",
                },
            )
            return version.id
    except IntegrityError as exc:
        raise Aborted("a concurrent upload took the same slot; retry the upload") from exc


def _caller_name() -> str:
    from hoso.common.auth import current_caller

    try:
        return current_caller().name
    except LookupError:
        return "system"

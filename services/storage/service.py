"""Use cases of the archive. The service owns transactions; the servicer only translates.

Ingest lives in :mod:`hoso.storage.ingest`, audits and exports in their own modules, deletion,
retention and legal holds in :mod:`hoso.storage.lifecycle`, opening the store at start in
:mod:`hoso.storage.startup`; this module holds dossiers, reads and events.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hoso.common.errors import AlreadyExists, FailedPrecondition, InvalidArgument
from hoso.storage import events
from hoso.storage.errors import OutOfRange, UnknownDossier, UnknownFile
from hoso.storage.lifecycle import LifecycleCases
from hoso.storage.models import Dossier
from hoso.storage.names import VersionRef, parse_file_name, search_text
from hoso.storage.objectstore.api import Capabilities, ObjectStore
from hoso.storage.repository import DossierFilter, Row, StorageRepository
from hoso.storage.settings import StorageSettings
from sqlalchemy.exc import IntegrityError

__all__ = ["ArchiveCore", "DossierFields"]

log = logging.getLogger("hoso.storage")

MUTABLE_DOSSIER_FIELDS = frozenset(
    {
        "procedure_code",
        "agency",
        "applicant_id",
        "title",
        "due_at",
        "completed_at",
        "status",
        "labels",
    }
)


@dataclass
class DossierFields:
    """Dossier values coming from a request (already validated and NFC-normalised)."""

    code: str
    procedure_code: str
    agency: str
    applicant_id: str
    title: str
    received_at: datetime | None
    due_at: datetime | None
    completed_at: datetime | None
    status: str
    retention_class: str | None
    legal_hold: bool = False
    labels: dict[str, str] = field(default_factory=dict)


class ArchiveCore(LifecycleCases):
    """Dossiers, file reads, retention and deletion over one runtime and one object store.

    Deletion, retention and legal holds come from :class:`LifecycleCases`.
    """

    def __init__(
        self,
        runtime: Any,
        settings: StorageSettings,
        store: ObjectStore,
        capabilities: Capabilities,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """Wire the core; ``runtime`` provides ``session()`` and ``audit()``."""
        self.runtime = runtime
        self.settings = settings
        self.store = store
        self.capabilities = capabilities
        self.clock = clock
        self.notifier = events.EventNotifier()
        self.probed_at = clock()

    def store_encryption(self, tenant: str) -> str:
        """Encryption applied to a new object of ``tenant``: sse-c, aes-256-gcm or none."""
        if self.capabilities.encryption == "aes-256-gcm":
            return "aes-256-gcm"
        if (
            self.capabilities.encryption == "sse-c"
            and self.settings.sse_key_for(tenant) is not None
        ):
            return "sse-c"
        return "none"

    # -- idempotency helper ------------------------------------------------------------------
    @staticmethod
    def fingerprint(payload: dict[str, Any]) -> str:
        """A digest of a request's content, to tell a retry from a conflicting reuse."""
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()

    async def replay(
        self, repo: StorageRepository, request_id: str, method: str, fingerprint: str
    ) -> dict[str, Any] | None:
        """The first result of a retried request, or None when the id is new."""
        if not request_id:
            return None
        record = await repo.find_request(request_id)
        if record is None:
            return None
        if record.method != method or record.fingerprint != fingerprint:
            raise InvalidArgument(
                f"request_id {request_id} was already used for a different request; use a new id",
                field="request_id",
            )
        return json.loads(record.result)  # type: ignore[no-any-return]

    # -- dossiers ----------------------------------------------------------------------------
    async def create_dossier(self, fields: DossierFields, request_id: str) -> Dossier:
        """Create a dossier (a retry with the same request id returns the first one)."""
        if fields.retention_class is None:
            fields.retention_class = self.settings.default_retention_class
        fingerprint = self.fingerprint(vars(fields))
        now = self.clock()
        try:
            async with self.runtime.session() as session:
                repo = StorageRepository(session)
                earlier = await self.replay(repo, request_id, "CreateDossier", fingerprint)
                if earlier is not None:
                    return await self._dossier_or_fail(repo, earlier["dossier_code"])
                if await repo.dossier_by_code(fields.code) is not None:
                    raise AlreadyExists(
                        f"dossier {fields.code} already exists", field="dossier.dossier_code"
                    )
                values = vars(fields).copy()
                values["labels"] = json.dumps(fields.labels, ensure_ascii=False, sort_keys=True)
                values["search_text"] = search_text(fields.code, fields.title)
                dossier = Dossier(id=str(uuid.uuid4()), created_at=now, updated_at=now, **values)
                session.add(dossier)
                await session.flush()
                if request_id:
                    repo.add_request(
                        request_id, "CreateDossier", fingerprint, {"dossier_code": fields.code}, now
                    )
                await self._record(
                    session,
                    dossier,
                    action="storage.dossier.create",
                    target=f"dossiers/{fields.code}",
                    event="dossier.created",
                    payload={"code": fields.code},
                )
        except IntegrityError as exc:
            raise AlreadyExists(
                f"dossier {fields.code} already exists", field="dossier.dossier_code"
            ) from exc
        await self.notifier.notify()
        return dossier

    async def _dossier_or_fail(self, repo: StorageRepository, code: str) -> Dossier:
        dossier = await repo.dossier_by_code(code)
        if dossier is None:
            raise UnknownDossier(f"dossier {code} does not exist; create it first", field="name")
        return dossier

    async def get_dossier(self, code: str) -> tuple[Dossier, int]:
        """A dossier and its file count."""
        async with self.runtime.session() as session:
            repo = StorageRepository(session)
            dossier = await self._dossier_or_fail(repo, code)
            return dossier, await repo.file_count(dossier.id)

    async def list_dossiers(
        self, where: DossierFilter, *, after: tuple[str, str] | None, limit: int
    ) -> tuple[list[tuple[Dossier, int]], tuple[str, str] | None]:
        """A page of dossiers with file counts, and the key of the next page (None at the end)."""
        async with self.runtime.session() as session:
            repo = StorageRepository(session)
            rows = await repo.list_dossiers(where, after=after, limit=limit + 1)
            page = rows[:limit]
            out = [(d, await repo.file_count(d.id)) for d in page]
        following = None
        if len(rows) > limit and page:
            last = page[-1]
            received = last.received_at or datetime.min.replace(tzinfo=UTC)
            following = (received.isoformat(), last.id)
        return out, following

    async def update_dossier(
        self, code: str, changes: dict[str, Any], request_id: str
    ) -> tuple[Dossier, int]:
        """Apply the masked fields."""
        unknown = set(changes) - MUTABLE_DOSSIER_FIELDS
        if unknown:
            raise InvalidArgument(
                f"update_mask names fields that cannot change: {sorted(unknown)}",
                field="update_mask",
            )
        fingerprint = self.fingerprint({"code": code, **changes})
        async with self.runtime.session() as session:
            repo = StorageRepository(session)
            if await self.replay(repo, request_id, "UpdateDossier", fingerprint) is None:
                dossier = await self._dossier_or_fail(repo, code)
                due = changes.get("due_at", dossier.due_at)
                if (
                    due is not None
                    and dossier.received_at is not None
                    and due < dossier.received_at
                ):
                    raise InvalidArgument(
                        "dossier.due_time must not be before receive_time", field="dossier.due_time"
                    )
                for key, value in changes.items():
                    setattr(
                        dossier,
                        key,
                        json.dumps(value, ensure_ascii=False, sort_keys=True)
                        if key == "labels"
                        else value,
                    )
                dossier.search_text = search_text(dossier.code, dossier.title)
                dossier.updated_at = self.clock()
                if request_id:
                    repo.add_request(
                        request_id,
                        "UpdateDossier",
                        fingerprint,
                        {"dossier_code": code},
                        self.clock(),
                    )
                await self._record(
                    session,
                    dossier,
                    action="storage.dossier.update",
                    target=f"dossiers/{code}",
                    event="dossier.updated",
                    payload={"fields": sorted(changes)},
                    details={"fields": sorted(changes)},
                )
        await self.notifier.notify()
        return await self.get_dossier(code)

    # -- reads -------------------------------------------------------------------------------
    async def resolve(self, name: str, *, field: str = "name") -> Row:
        """The version a file or version name designates (latest live for a file name)."""
        ref = parse_file_name(name, field=field)
        async with self.runtime.session() as session:
            rows = await StorageRepository(session).versions_of_file(
                ref.dossier_code, ref.file_id, number=ref.version
            )
        if not rows:
            raise UnknownFile(f"{name} does not exist (or was deleted)", field=field)
        return rows[0]

    async def versions(self, ref: VersionRef) -> list[Row]:
        """Every live version of a file, newest first."""
        async with self.runtime.session() as session:
            rows = await StorageRepository(session).versions_of_file(ref.dossier_code, ref.file_id)
        if not rows:
            raise UnknownFile(
                f"dossiers/{ref.dossier_code}/files/{ref.file_id} does not exist", field="file"
            )
        return rows

    async def list_files(
        self,
        code: str,
        *,
        include_derived: bool,
        component_type: str,
        after: tuple[str, int, str] | None,
        limit: int,
    ) -> tuple[list[Row], tuple[str, int, str] | None]:
        """Latest version of each file of a dossier, paged by slot."""
        async with self.runtime.session() as session:
            repo = StorageRepository(session)
            dossier = await self._dossier_or_fail(repo, code)
            rows = await repo.latest_per_file(
                dossier.id,
                include_derived=include_derived,
                component_type=component_type,
                after_key=after,
                limit=limit + 1,
            )
        page = rows[:limit]
        following = None
        if len(rows) > limit and page:
            last = page[-1]
            following = (last.file.component_type, last.file.ordinal, last.version.id)
        return page, following

    async def renditions(self, name: str, kind: str) -> list[Row]:
        """Renditions derived from a version."""
        row = await self.resolve(name, field="file_version")
        async with self.runtime.session() as session:
            return await StorageRepository(session).renditions_of(row.version.id, kind)

    async def read(self, row: Row, *, offset: int, length: int) -> AsyncIterator[bytes]:
        """Stream a range of a version (OUT_OF_RANGE when starting past the end)."""
        if offset < 0 or length < 0:
            raise InvalidArgument(
                "offset and length must not be negative", field="offset" if offset < 0 else "length"
            )
        if offset and offset >= row.version.size:
            raise OutOfRange(f"offset {offset} is beyond the size {row.version.size}")
        return self.store.get(
            row.version.object_key,
            version_id=row.version.object_version,
            offset=offset,
            length=length or None,
            tenant=row.version.tenant,
        )

    async def download_url(self, row: Row, lifetime: int) -> tuple[str, datetime]:
        """A presigned URL living at most ``presign_max_seconds``."""
        if lifetime < 0:
            raise InvalidArgument("lifetime_seconds must not be negative", field="lifetime_seconds")
        seconds = min(lifetime or 300, self.settings.presign_max_seconds)
        if row.version.encryption == "sse-c":
            raise FailedPrecondition(
                "the object is encrypted with a customer key (SSE-C); download it with GetFile"
            )
        url = await self.store.presign_get(
            row.version.object_key, version_id=row.version.object_version, expires_seconds=seconds
        )
        if url is None:
            raise FailedPrecondition(
                f"the {self.store.name} backend cannot presign URLs; download with GetFile"
            )
        return url, self.clock() + timedelta(seconds=seconds)

    # -- events ------------------------------------------------------------------------------
    async def list_events(
        self, after: int, limit: int, types: list[str]
    ) -> list[events.OutboxEvent]:
        """Events after a cursor."""
        if after < 0:
            raise InvalidArgument("after_sequence must not be negative", field="after_sequence")
        async with self.runtime.session() as session:
            return await events.list_events(session, after=after, limit=limit, types=types)

    async def watch_events(self, after: int, types: list[str]) -> AsyncIterator[events.OutboxEvent]:
        """Events after a cursor, then new ones as they commit, until cancelled."""
        if after < 0:
            raise InvalidArgument("after_sequence must not be negative", field="after_sequence")
        cursor = after
        while True:
            generation = self.notifier.generation
            batch = await self.list_events(cursor, 500, types)
            for event in batch:
                cursor = event.sequence
                yield event
            if not batch:
                await self.notifier.wait(generation, self.settings.event_poll_seconds)


async def build(runtime: Any) -> list[Any]:
    """Plug the archive into the server (``hoso serve storage``)."""
    from hoso.common.server import Registration
    from hoso.storage.servicer import ArchiveServicer
    from hoso.storage.startup import start_core
    from hoso.storage.v1 import storage_pb2 as _pb
    from hoso.storage.v1 import storage_pb2_grpc as _pb_grpc
    from hoso.storage.verification import make_verifier

    settings = runtime.settings.section("storage")
    core = await start_core(runtime, settings)
    servicer = ArchiveServicer(core, verifier=make_verifier(runtime, settings.signing_endpoint))
    await servicer.auditor.recover()
    return [
        Registration(
            _pb.DESCRIPTOR.services_by_name["ArchiveService"].full_name,
            _pb_grpc.add_ArchiveServiceServicer_to_server,
            servicer,
        )
    ]

"""Catalog queries. Repositories flush but never commit: the service owns the transaction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hoso.storage.models import Dossier, FileVersion, FixityRun, RequestRecord, StoredFile
from hoso.storage.names import fold
from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["DossierFilter", "Row", "StorageRepository"]


@dataclass(frozen=True)
class DossierFilter:
    """Filters of ListDossiers (None/empty = any)."""

    procedure_code: str = ""
    agency: str = ""
    status: str = ""
    applicant_id: str = ""
    received_from: datetime | None = None
    received_before: datetime | None = None
    text: str = ""


@dataclass(frozen=True)
class Row:
    """A version with its file and dossier, as the API presents it."""

    version: FileVersion
    file: StoredFile
    dossier: Dossier


class StorageRepository:
    """Statements over the storage tables within one session."""

    def __init__(self, session: AsyncSession) -> None:
        """Wrap a session (owned by the caller)."""
        self.session = session

    # -- idempotency -------------------------------------------------------------------------
    async def find_request(self, request_id: str) -> RequestRecord | None:
        """The stored result of an earlier request with this id."""
        return await self.session.get(RequestRecord, request_id)

    def add_request(
        self, request_id: str, method: str, fingerprint: str, result: dict[str, Any], now: datetime
    ) -> None:
        """Record a request's result (its primary key makes a concurrent duplicate fail)."""
        self.session.add(
            RequestRecord(
                request_id=request_id,
                method=method,
                fingerprint=fingerprint,
                result=json.dumps(result),
                created_at=now,
            )
        )

    # -- dossiers ----------------------------------------------------------------------------
    async def dossier_by_code(self, code: str, *, for_update: bool = False) -> Dossier | None:
        """The dossier with this code."""
        stmt = select(Dossier).where(Dossier.code == code)
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.session.scalars(stmt)).first()

    async def dossier_by_id(self, dossier_id: str) -> Dossier | None:
        """The dossier with this id."""
        return await self.session.get(Dossier, dossier_id)

    async def list_dossiers(
        self, where: DossierFilter, *, after: tuple[str, str] | None, limit: int
    ) -> list[Dossier]:
        """Newest received first; ``after`` is the (received_at iso, id) of the last row seen."""
        stmt: Select[tuple[Dossier]] = select(Dossier)
        if where.procedure_code:
            stmt = stmt.where(Dossier.procedure_code == where.procedure_code)
        if where.agency:
            stmt = stmt.where(Dossier.agency == where.agency)
        if where.status:
            stmt = stmt.where(Dossier.status == where.status)
        if where.applicant_id:
            stmt = stmt.where(Dossier.applicant_id == where.applicant_id)
        if where.received_from is not None:
            stmt = stmt.where(Dossier.received_at >= where.received_from)
        if where.received_before is not None:
            stmt = stmt.where(Dossier.received_at < where.received_before)
        if where.text:
            folded = fold(where.text).replace("\\", "\\\\").replace("%", "\\%")
            folded = folded.replace("_", "\\_")
            stmt = stmt.where(Dossier.search_text.like(f"%{folded}%", escape="\\"))
        if after is not None:
            received = datetime.fromisoformat(after[0])
            stmt = stmt.where(
                or_(
                    Dossier.received_at < received,
                    (Dossier.received_at == received) & (Dossier.id < after[1]),
                )
            )
        stmt = stmt.order_by(Dossier.received_at.desc(), Dossier.id.desc()).limit(limit)
        return list((await self.session.scalars(stmt)).all())

    async def known_object_keys(self, keys: Sequence[str]) -> set[str]:
        """Which of ``keys`` a version row (live or deleted) names."""
        if not keys:
            return set()
        stmt = select(FileVersion.object_key).where(FileVersion.object_key.in_(list(keys)))
        return set((await self.session.scalars(stmt)).all())

    async def file_count(self, dossier_id: str) -> int:
        """Number of original files with a live version."""
        stmt = (
            select(func.count(func.distinct(StoredFile.id)))
            .join(FileVersion, FileVersion.file_id == StoredFile.id)
            .where(
                StoredFile.dossier_id == dossier_id,
                FileVersion.deleted_at.is_(None),
                FileVersion.source_version_id.is_(None),
            )
        )
        return int((await self.session.scalar(stmt)) or 0)

    # -- files and versions ------------------------------------------------------------------
    async def file(self, file_id: str) -> StoredFile | None:
        """The file with this id."""
        return await self.session.get(StoredFile, file_id)

    async def file_at(
        self, dossier_id: str, component_type: str, ordinal: int
    ) -> StoredFile | None:
        """The file in a slot of a dossier."""
        stmt = select(StoredFile).where(
            StoredFile.dossier_id == dossier_id,
            StoredFile.component_type == component_type,
            StoredFile.ordinal == ordinal,
        )
        return (await self.session.scalars(stmt)).first()

    async def file_by_filename(
        self, dossier_id: str, component_type: str, filename: str
    ) -> StoredFile | None:
        """A file of that component type whose versions carry this filename."""
        stmt = (
            select(StoredFile)
            .join(FileVersion, FileVersion.file_id == StoredFile.id)
            .where(
                StoredFile.dossier_id == dossier_id,
                StoredFile.component_type == component_type,
                FileVersion.filename == filename,
            )
            .order_by(StoredFile.ordinal)
            .limit(1)
        )
        return (await self.session.scalars(stmt)).first()

    async def next_ordinal(self, dossier_id: str, component_type: str) -> int:
        """The next free ordinal of a component type within a dossier."""
        stmt = select(func.max(StoredFile.ordinal)).where(
            StoredFile.dossier_id == dossier_id, StoredFile.component_type == component_type
        )
        return int((await self.session.scalar(stmt)) or 0) + 1

    async def next_version_number(self, file_id: str) -> int:
        """The number the next version of a file gets."""
        stmt = select(func.max(FileVersion.number)).where(FileVersion.file_id == file_id)
        return int((await self.session.scalar(stmt)) or 0) + 1

    def _rows(self) -> Select[tuple[FileVersion, StoredFile, Dossier]]:
        return (
            select(FileVersion, StoredFile, Dossier)
            .join(StoredFile, FileVersion.file_id == StoredFile.id)
            .join(Dossier, StoredFile.dossier_id == Dossier.id)
        )

    async def _fetch(self, stmt: Select[tuple[FileVersion, StoredFile, Dossier]]) -> list[Row]:
        return [Row(v, f, d) for v, f, d in (await self.session.execute(stmt)).all()]

    async def row_by_version_id(self, version_id: str) -> Row | None:
        """The row of a version id."""
        rows = await self._fetch(self._rows().where(FileVersion.id == version_id))
        return rows[0] if rows else None

    async def versions_of_file(
        self, dossier_code: str, file_id: str, *, number: int | None = None, live_only: bool = True
    ) -> list[Row]:
        """Versions of a file, newest first (one when ``number`` is given)."""
        stmt = self._rows().where(Dossier.code == dossier_code, StoredFile.id == file_id)
        if number is not None:
            stmt = stmt.where(FileVersion.number == number)
        if live_only:
            stmt = stmt.where(FileVersion.deleted_at.is_(None))
        return await self._fetch(stmt.order_by(FileVersion.number.desc()))

    async def latest_per_file(
        self,
        dossier_id: str,
        *,
        include_derived: bool,
        component_type: str = "",
        after_key: tuple[str, int, str] | None = None,
        limit: int = 1000,
        all_versions: bool = False,
    ) -> list[Row]:
        """The latest live version of each file of a dossier (or every version), by slot."""
        stmt = self._rows().where(Dossier.id == dossier_id, FileVersion.deleted_at.is_(None))
        if not all_versions:
            newest = (
                select(func.max(FileVersion.number))
                .where(FileVersion.file_id == StoredFile.id, FileVersion.deleted_at.is_(None))
                .correlate(StoredFile)
                .scalar_subquery()
            )
            stmt = stmt.where(FileVersion.number == newest)
        if not include_derived:
            stmt = stmt.where(FileVersion.source_version_id.is_(None))
        if component_type:
            stmt = stmt.where(StoredFile.component_type == component_type)
        if after_key is not None:
            ctype, ordinal, vid = after_key
            stmt = stmt.where(
                or_(
                    StoredFile.component_type > ctype,
                    (StoredFile.component_type == ctype) & (StoredFile.ordinal > ordinal),
                    (StoredFile.component_type == ctype)
                    & (StoredFile.ordinal == ordinal)
                    & (FileVersion.id > vid),
                )
            )
        stmt = stmt.order_by(StoredFile.component_type, StoredFile.ordinal, FileVersion.id)
        return await self._fetch(stmt.limit(limit))

    async def renditions_of(self, version_id: str, kind: str = "") -> list[Row]:
        """Live versions derived from a version, newest first."""
        stmt = self._rows().where(
            FileVersion.source_version_id == version_id, FileVersion.deleted_at.is_(None)
        )
        if kind:
            stmt = stmt.where(FileVersion.rendition_kind == kind)
        return await self._fetch(stmt.order_by(FileVersion.created_at.desc()))

    async def live_versions(
        self, *, dossier_id: str | None = None, not_checked_since: datetime | None = None
    ) -> list[str]:
        """Ids of live versions (for audits), oldest first."""
        stmt = select(FileVersion.id).where(FileVersion.deleted_at.is_(None))
        if dossier_id is not None:
            stmt = stmt.join(StoredFile, FileVersion.file_id == StoredFile.id).where(
                StoredFile.dossier_id == dossier_id
            )
        if not_checked_since is not None:
            stmt = stmt.where(
                or_(
                    FileVersion.last_fixity_at.is_(None),
                    FileVersion.last_fixity_at < not_checked_since,
                )
            )
        return list((await self.session.scalars(stmt.order_by(FileVersion.created_at))).all())

    async def versions_of_dossier(self, dossier_id: str) -> Sequence[Row]:
        """All live versions of a dossier."""
        return await self._fetch(
            self._rows()
            .where(Dossier.id == dossier_id, FileVersion.deleted_at.is_(None))
            .order_by(StoredFile.component_type, StoredFile.ordinal, FileVersion.number)
        )

    # -- fixity runs -------------------------------------------------------------------------
    async def fixity_run(self, run_id: str) -> FixityRun | None:
        """A fixity audit by id."""
        return await self.session.get(FixityRun, run_id)

    async def running_fixity_run(self) -> FixityRun | None:
        """The audit currently running, if any."""
        stmt = select(FixityRun).where(FixityRun.status == "running").limit(1)
        return (await self.session.scalars(stmt)).first()

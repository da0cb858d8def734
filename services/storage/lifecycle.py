"""Deletion, retention and legal holds of archived versions (a part of :class:`ArchiveCore`).

The archive's use cases are split by concern: this mixin holds the changes that protect or
remove versions, and :func:`LifecycleCases._record` the audit-plus-event pair every change of
the archive writes in its own transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hoso.common.errors import FailedPrecondition, InvalidArgument
from hoso.storage import events
from hoso.storage.errors import UnknownFile
from hoso.storage.models import Dossier, FileVersion
from hoso.storage.names import parse_dossier_name, parse_file_name
from hoso.storage.objectstore.api import Capabilities, ObjectStore
from hoso.storage.repository import Row, StorageRepository
from hoso.storage.retention import RANK, guard_delete, retain_until_for
from hoso.storage.settings import StorageSettings
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["LifecycleCases"]

log = logging.getLogger("hoso.storage")


class LifecycleCases:
    """Delete, retain and hold versions; mixed into :class:`hoso.storage.service.ArchiveCore`."""

    runtime: Any
    settings: StorageSettings
    store: ObjectStore
    capabilities: Capabilities
    clock: Callable[[], datetime]
    notifier: events.EventNotifier

    if TYPE_CHECKING:
        # Provided by ArchiveCore (the dossier and read use cases).
        async def resolve(self, name: str, *, field: str = "name") -> Row: ...

        async def _dossier_or_fail(self, repo: StorageRepository, code: str) -> Dossier: ...

    async def _record(
        self,
        session: AsyncSession,
        dossier: Dossier,
        *,
        action: str,
        target: str,
        event: str,
        payload: dict[str, Any],
        details: dict[str, Any] | None = None,
        digest: str | None = None,
        file_id: str | None = None,
        version_id: str | None = None,
    ) -> None:
        """Append the audit event and the outbox event of one change, in ``session``."""
        await self.runtime.audit(
            session, action=action, target=target, digest=digest, details=details
        )
        await events.append_event(
            session,
            type=event,
            dossier_id=dossier.id,
            dossier_code=dossier.code,
            file_id=file_id,
            version_id=version_id,
            payload=payload,
        )

    async def delete(self, name: str, reason: str, request_id: str) -> list[str]:
        """Delete a version (or every version of a file) unless retained or held."""
        if not reason.strip():
            raise InvalidArgument(
                "reason is required; it is written to the audit log", field="reason"
            )
        ref = parse_file_name(name)
        async with self.runtime.session() as session:
            repo = StorageRepository(session)
            rows = await repo.versions_of_file(ref.dossier_code, ref.file_id, number=ref.version)
        if not rows:
            raise UnknownFile(f"{name} does not exist (or was already deleted)", field="name")
        for row in rows:
            guard_delete(row.version, row.dossier, now=self.clock())
        deleted: list[str] = []
        for row in rows:
            # The backend enforces its own lock too: it refuses before the catalog changes.
            await self.store.delete(row.version.object_key, version_id=row.version.object_version)
            async with self.runtime.session() as session:
                version = await session.get(FileVersion, row.version.id)
                assert version is not None
                version.deleted_at = self.clock()
                vname = (
                    f"dossiers/{row.dossier.code}/files/{row.file.id}/versions/{row.version.number}"
                )
                await self._record(
                    session,
                    row.dossier,
                    action="storage.file.delete",
                    target=vname,
                    event="file.deleted",
                    payload={"reason": reason},
                    details={"reason": reason},
                    digest=row.version.sha256,
                    file_id=row.file.id,
                    version_id=row.version.id,
                )
            deleted.append(vname)
        await self.notifier.notify()
        return deleted

    async def _targets(self, name: str) -> tuple[Dossier, list[Row]]:
        if name.startswith("dossiers/") and "/files/" not in name:
            code = parse_dossier_name(name)
            async with self.runtime.session() as session:
                repo = StorageRepository(session)
                dossier = await self._dossier_or_fail(repo, code)
                return dossier, list(await repo.versions_of_dossier(dossier.id))
        row = await self.resolve(name)
        return row.dossier, [row]

    async def set_retention(self, name: str, retention_class: str, mode: str | None) -> list[Row]:
        """Extend retention of a dossier (its versions and future ones) or of one version."""
        mode = mode or self.settings.object_lock_mode.value
        if mode == "COMPLIANCE" and not self.capabilities.object_lock:
            raise FailedPrecondition("COMPLIANCE retention needs a backend with object lock")
        years = self.settings.retention_years(retention_class)
        dossier, rows = await self._targets(name)
        is_dossier = "/files/" not in name
        current = (
            dossier.retention_class
            if is_dossier
            else (rows[0].version.retention_class if rows else None)
        )
        if RANK.get(retention_class, 0) < RANK.get(current, 0):
            raise FailedPrecondition(
                f"retention can be extended, never shortened: {name} is already under {current}"
            )
        async with self.runtime.session() as session:
            if is_dossier:
                stored = await session.get(Dossier, dossier.id)
                assert stored is not None
                stored.retention_class = retention_class
                stored.updated_at = self.clock()
            for row in rows:
                version = await session.get(FileVersion, row.version.id)
                assert version is not None
                if RANK.get(retention_class, 0) < RANK.get(version.retention_class, 0):
                    continue
                until, permanent = retain_until_for(version.created_at, years)
                version.retention_class = retention_class
                version.retention_mode = mode
                version.retain_permanently = version.retain_permanently or permanent
                if until is not None and (
                    version.retain_until is None or until > version.retain_until
                ):
                    version.retain_until = until
                version.lock_applied = False
            await self._record(
                session,
                dossier,
                action="storage.retention.set",
                target=name,
                event="retention.changed",
                payload={"name": name, "retention_class": retention_class},
                details={"retention_class": retention_class, "mode": mode},
            )
        await self.notifier.notify()
        refreshed = [await self._reload(r.version.id) for r in rows]
        for row in refreshed:
            await self.apply_lock(row.version)
        return [await self._reload(r.version.id) for r in refreshed]

    async def set_legal_hold(self, name: str, on: bool, reason: str) -> list[Row]:
        """Place or lift a legal hold on a dossier or version (catalog and backend)."""
        if not reason.strip():
            raise InvalidArgument(
                "reason is required; it is written to the audit log", field="reason"
            )
        dossier, rows = await self._targets(name)
        async with self.runtime.session() as session:
            if "/files/" not in name:
                stored = await session.get(Dossier, dossier.id)
                assert stored is not None
                stored.legal_hold = on
            else:
                version = await session.get(FileVersion, rows[0].version.id)
                assert version is not None
                version.legal_hold = on
            await self._record(
                session,
                dossier,
                action="storage.legal_hold.set",
                target=name,
                event="retention.changed",
                payload={"name": name, "legal_hold": on},
                details={"on": on, "reason": reason},
            )
        await self.notifier.notify()
        out = []
        for row in rows:
            fresh = await self._reload(row.version.id)
            if self.capabilities.legal_hold:
                effective = fresh.version.legal_hold or fresh.dossier.legal_hold
                await self.store.set_legal_hold(
                    fresh.version.object_key, version_id=fresh.version.object_version, on=effective
                )
            out.append(fresh)
        return out

    async def _reload(self, version_id: str) -> Row:
        async with self.runtime.session() as session:
            row = await StorageRepository(session).row_by_version_id(version_id)
        assert row is not None
        return row

    async def apply_lock(self, version: FileVersion) -> None:
        """Mirror the catalog's retention onto the backend's object lock (where it has one).

        A failure is logged and retried by the next retention change or audit: the catalog
        keeps enforcing retention meanwhile.
        """
        if not self.capabilities.object_lock or (
            version.retain_until is None and not version.retain_permanently
        ):
            return
        until = version.retain_until
        if version.retain_permanently:
            until = retain_until_for(version.created_at, self.settings.permanent_lock_years)[0]
        assert until is not None
        try:
            await self.store.set_retention(
                version.object_key,
                version_id=version.object_version,
                until=until,
                mode=version.retention_mode or self.settings.object_lock_mode.value,
            )
        except Exception:
            log.warning(
                "could not lock %s in the object store; the catalog still enforces it",
                version.id,
                exc_info=True,
            )
            return
        async with self.runtime.session() as session:
            stored = await session.get(FileVersion, version.id)
            if stored is not None:
                stored.lock_applied = True

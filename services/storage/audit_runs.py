"""Fixity checks of versions and background fixity audits with progress."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import datetime

from hoso.common.errors import AlreadyExists
from hoso.storage import events
from hoso.storage.errors import UnknownFile
from hoso.storage.fixity import FixityOutcome, check_version
from hoso.storage.models import FileVersion, FixityRun
from hoso.storage.names import version_name
from hoso.storage.repository import Row, StorageRepository
from hoso.storage.service import ArchiveCore

__all__ = ["FixityAuditor", "verify_rows"]

log = logging.getLogger("hoso.storage.fixity")
_MAX_FAILURES = 1000


async def _record_outcome(core: ArchiveCore, row: Row, outcome: FixityOutcome) -> None:
    name = version_name(row.dossier.code, row.file.id, row.version.number)
    async with core.runtime.session() as session:
        version = await session.get(FileVersion, row.version.id)
        if version is not None:
            version.last_fixity_at = outcome.checked_at
            version.last_fixity_ok = outcome.ok
        if not outcome.ok:
            await core.runtime.audit(
                session,
                action=f"storage.fixity.{outcome.status}",
                target=name,
                digest=row.version.sha256,
                details={
                    "actual_sha256": outcome.actual_sha256,
                    "actual_size": outcome.actual_size,
                },
            )
            await events.append_event(
                session,
                type="fixity.failed",
                dossier_id=row.dossier.id,
                dossier_code=row.dossier.code,
                file_id=row.file.id,
                version_id=row.version.id,
                payload={
                    "name": name,
                    "status": outcome.status,
                    "sha256": row.version.sha256,
                    "size": row.version.size,
                },
            )
    if not outcome.ok:
        await core.notifier.notify()


async def verify_rows(core: ArchiveCore, rows: list[Row]) -> list[tuple[Row, FixityOutcome]]:
    """Check each version, record the time and turn failures into audit and outbox events."""
    results = []
    for row in rows:
        outcome = await check_version(core.store, row.version)
        await _record_outcome(core, row, outcome)
        results.append((row, outcome))
    return results


class FixityAuditor:
    """Runs one background audit at a time within this process."""

    def __init__(self, core: ArchiveCore) -> None:
        """Create the auditor."""
        self.core = core
        self._task: asyncio.Task[None] | None = None

    async def recover(self) -> None:
        """Mark audits left running by a previous process as failed."""
        async with self.core.runtime.session() as session:
            run = await StorageRepository(session).running_fixity_run()
            while run is not None:
                run.status = "failed"
                run.error_message = "the server stopped while the audit ran; start a new one"
                run.finished_at = self.core.clock()
                await session.flush()
                run = await StorageRepository(session).running_fixity_run()

    async def start(
        self, *, dossier_code: str = "", not_checked_since: datetime | None = None
    ) -> FixityRun:
        """Start an audit (ALREADY_EXISTS while one runs)."""
        async with self.core.runtime.session() as session:
            repo = StorageRepository(session)
            running = await repo.running_fixity_run()
            if running is not None:
                raise AlreadyExists(f"fixity audit fixityAudits/{running.id} is already running")
            dossier_id = None
            if dossier_code:
                dossier = await repo.dossier_by_code(dossier_code)
                if dossier is None:
                    raise UnknownFile(f"dossier {dossier_code} does not exist", field="dossier")
                dossier_id = dossier.id
            ids = await repo.live_versions(
                dossier_id=dossier_id, not_checked_since=not_checked_since
            )
            run = FixityRun(
                id=str(uuid.uuid4()),
                status="running",
                total=len(ids),
                checked=0,
                mismatches=0,
                missing=0,
                ok=0,
                bytes_checked=0,
                failures="[]",
                error_message="",
                started_at=self.core.clock(),
            )
            session.add(run)
        self._task = asyncio.create_task(self._run(run.id, ids))
        return run

    async def wait(self) -> None:
        """Wait for the current audit (tests, shutdown)."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def _run(self, run_id: str, ids: list[str]) -> None:
        failures: list[dict[str, object]] = []
        try:
            for version_id in ids:
                async with self.core.runtime.session() as session:
                    row = await StorageRepository(session).row_by_version_id(version_id)
                if row is None or row.version.deleted_at is not None:
                    continue
                [(_, outcome)] = await verify_rows(self.core, [row])
                if not outcome.ok and len(failures) < _MAX_FAILURES:
                    failures.append(
                        {
                            "name": version_name(row.dossier.code, row.file.id, row.version.number),
                            "status": outcome.status,
                            "expected_sha256": outcome.expected_sha256,
                            "actual_sha256": outcome.actual_sha256,
                            "expected_size": outcome.expected_size,
                            "actual_size": outcome.actual_size,
                            "checked_at": outcome.checked_at.isoformat(),
                        }
                    )
                async with self.core.runtime.session() as session:
                    run = await session.get(FixityRun, run_id)
                    assert run is not None
                    run.checked += 1
                    run.bytes_checked += outcome.actual_size
                    run.ok += outcome.status == "ok"
                    run.mismatches += outcome.status == "mismatch"
                    run.missing += outcome.status == "missing"
                    run.failures = json.dumps(failures)
            status, message = "succeeded", ""
        except Exception as exc:
            log.exception("fixity audit %s failed", run_id)
            status, message = "failed", str(exc)
        async with self.core.runtime.session() as session:
            run = await session.get(FixityRun, run_id)
            assert run is not None
            run.status = status
            run.error_message = message
            run.finished_at = self.core.clock()

    async def get(self, run_id: str) -> FixityRun:
        """An audit by id."""
        async with self.core.runtime.session() as session:
            run = await StorageRepository(session).fixity_run(run_id)
        if run is None:
            raise UnknownFile(f"fixityAudits/{run_id} does not exist", field="name")
        return run

    async def close(self) -> None:
        """Stop a running audit (it is marked failed at the next start)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()

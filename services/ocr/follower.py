"""Follow the archive's event outbox and queue OCR for every scanned file it archives.

The follower reads ``ListEvents`` after a cursor kept in ``ocr_cursors``. Each page of events
is turned into jobs and the cursor advanced **in one transaction**, and the cursor moves only
from the position this follower read (compare-and-set): a crash before the commit replays
the page, two followers never both record it, so no event is lost or handled twice. Jobs
carry the event's ``traceparent``, so the trace that began with ``PutFile`` goes on in OCR.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

import grpc
from hoso.ocr.archive import ArchiveConnection, DossierFacts, component_name, translate_rpc_error
from hoso.ocr.models import OcrCursor
from hoso.ocr.queue import JobQueue, rows_changed
from hoso.storage.v1 import storage_pb2 as _storage
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

__all__ = ["OCR_MEDIA_TYPES", "ArchiveFollower", "JobTemplate", "wants_ocr"]

_log = logging.getLogger(__name__)

#: Media types OCR reads (as the archive detects them from content).
OCR_MEDIA_TYPES = frozenset({"application/pdf", "image/tiff", "image/jpeg", "image/png"})
_PAGE_SIZE = 100


@dataclass(frozen=True)
class JobTemplate:
    """What every job made from an event gets: engine fingerprint and options."""

    fingerprint: str
    options_json: str


def wants_ocr(event: _storage.Event) -> bool:
    """Whether ``event`` archives an original that OCR can read (renditions are skipped)."""
    return (
        event.type == _storage.EVENT_TYPE_FILE_ARCHIVED
        and bool(event.file_version)
        and event.rendition_kind == _storage.RENDITION_KIND_UNSPECIFIED
        and event.media_type.split(";")[0].strip().lower() in OCR_MEDIA_TYPES
    )


class ArchiveFollower:
    """Turns ``FILE_ARCHIVED`` events into OCR jobs, resumably.

    Args:
        sessions: Catalog session factory.
        queue: Where jobs go.
        connection: The archive.
        template: Fingerprint and options of the jobs.
        name: Cursor name (one per event stream).
        on_queued: Called after a page of events queued new jobs (wakes idle workers).
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        queue: JobQueue,
        connection: ArchiveConnection,
        template: JobTemplate,
        *,
        name: str = "archive",
        on_queued: Callable[[], None] | None = None,
    ) -> None:
        self._sessions, self._queue, self._connection = sessions, queue, connection
        self._template, self.name, self._on_queued = template, name, on_queued
        self._facts = DossierFacts(connection)

    async def run(self, stop: asyncio.Event, poll_seconds: float) -> None:
        """Follow until ``stop`` is set: drain pages of events, then wait ``poll_seconds``."""
        failures = 0
        while not stop.is_set():
            try:
                handled = await self.step()
                failures = 0
            except Exception as e:  # archive not up yet, or restarting: back off and retry
                failures += 1
                level = logging.DEBUG if failures < 5 else logging.WARNING
                _log.log(level, "following the archive failed (%s); retrying", e)
                handled = 0
            if handled:
                continue
            wait = poll_seconds * min(2**failures, 30) if failures else poll_seconds
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)

    async def position(self) -> int:
        """The sequence of the last event handled."""
        async with self._sessions() as session:
            row = await session.get(OcrCursor, self.name)
            return int(row.position or 0) if row else 0

    async def step(self) -> int:
        """Handle one page of events after the cursor; return how many were read."""
        start = await self._ensure_cursor()
        try:
            page = await self._connection.client().list_events(
                after_sequence=start, types=[_storage.EVENT_TYPE_FILE_ARCHIVED]
            )
        except grpc.aio.AioRpcError as e:
            raise translate_rpc_error(e, "listing the archive's events") from e
        events = list(page.events)
        end = max([page.last_sequence, start, *(e.sequence for e in events)])
        if end == start:
            return 0
        wanted = [e for e in events if wants_ocr(e)]
        facts = {e.dossier: await self._facts.of(e.dossier) for e in wanted}
        created = 0
        async with self._sessions.begin() as session:
            for event in wanted:
                agency, procedure = facts[event.dossier]
                _, new = await self._queue.enqueue_in(
                    session,
                    file_version=event.file_version,
                    fingerprint=self._template.fingerprint,
                    options_json=self._template.options_json,
                    dossier=event.dossier,
                    agency=agency,
                    procedure=procedure,
                    component_type=component_name(event.component_type),
                    file_digest=event.sha256,
                    traceparent=event.traceparent,
                )
                created += new
            moved = await session.execute(
                update(OcrCursor)
                .where(OcrCursor.name == self.name, OcrCursor.position == str(start))
                .values(position=str(end), updated_at=self._queue.clock())
            )
            if rows_changed(moved) != 1:
                # another follower recorded this page first: drop ours (rolled back)
                raise _CursorMoved(self.name)
        if created and self._on_queued is not None:
            self._on_queued()
        _log.debug("events %d..%d: %d OCR job(s) queued", start + 1, end, created)
        return len(events) or 1

    async def _ensure_cursor(self) -> int:
        async with self._sessions() as session:
            row = await session.scalar(select(OcrCursor).where(OcrCursor.name == self.name))
            if row is not None:
                return int(row.position or 0)
        with contextlib.suppress(IntegrityError):
            async with self._sessions.begin() as session:
                session.add(OcrCursor(name=self.name, position="0", updated_at=self._queue.clock()))
        return await self.position()


class _CursorMoved(Exception):
    """The cursor changed under us; the page is retried from the new position."""


def default_options_json(*, produce_pdfa: bool = True) -> str:
    """Options of jobs made from events: the configured engine, with a rendition."""
    return json.dumps({"produce_pdfa": produce_pdfa})

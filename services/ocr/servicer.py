"""gRPC layer of the OCR service: validation, message conversion, and the use cases' glue.

Jobs live in the durable queue (:mod:`hoso.ocr.queue`), text in ``ocr_pages``, search in the
text index (:mod:`hoso.ocr.index`, its public API only). Files are checked with the archive
before a job is queued, so an unknown or unreadable file is refused at once.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import grpc
from hoso.common.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
)
from hoso.common.paging import decode_token, encode_token, page_size
from hoso.common.protoconv import optional_time, to_timestamp
from hoso.common.tracing import current_traceparent
from hoso.ocr.archive import ArchiveConnection, DossierFacts, component_name, translate_rpc_error
from hoso.ocr.engine import EngineOptions, check_pixels
from hoso.ocr.follower import OCR_MEDIA_TYPES
from hoso.ocr.index import SearchFilters, TextIndex, parse_query
from hoso.ocr.models import FINAL_STATES, JobState, OcrJob, OcrPage
from hoso.ocr.queue import JobQueue
from hoso.ocr.rebuild import IndexRebuilder
from hoso.ocr.settings import OcrSettings
from hoso.ocr.text import normalize_text
from hoso.ocr.v1 import ocr_pb2 as _pb
from hoso.ocr.v1 import ocr_pb2_grpc as _pb_grpc
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

__all__ = ["OcrService"]

_VERSION_NAME = re.compile(r"^dossiers/[^/]+/files/[^/]+/versions/[0-9]+$")
_DOSSIER_NAME = re.compile(r"^dossiers/[^/]+$")
_JOB_NAME = re.compile(r"^jobs/([0-9a-f]{1,40})$")
_STATES = {
    JobState.QUEUED: _pb.JOB_STATE_QUEUED,
    JobState.RUNNING: _pb.JOB_STATE_RUNNING,
    JobState.SUCCEEDED: _pb.JOB_STATE_SUCCEEDED,
    JobState.FAILED: _pb.JOB_STATE_FAILED,
    JobState.CANCELLED: _pb.JOB_STATE_CANCELLED,
}
_STATE_OF = {v: k for k, v in _STATES.items()}
# Enough of an image file for Pillow to read its dimensions without decoding pixels.
_HEADER_BYTES = 256 * 1024
_WATCH_POLL_SECONDS = 0.2
_SEARCH_DEFAULT, _SEARCH_MAX = 20, 100
_JOBS_DEFAULT, _JOBS_MAX = 50, 500


def _version_name(value: str, field: str = "file_version") -> str:
    value = normalize_text(value.strip())
    if not value:
        raise InvalidArgument(
            f"{field} is required: dossiers/{{d}}/files/{{f}}/versions/{{v}}", field=field
        )
    if not _VERSION_NAME.match(value):
        raise InvalidArgument(
            f"{field} {value!r} is not a version name: dossiers/{{d}}/files/{{f}}/versions/{{v}}",
            field=field,
        )
    return value


def _dossier_filter(value: str) -> str:
    value = normalize_text(value.strip())
    if value and not _DOSSIER_NAME.match(value):
        raise InvalidArgument(
            f"dossier {value!r} must look like dossiers/{{code}}", field="dossier"
        )
    return value


def _job_id(name: str) -> str:
    if not name:
        raise InvalidArgument("name is required: jobs/{id}", field="name")
    found = _JOB_NAME.match(name.strip())
    if not found:
        raise InvalidArgument(f"name {name!r} is not a job name: jobs/{{id}}", field="name")
    return found.group(1)


def _page_errors(pages: list[OcrPage]) -> list[_pb.PageError]:
    return [
        _pb.PageError(page=p.page, message=f"{p.error_code}: {p.error_message}")
        for p in pages
        if p.error_code
    ]


def job_message(job: OcrJob, pages: list[OcrPage] | None = None) -> _pb.Job:
    """The ``Job`` message of a job row (page errors when ``pages`` are given)."""
    options = json.loads(job.options_json or "{}")
    languages = options.get("languages", "")
    message = _pb.Job(
        name=f"jobs/{job.id}",
        file_version=job.file_version,
        dossier=job.dossier,
        state=_STATES.get(JobState(job.state), _pb.JOB_STATE_UNSPECIFIED),
        options=_pb.OcrOptions(
            languages=languages.split("+") if languages else [],
            redo_pages_with_text=bool(options.get("redo_pages_with_text")),
            deskew=bool(options.get("deskew", True)),
            rotate=bool(options.get("auto_rotate", True)),
            produce_pdfa=bool(options.get("produce_pdfa", True)),
        ),
        priority=job.priority,
        attempts=job.attempts,
        pages_done=job.pages_done,
        pages_total=job.pages_total,
        page_errors=_page_errors(pages or []),
        rendition_file_version=job.rendition_file_version,
        error_message=job.error_message if job.state == JobState.FAILED else "",
        mean_confidence=job.mean_confidence,
    )
    for field, value in (
        ("create_time", job.created_at),
        ("start_time", job.started_at),
        ("finish_time", job.finished_at),
    ):
        if value is not None:
            getattr(message, field).CopyFrom(to_timestamp(value))
    return message


class OcrService(_pb_grpc.OcrServiceServicer):
    """``hoso.ocr.v1.OcrService``.

    Args:
        sessions: Catalog session factory.
        settings: The ``[ocr]`` section.
        queue: The job queue.
        index: The text index.
        connection: The archive.
        runner: Background workers to stop on :meth:`close` (``None``: none here).
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: OcrSettings,
        queue: JobQueue,
        index: TextIndex,
        connection: ArchiveConnection,
        *,
        base_options: EngineOptions,
        runner: Any = None,
        grace_seconds: float = 0.0,
    ) -> None:
        self._sessions, self._settings, self._queue = sessions, settings, queue
        self._index, self._connection, self._base = index, connection, base_options
        self._runner, self._grace = runner, grace_seconds
        self._facts = DossierFacts(connection)
        self._rebuilder = IndexRebuilder(sessions, index, queue)

    async def drain(self, grace: float) -> None:
        """Stop claiming jobs and let running ones finish within ``grace`` (server shutdown,
        while the archive still answers)."""
        if self._runner is not None:
            await self._runner.stop(grace)

    async def close(self) -> None:
        """Stop the background workers (if not drained yet) and close the archive channel."""
        if self._runner is not None:
            await self._runner.stop(0)
        await self._connection.close()

    # -- jobs -------------------------------------------------------------------------------

    async def SubmitOcrJob(self, request: Any, context: Any) -> Any:
        name = _version_name(request.file_version)
        if not -10 <= request.priority <= 10:
            raise InvalidArgument("priority must be between -10 and 10", field="priority")
        options = self._options(request)
        stored = await self._stat(name)
        media = stored.media_type.split(";")[0].strip().lower()
        if media not in OCR_MEDIA_TYPES:
            raise FailedPrecondition(
                f"{name} is {media or 'of an unknown type'}; OCR reads PDF, TIFF, JPEG or PNG",
                field="file_version",
            )
        if media != "application/pdf":
            await self._check_dimensions(name, options)
        agency, procedure = await self._facts.of(stored.dossier)
        job, _ = await self._queue.enqueue(
            file_version=name,
            fingerprint=options.fingerprint(),
            options_json=json.dumps(
                {
                    "languages": options.languages,
                    "deskew": options.deskew,
                    "auto_rotate": options.auto_rotate,
                    "redo_pages_with_text": request.options.redo_pages_with_text,
                    "produce_pdfa": (
                        request.options.produce_pdfa if request.HasField("options") else True
                    ),
                }
            ),
            dossier=stored.dossier,
            agency=agency,
            procedure=procedure,
            component_type=component_name(stored.component_type),
            file_digest=stored.sha256,
            priority=request.priority,
            request_id=request.request_id or None,
            traceparent=current_traceparent() or "",
        )
        return _pb.SubmitOcrJobResponse(job=job_message(job))

    async def GetOcrJob(self, request: Any, context: Any) -> Any:
        job = await self._queue.get(_job_id(request.name))
        return _pb.GetOcrJobResponse(job=job_message(job, await self._pages(job.id)))

    async def ListOcrJobs(self, request: Any, context: Any) -> Any:
        size = page_size(request.page_size, default=_JOBS_DEFAULT, maximum=_JOBS_MAX)
        dossier = _dossier_filter(request.dossier)
        if request.state and request.state not in _STATE_OF:
            raise InvalidArgument(f"unknown state {request.state}", field="state")
        query = select(OcrJob)
        if request.state:
            query = query.where(OcrJob.state == _STATE_OF[request.state])
        if dossier:
            query = query.where(OcrJob.dossier == dossier)
        position = decode_token(request.page_token)
        if position is not None:
            try:
                after = datetime.fromisoformat(position["t"])
                after_id = str(position["i"])
            except (KeyError, TypeError, ValueError) as e:
                raise InvalidArgument(
                    "page_token is not one this server issued", field="page_token"
                ) from e
            query = query.where(
                or_(
                    OcrJob.created_at < after,
                    and_(OcrJob.created_at == after, OcrJob.id < after_id),
                )
            )
        query = query.order_by(OcrJob.created_at.desc(), OcrJob.id.desc()).limit(size + 1)
        async with self._sessions() as session:
            jobs = list(await session.scalars(query))
        token = ""
        if len(jobs) > size:
            jobs = jobs[:size]
            token = encode_token({"t": jobs[-1].created_at.isoformat(), "i": jobs[-1].id})
        return _pb.ListOcrJobsResponse(jobs=[job_message(j) for j in jobs], next_page_token=token)

    async def CancelOcrJob(self, request: Any, context: Any) -> Any:
        job_id = _job_id(request.name)
        before = await self._queue.get(job_id)
        if before.state in FINAL_STATES:
            raise FailedPrecondition(
                f"job {request.name} already ended ({before.state}); nothing to cancel",
                field="name",
            )
        job = await self._queue.cancel(job_id)
        return _pb.CancelOcrJobResponse(job=job_message(job))

    async def WatchOcrJob(self, request: Any, context: Any) -> AsyncIterator[Any]:
        job_id = _job_id(request.name)
        last: tuple[Any, ...] | None = None
        while True:
            job = await self._queue.get(job_id)
            final = job.state in FINAL_STATES
            seen = (job.state, job.pages_done, job.pages_total, job.attempts)
            if seen != last:
                pages = await self._pages(job.id) if final else None
                yield _pb.WatchOcrJobResponse(job=job_message(job, pages))
                last = seen
            if final:
                return
            # the queue lives in the database, which other processes update
            await asyncio.sleep(_WATCH_POLL_SECONDS)

    # -- text and search --------------------------------------------------------------------

    async def GetText(self, request: Any, context: Any) -> Any:
        name = _version_name(request.file_version)
        if request.first_page < 0 or request.last_page < 0:
            raise InvalidArgument("pages are 1-based; 0 means the default", field="first_page")
        async with self._sessions() as session:
            job = await session.scalar(
                select(OcrJob)
                .where(OcrJob.file_version == name, OcrJob.state == JobState.SUCCEEDED)
                .order_by(OcrJob.finished_at.desc(), OcrJob.id.desc())
                .limit(1)
            )
            if job is None:
                raise NotFound(
                    f"{name} has no OCR result; submit an OCR job first", field="file_version"
                )
            pages = list(
                await session.scalars(
                    select(OcrPage).where(OcrPage.job_id == job.id).order_by(OcrPage.page)
                )
            )
        count = len(pages)
        first = request.first_page or 1
        last = request.last_page or count
        if last < first:
            raise InvalidArgument("last_page must not be before first_page", field="last_page")
        if first > count or last > count:
            raise InvalidArgument(
                f"the document has {count} page(s); ask for pages 1..{count}",
                field="last_page" if first <= count else "first_page",
            )
        low = self._settings.low_confidence
        return _pb.GetTextResponse(
            pages=[
                self._page_message(p, request.include_words, low)
                for p in pages
                if first <= p.page <= last
            ],
            page_count=count,
        )

    async def Search(self, request: Any, context: Any) -> Any:
        query = parse_query(request.query)
        size = page_size(request.page_size, default=_SEARCH_DEFAULT, maximum=_SEARCH_MAX)
        start = optional_time(request, "receive_time_start")
        end = optional_time(request, "receive_time_end")
        if start and end and end < start:
            raise InvalidArgument(
                "receive_time_end is before receive_time_start", field="receive_time_end"
            )
        position = decode_token(request.page_token)
        offset = 0
        if position is not None:
            raw_offset = position.get("o")
            offset = raw_offset if isinstance(raw_offset, int) else -1
            if offset < 0 or offset > 100_000:
                raise InvalidArgument(
                    "page_token is not one this server issued", field="page_token"
                )
        filters = SearchFilters(
            dossier=_dossier_filter(request.dossier),
            agency=normalize_text(request.agency_code.strip()),
            procedure=normalize_text(request.procedure_code.strip()),
            component_type=request.component_type.strip().upper().removeprefix("COMPONENT_TYPE_"),
            archived_from=start,
            archived_until=end,
        )
        async with self._sessions() as session:
            found = await self._index.search(session, query, filters, limit=size, offset=offset)
        more = offset + len(found.hits) < found.total and len(found.hits) == size
        return _pb.SearchResponse(
            results=[
                _pb.SearchResult(
                    file_version=hit.file_version,
                    dossier=hit.dossier,
                    page=hit.page,
                    score=hit.score,
                    snippet=hit.snippet,
                    highlights=[_pb.Highlight(start=s, end=e) for s, e in hit.highlights],
                    exact_match=hit.exact,
                )
                for hit in found.hits
            ],
            next_page_token=encode_token({"o": offset + size}) if more else "",
            total_size=found.total,
        )

    async def RebuildIndex(self, request: Any, context: Any) -> Any:
        dossier = _dossier_filter(request.dossier)
        if self._rebuilder.running:
            raise AlreadyExists("an index rebuild is running; wait for it to finish")
        counts = await self._rebuilder.rebuild(dossier=dossier, reocr=request.reocr)
        return _pb.RebuildIndexResponse(**counts)

    # -- helpers ----------------------------------------------------------------------------

    def _options(self, request: Any) -> EngineOptions:
        from dataclasses import replace

        if not request.HasField("options"):
            return self._base
        wanted = [normalize_text(x.strip()) for x in request.options.languages if x.strip()]
        for language in wanted:
            if (
                not re.fullmatch(r"[A-Za-z0-9_]+", language)
                or not (self._settings.tessdata / f"{language}.traineddata").is_file()
            ):
                raise InvalidArgument(
                    f"language {language!r} is not installed; use e.g. 'vie' or 'eng'",
                    field="options.languages",
                )
        return replace(
            self._base,
            languages="+".join(wanted) if wanted else self._base.languages,
            deskew=request.options.deskew,
            auto_rotate=request.options.rotate,
        )

    async def _stat(self, name: str) -> Any:
        try:
            return await self._connection.client().stat_file(name)
        except grpc.aio.AioRpcError as e:
            raise translate_rpc_error(e, f"looking up {name}") from e

    async def _check_dimensions(self, name: str, options: EngineOptions) -> None:
        """Refuse an image whose header announces more pixels than allowed (a bomb)."""
        from PIL import Image

        try:
            _, head = await self._connection.client().read_file(name, length=_HEADER_BYTES)
        except grpc.aio.AioRpcError as e:
            raise translate_rpc_error(e, f"reading {name}") from e
        try:
            with Image.open(io.BytesIO(head)) as image:
                width, height = image.size
        except Image.DecompressionBombError as e:
            raise ResourceExhausted(
                f"{name} is too large to decode safely; lower the scan resolution",
                field="file_version",
            ) from e
        except Exception:
            return
        check_pixels(width, height, options.max_megapixels)

    async def _pages(self, job_id: str) -> list[OcrPage]:
        async with self._sessions() as session:
            return list(
                await session.scalars(
                    select(OcrPage).where(OcrPage.job_id == job_id).order_by(OcrPage.page)
                )
            )

    @staticmethod
    def _page_message(page: OcrPage, include_words: bool, low: float) -> _pb.PageText:
        message = _pb.PageText(
            page=page.page,
            text=page.text,
            mean_confidence=page.confidence,
            low_confidence=page.low_confidence,
            width_px=page.width,
            height_px=page.height,
            dpi=page.dpi,
            error=f"{page.error_code}: {page.error_message}" if page.error_code else "",
            from_text_layer=page.skipped,
        )
        if include_words:
            for word in json.loads(page.words_json or "[]"):
                left, top, right, bottom = word["box"]
                message.words.append(
                    _pb.Word(
                        text=word["text"],
                        confidence=word["confidence"],
                        box=_pb.BoundingBox(
                            left=left, top=top, width=right - left, height=bottom - top
                        ),
                    )
                )
        return message

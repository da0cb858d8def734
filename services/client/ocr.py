"""A small typed client for OCR jobs, text and search (``hoso.ocr.v1.OcrService``)."""

from __future__ import annotations

import asyncio
import unicodedata
import uuid
from collections.abc import AsyncIterator, Sequence

import grpc
from hoso.ocr.v1 import ocr_pb2 as _pb
from hoso.ocr.v1 import ocr_pb2_grpc as _pb_grpc

__all__ = ["TERMINAL_STATES", "OcrClient"]

#: States after which a job never changes again.
TERMINAL_STATES = frozenset(
    {_pb.JOB_STATE_SUCCEEDED, _pb.JOB_STATE_FAILED, _pb.JOB_STATE_CANCELLED}
)


class OcrClient:
    """Submit and follow OCR jobs; read recognised text; search it."""

    def __init__(self, channel: grpc.aio.Channel, *, timeout: float | None = None) -> None:
        """Wrap ``channel``; ``timeout`` (seconds) applies to unary calls."""
        self._stub = _pb_grpc.OcrServiceStub(channel)
        self._timeout = timeout

    async def submit(
        self,
        file_version: str,
        *,
        options: _pb.OcrOptions | None = None,
        priority: int = 0,
        request_id: str | None = None,
    ) -> _pb.Job:
        """Queue OCR of ``file_version`` (or get the existing job for the same content)."""
        request = _pb.SubmitOcrJobRequest(
            file_version=file_version,
            options=options,
            priority=priority,
            request_id=request_id or str(uuid.uuid4()),
        )
        return (await self._stub.SubmitOcrJob(request, timeout=self._timeout)).job

    async def get_job(self, name: str) -> _pb.Job:
        """The job ``jobs/{id}``."""
        response = await self._stub.GetOcrJob(
            _pb.GetOcrJobRequest(name=name), timeout=self._timeout
        )
        return response.job

    async def list_jobs(
        self, *, dossier: str = "", state: _pb.JobState.ValueType = _pb.JOB_STATE_UNSPECIFIED
    ) -> list[_pb.Job]:
        """Every job of ``dossier`` (or all) in ``state`` (or any), newest first."""
        request = _pb.ListOcrJobsRequest(dossier=dossier, state=state)
        out: list[_pb.Job] = []
        while True:
            response = await self._stub.ListOcrJobs(request, timeout=self._timeout)
            out.extend(response.jobs)
            if not response.next_page_token:
                return out
            request.page_token = response.next_page_token

    async def cancel(self, name: str) -> _pb.Job:
        """Cancel a queued or running job."""
        response = await self._stub.CancelOcrJob(
            _pb.CancelOcrJobRequest(name=name), timeout=self._timeout
        )
        return response.job

    async def watch(self, name: str, *, timeout: float | None = None) -> AsyncIterator[_pb.Job]:
        """Job snapshots as they change; ends after a terminal state (or at ``timeout``)."""
        stream = self._stub.WatchOcrJob(_pb.WatchOcrJobRequest(name=name), timeout=timeout)
        async for response in stream:
            yield response.job
            if response.job.state in TERMINAL_STATES:
                return

    async def wait(self, name: str, *, timeout: float) -> _pb.Job:
        """Follow the job until it is terminal; DEADLINE_EXCEEDED after ``timeout`` seconds."""
        last: _pb.Job | None = None
        try:
            async for job in self.watch(name, timeout=timeout):
                last = job
        except grpc.aio.AioRpcError as e:
            if e.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
                raise
        if last is None or last.state not in TERMINAL_STATES:
            raise TimeoutError(f"OCR job {name} did not finish within {timeout} s")
        return last

    async def wait_for_dossier(
        self, dossier: str, file_versions: Sequence[str], *, timeout: float, poll: float = 0.2
    ) -> list[_pb.Job]:
        """Wait until every version in ``file_versions`` has a terminal job in ``dossier``.

        Jobs made from the archive's outbox appear asynchronously: list them until each version
        has a job (bounded by ``timeout``), then follow each with :meth:`wait`.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        wanted = set(file_versions)
        jobs: dict[str, _pb.Job] = {}
        while True:
            for job in await self.list_jobs(dossier=dossier):
                if job.file_version in wanted and job.file_version not in jobs:
                    jobs[job.file_version] = job
            if wanted <= set(jobs):
                break
            if loop.time() >= deadline:
                missing = ", ".join(sorted(wanted - set(jobs)))
                raise TimeoutError(f"no OCR job appeared within {timeout} s for {missing}")
            await asyncio.sleep(poll)  # polling an external queue, bounded by the deadline
        done = []
        for version in file_versions:
            remaining = max(0.1, deadline - loop.time())
            done.append(await self.wait(jobs[version].name, timeout=remaining))
        return done

    async def get_text(
        self,
        file_version: str,
        *,
        first_page: int = 0,
        last_page: int = 0,
        include_words: bool = False,
    ) -> _pb.GetTextResponse:
        """Recognised text of pages of an OCR'd original."""
        request = _pb.GetTextRequest(
            file_version=file_version,
            first_page=first_page,
            last_page=last_page,
            include_words=include_words,
        )
        return await self._stub.GetText(request, timeout=self._timeout)

    async def search(
        self,
        query: str,
        *,
        dossier: str = "",
        agency_code: str = "",
        procedure_code: str = "",
        component_type: str = "",
        page_size: int = 0,
        page_token: str = "",
    ) -> _pb.SearchResponse:
        """One page of pages matching ``query`` (NFC-normalised here), best first."""
        request = _pb.SearchRequest(
            query=unicodedata.normalize("NFC", query),
            dossier=dossier,
            agency_code=agency_code,
            procedure_code=procedure_code,
            component_type=component_type,
            page_size=page_size,
            page_token=page_token,
        )
        return await self._stub.Search(request, timeout=self._timeout)

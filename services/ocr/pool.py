"""A bounded pool of OCR worker processes, each holding one :class:`OcrEngine`.

Pages are the unit of parallelism: a document's pages are spread over the processes and the
results merged in the parent. A page that fails (corrupt, too large, too slow) becomes a
:class:`PageOutcome` with an error instead of failing the document.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from hoso.ocr.engine import EngineOptions, OcrEngine, PageResult
from hoso.ocr.errors import HosoError, error_code_name
from hoso.ocr.pages import PageRef, load_page

__all__ = ["OcrPool", "PageOutcome", "ocr_page"]

_log = logging.getLogger(__name__)
_engine: OcrEngine | None = None


@dataclass(frozen=True)
class PageOutcome:
    """What happened to one page: a result, an error, or skipped (text layer present)."""

    index: int
    result: PageResult | None = None
    error_code: str | None = None
    error_message: str | None = None
    skipped: bool = False


def _start_worker(options: EngineOptions) -> None:
    """Pool initializer: one engine per process, OpenMP limited to one thread."""
    global _engine
    os.environ["OMP_THREAD_LIMIT"] = "1"
    _engine = OcrEngine(options)


def ocr_page(ref: PageRef, dpi: int, redo: bool) -> PageOutcome:
    """OCR one page with this process's engine; runs in a worker process.

    Never raises for a bad page: the error is returned so other pages go on.
    """
    if ref.has_text and not redo:
        return PageOutcome(index=ref.index, skipped=True)
    if _engine is None:  # called outside the pool (tests, a single-process CLI run)
        raise RuntimeError("ocr_page runs in an OcrPool worker")
    try:
        image, resolution = load_page(ref, dpi=dpi, max_megapixels=_engine.options.max_megapixels)
        return PageOutcome(index=ref.index, result=_engine.recognize(image, resolution))
    except HosoError as e:
        return PageOutcome(index=ref.index, error_code=e.code.name, error_message=e.message)
    except Exception as e:  # a page must never take the worker or the document down
        _log.exception("page %d of %s failed", ref.index + 1, ref.path)
        return PageOutcome(
            index=ref.index,
            error_code=error_code_name(e),
            error_message=f"page {ref.index + 1} could not be processed",
        )


class OcrPool:
    """Worker processes for OCR; an async context manager that owns and stops them.

    Args:
        options: Engine options for every worker.
        workers: Number of processes.
    """

    def __init__(self, options: EngineOptions, workers: int) -> None:
        self.options = options
        self.workers = workers
        # forkserver: forking a process that runs gRPC's event threads is unsafe.
        context = multiprocessing.get_context("forkserver")
        self._executor = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=context,
            initializer=_start_worker,
            initargs=(options,),
        )

    async def __aenter__(self) -> OcrPool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the worker processes."""
        self._executor.shutdown(wait=True, cancel_futures=True)

    async def run(self, ref: PageRef, *, dpi: int, redo: bool = False) -> PageOutcome:
        """OCR one page in a worker."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, ocr_page, ref, dpi, redo)

    def map(self, refs: Iterable[PageRef], *, dpi: int, redo: bool = False) -> list[PageOutcome]:
        """OCR pages synchronously (CLI and benchmarks), in page order."""
        refs = list(refs)
        return list(self._executor.map(ocr_page, refs, [dpi] * len(refs), [redo] * len(refs)))

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
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from hoso.ocr.engine import EngineOptions, OcrEngine, PageResult
from hoso.ocr.errors import HosoError, error_code_name
from hoso.ocr.pages import PageRef, load_page

__all__ = ["OcrPool", "PageOutcome", "PageRunner", "RuntimePool", "ocr_page", "ocr_page_with"]

_log = logging.getLogger(__name__)
_engine: OcrEngine | None = None
# Engines for options other than the pool's own (per-job languages, deskew, rotation), and
# every engine of a shared worker process (RuntimePool); a model costs ~100 MB, so few.
_engines: dict[EngineOptions, OcrEngine] = {}
_MAX_EXTRA_ENGINES = 2


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
    return _recognize(_engine, ref, dpi)


def ocr_page_with(options: EngineOptions, ref: PageRef, dpi: int, redo: bool) -> PageOutcome:
    """OCR one page with an engine for ``options``, made on first use in this process.

    Runs in any worker process: an :class:`OcrPool` worker (reusing its engine when the
    options are the pool's) or a worker of the server's shared pool.
    """
    if ref.has_text and not redo:
        return PageOutcome(index=ref.index, skipped=True)
    if _engine is not None and _engine.options == options:
        return _recognize(_engine, ref, dpi)
    engine = _engines.get(options)
    if engine is None:
        os.environ["OMP_THREAD_LIMIT"] = "1"
        while len(_engines) >= _MAX_EXTRA_ENGINES:
            _engines.pop(next(iter(_engines))).close()
        engine = _engines[options] = OcrEngine(options)
    return _recognize(engine, ref, dpi)


def _recognize(engine: OcrEngine, ref: PageRef, dpi: int) -> PageOutcome:
    try:
        image, resolution = load_page(ref, dpi=dpi, max_megapixels=engine.options.max_megapixels)
        return PageOutcome(index=ref.index, result=engine.recognize(image, resolution))
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

    def with_options(self, options: EngineOptions) -> PageRunner:
        """These processes, recognising with ``options`` (a job's own settings)."""
        if options == self.options:
            return self

        def submit(fn: Callable[..., PageOutcome], *args: object) -> Awaitable[PageOutcome]:
            return asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

        return RuntimePool(submit, options)

    def map(self, refs: Iterable[PageRef], *, dpi: int, redo: bool = False) -> list[PageOutcome]:
        """OCR pages synchronously (CLI and benchmarks), in page order."""
        refs = list(refs)
        return list(self._executor.map(ocr_page, refs, [dpi] * len(refs), [redo] * len(refs)))


class RuntimePool:
    """Pages OCR'd by a process pool someone else owns (the server's ``runtime.run_cpu``).

    Each worker process makes an engine for the options on first use and keeps it, so the
    ``vie`` model is loaded once per process, not per page.

    Args:
        run_cpu: ``await run_cpu(fn, *args)`` runs ``fn(*args)`` in a worker process.
        options: How pages are recognised.
    """

    def __init__(
        self, run_cpu: Callable[..., Awaitable[PageOutcome]], options: EngineOptions
    ) -> None:
        self._run_cpu = run_cpu
        self.options = options

    async def run(self, ref: PageRef, *, dpi: int, redo: bool = False) -> PageOutcome:
        """OCR one page in a worker process."""
        return await self._run_cpu(ocr_page_with, self.options, ref, dpi, redo)

    def with_options(self, options: EngineOptions) -> PageRunner:
        """The same processes, recognising with ``options``."""
        return RuntimePool(self._run_cpu, options)


#: What the worker and :func:`hoso.ocr.document.ocr_document_async` need of a pool.
PageRunner = OcrPool | RuntimePool

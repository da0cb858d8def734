"""The OCR pipeline for one document: plan pages, OCR them in the pool, build the rendition.

Used by the queue worker, the CLI and the benchmark alike, so all three measure and ship the
same thing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from hoso.ocr.pages import DocumentPlan, plan_pages
from hoso.ocr.pool import OcrPool, PageOutcome, PageRunner
from hoso.ocr.rendition import build_rendition, check_pdf

__all__ = ["DocumentOcr", "ocr_document", "ocr_document_async"]


@dataclass(frozen=True)
class DocumentOcr:
    """The outcome of OCR on a document."""

    plan: DocumentPlan
    outcomes: tuple[PageOutcome, ...]
    rendition: bytes | None
    """The searchable PDF/A, or ``None`` when no page could be read."""

    @property
    def failed_pages(self) -> list[PageOutcome]:
        """Pages that ended with an error."""
        return [o for o in self.outcomes if o.error_code]


def _finish(
    plan: DocumentPlan, outcomes: list[PageOutcome], pool: PageRunner, title: str
) -> DocumentOcr:
    outcomes.sort(key=lambda o: o.index)
    readable = any(o.result is not None or o.skipped for o in outcomes)
    rendition = None
    if readable:
        rendition = build_rendition(
            plan,
            outcomes,
            tessdata=Path(pool.options.tessdata),
            title=title,
            max_megapixels=pool.options.max_megapixels,
        )
        check_pdf(rendition)
    return DocumentOcr(plan=plan, outcomes=tuple(outcomes), rendition=rendition)


def ocr_document(
    path: Path, pool: OcrPool, *, dpi: int = 300, redo: bool = False, title: str = ""
) -> DocumentOcr:
    """OCR the file at ``path`` synchronously (CLI, benchmark).

    Raises:
        UnsupportedInput, CorruptInput, EncryptedPdf, PageTooLarge: The file as a whole.
    """
    plan = plan_pages(path)
    outcomes = pool.map(plan.pages, dpi=dpi, redo=redo)
    return _finish(plan, outcomes, pool, title)


async def ocr_document_async(
    path: Path,
    pool: PageRunner,
    *,
    dpi: int = 300,
    redo: bool = False,
    title: str = "",
    on_page: object = None,
    on_plan: object = None,
) -> DocumentOcr:
    """OCR the file at ``path`` without blocking the event loop.

    Args:
        on_page: Optional ``async`` callable given each :class:`PageOutcome` as it finishes
            (progress reporting).
        on_plan: Optional ``async`` callable given the :class:`DocumentPlan` before any page
            is OCR'd (the page count is known from then on).
    """
    plan = await asyncio.to_thread(plan_pages, path)
    if on_plan is not None:
        await on_plan(plan)  # type: ignore[operator]
    outcomes: list[PageOutcome] = []
    tasks = [asyncio.ensure_future(pool.run(ref, dpi=dpi, redo=redo)) for ref in plan.pages]
    try:
        for finished in asyncio.as_completed(tasks):
            outcome = await finished
            outcomes.append(outcome)
            if on_page is not None:
                await on_page(outcome)  # type: ignore[operator]
    finally:
        for task in tasks:
            task.cancel()
    return await asyncio.to_thread(_finish, plan, outcomes, pool, title)

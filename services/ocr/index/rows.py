"""The ``ocr_index_pages`` rows both index backends keep beside their full-text tables."""

from __future__ import annotations

from collections.abc import Sequence

from hoso.ocr.index.api import IndexedPage
from hoso.ocr.models import OcrIndexPage
from hoso.ocr.text import normalize_text
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["delete_pages", "upsert_page_rows"]


async def upsert_page_rows(session: AsyncSession, pages: Sequence[IndexedPage]) -> list[int]:
    """Insert or update one row per page; return their ids in the order of ``pages``."""
    ids: list[int] = []
    for page in pages:
        row = await session.scalar(
            select(OcrIndexPage).where(
                OcrIndexPage.file_version == page.file_version, OcrIndexPage.page == page.page
            )
        )
        if row is None:
            row = OcrIndexPage(file_version=page.file_version, page=page.page)
            session.add(row)
        row.text = normalize_text(page.text)
        row.dossier = page.dossier
        row.agency = page.agency
        row.procedure = page.procedure
        row.component_type = page.component_type
        row.archived_at = page.archived_at
        await session.flush()
        ids.append(row.id)
    return ids


async def delete_pages(session: AsyncSession, file_version: str) -> None:
    """Remove the rows of ``file_version``."""
    await session.execute(delete(OcrIndexPage).where(OcrIndexPage.file_version == file_version))

"""SQLite FTS5 text index (the embedded default).

``ocr_page_fts`` (made by the OCR migration) holds two columns per page: ``exact`` (lower-case
NFC words) and ``folded`` (the same words without diacritics, đ → d, which FTS5's
``remove_diacritics`` cannot do). Queries match ``folded``; an exact match ranks first.
"""

from __future__ import annotations

from collections.abc import Sequence

from hoso.ocr.index._common import filter_clauses
from hoso.ocr.index.api import (
    IndexedPage,
    ParsedQuery,
    SearchFilters,
    SearchHit,
    SearchResults,
    TextIndex,
    make_snippet,
    words_of,
)
from hoso.ocr.index.rows import delete_pages, upsert_page_rows
from hoso.ocr.text import fold
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["SqliteTextIndex", "match_expression"]


def match_expression(column: str, groups: tuple[tuple[str, ...], ...]) -> str:
    """An FTS5 MATCH string: every group a quoted phrase, all required, in ``column``.

    Groups hold only letters and digits (see :func:`parse_query`), so quoting is complete.
    """
    phrases = " AND ".join('"' + " ".join(group) + '"' for group in groups)
    return f"{{{column}}} : ({phrases})"


class SqliteTextIndex(TextIndex):
    """FTS5 index in the catalog's SQLite database."""

    async def upsert(self, session: AsyncSession, pages: Sequence[IndexedPage]) -> None:
        ids = await upsert_page_rows(session, pages)
        for page_id, page in zip(ids, pages, strict=True):
            words = words_of(page.text)
            await session.execute(
                text("DELETE FROM ocr_page_fts WHERE rowid = :id"), {"id": page_id}
            )
            await session.execute(
                text("INSERT INTO ocr_page_fts(rowid, exact, folded) VALUES (:id, :e, :f)"),
                {"id": page_id, "e": " ".join(words), "f": " ".join(fold(w) for w in words)},
            )

    async def delete_file(self, session: AsyncSession, file_version: str) -> None:
        await session.execute(
            text(
                "DELETE FROM ocr_page_fts WHERE rowid IN "
                "(SELECT id FROM ocr_index_pages WHERE file_version = :v)"
            ),
            {"v": file_version},
        )
        await delete_pages(session, file_version)

    async def clear(self, session: AsyncSession) -> None:
        await session.execute(text("DELETE FROM ocr_page_fts"))
        await session.execute(text("DELETE FROM ocr_index_pages"))

    async def search(
        self,
        session: AsyncSession,
        query: ParsedQuery,
        filters: SearchFilters,
        *,
        limit: int,
        offset: int,
    ) -> SearchResults:
        where, params = filter_clauses(filters)
        params |= {
            "folded": match_expression("folded", query.folded),
            "exact": match_expression("exact", query.exact),
            "limit": limit,
            "offset": offset,
        }
        base = (
            "FROM ocr_page_fts JOIN ocr_index_pages p ON p.id = ocr_page_fts.rowid "
            f"WHERE ocr_page_fts MATCH :folded{where}"
        )
        rows = await session.execute(
            text(
                "SELECT p.file_version, p.page, p.dossier, p.text, bm25(ocr_page_fts) AS score, "
                "p.id IN (SELECT rowid FROM ocr_page_fts WHERE ocr_page_fts MATCH :exact) "
                f"AS exact_hit {base} ORDER BY exact_hit DESC, score, p.id "
                "LIMIT :limit OFFSET :offset"
            ),
            params,
        )
        hits = []
        for version, page, dossier, page_text, score, exact_hit in rows:
            snippet, marks = make_snippet(page_text, query)
            hits.append(
                SearchHit(
                    file_version=version,
                    page=page,
                    score=-float(score),
                    snippet=snippet,
                    highlights=marks,
                    exact=bool(exact_hit),
                    dossier=dossier,
                )
            )
        total = await session.scalar(text(f"SELECT count(*) {base}"), params)
        return SearchResults(hits=tuple(hits), total=int(total or 0))

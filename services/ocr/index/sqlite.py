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
    matches_exactly,
    words_of,
)
from hoso.ocr.index.rows import delete_pages, upsert_page_rows
from hoso.ocr.text import fold
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["SqliteTextIndex", "match_expression"]

# An exact-diacritic hit (column 1) counts four times a folded one (column 2).
_BM25 = "bm25(ocr_page_fts, 4.0, 1.0)"


def match_expression(column: str, groups: tuple[tuple[str, ...], ...]) -> str:
    """An FTS5 MATCH string: every group a quoted phrase, all required, in ``column``.

    Groups hold only letters and digits (see :func:`parse_query`), so quoting is complete.
    """
    phrases = " AND ".join('"' + " ".join(group) + '"' for group in groups)
    return f"{{{column}}} : ({phrases})"


class SqliteTextIndex(TextIndex):
    """FTS5 index in the catalog's SQLite database.

    Args:
        candidates: Without filters, only the newest this many matching pages are ranked
            and counted (see :attr:`SearchResults.total_is_lower_bound`).
    """

    INSERT_SQL = "INSERT INTO ocr_page_fts(rowid, exact, folded) VALUES (:id, :e, :f)"
    """How one page's words enter the index (the benchmark bulk-loads with it too)."""

    def __init__(self, candidates: int = 1000) -> None:
        self.candidates = candidates

    async def upsert(self, session: AsyncSession, pages: Sequence[IndexedPage]) -> None:
        ids = await upsert_page_rows(session, pages)
        for page_id, page in zip(ids, pages, strict=True):
            words = words_of(page.text)
            await session.execute(
                text("DELETE FROM ocr_page_fts WHERE rowid = :id"), {"id": page_id}
            )
            await session.execute(
                text(self.INSERT_SQL),
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
        # One MATCH over both columns: bm25 weighs an exact-diacritic hit above a folded one.
        params |= {
            "match": f"({match_expression('folded', query.folded)}) OR "
            f"({match_expression('exact', query.exact)})",
            "limit": limit,
            "offset": offset,
            "candidates": self.candidates,
        }
        if where:
            base = (
                "FROM ocr_page_fts JOIN ocr_index_pages p ON p.id = ocr_page_fts.rowid "
                f"WHERE ocr_page_fts MATCH :match{where}"
            )
            sql = (
                f"SELECT p.file_version, p.page, p.dossier, p.text, {_BM25} AS score {base} "
                "ORDER BY score, p.id LIMIT :limit OFFSET :offset"
            )
            count_sql = f"SELECT count(*) FROM (SELECT 1 {base} LIMIT :candidates)"
        else:
            # Ranking every match of a common word costs O(matches); rank the newest
            # candidates only, which keeps latency flat as the archive grows.
            candidates = (
                f"SELECT rowid AS id, {_BM25} AS score FROM ocr_page_fts "
                "WHERE ocr_page_fts MATCH :match ORDER BY rowid DESC LIMIT :candidates"
            )
            sql = (
                f"SELECT p.file_version, p.page, p.dossier, p.text, c.score FROM ({candidates}) c "
                "JOIN ocr_index_pages p ON p.id = c.id ORDER BY c.score, p.id "
                "LIMIT :limit OFFSET :offset"
            )
            count_sql = (
                "SELECT count(*) FROM (SELECT 1 FROM ocr_page_fts WHERE ocr_page_fts MATCH "
                ":match LIMIT :candidates)"
            )
        rows = await session.execute(text(sql), params)
        hits = []
        for version, page, dossier, page_text, score in rows:
            snippet, marks = make_snippet(page_text, query)
            hits.append(
                SearchHit(
                    file_version=version,
                    page=page,
                    score=-float(score),
                    snippet=snippet,
                    highlights=marks,
                    exact=matches_exactly(page_text, query),
                    dossier=dossier,
                )
            )
        total = int(await session.scalar(text(count_sql), params) or 0)
        return SearchResults(
            hits=tuple(hits), total=total, total_is_lower_bound=total >= self.candidates
        )

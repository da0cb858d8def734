"""PostgreSQL full-text index (server mode).

``ocr_page_fts`` (made by the OCR migration) keeps two ``tsvector`` columns per page with GIN
indexes: ``exact`` and ``folded``. Folding happens in Python with the same function as the
SQLite backend (:func:`hoso.ocr.text.fold`, which also maps đ → d), so both backends agree
word for word; the migration still installs ``unaccent`` for ad-hoc SQL on the text.
"""

from __future__ import annotations

from collections.abc import Sequence

from hoso.ocr.index._common import SqlTextIndex, capped_count, filter_clauses, tier_window
from hoso.ocr.index.api import (
    IndexedPage,
    ParsedQuery,
    SearchFilters,
    SearchResults,
    words_of,
)
from hoso.ocr.index.rows import upsert_page_rows
from hoso.ocr.text import fold
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["PostgresTextIndex", "tsquery_text"]


def tsquery_text(groups: tuple[tuple[str, ...], ...]) -> str:
    """A ``to_tsquery`` string: phrases joined by ``<->``, groups by ``&``.

    Words hold only letters and digits (see :func:`parse_query`), quoted as lexemes.
    """
    return " & ".join("(" + " <-> ".join(f"'{w}'" for w in group) + ")" for group in groups)


class PostgresTextIndex(SqlTextIndex):
    """``tsvector`` index in the catalog's PostgreSQL database.

    Args:
        candidates: Matching pages are counted up to this many (see
            :attr:`SearchResults.total_is_lower_bound`).
    """

    FTS_ID = "id"

    BULK_INSERT_SQL = (
        "INSERT INTO ocr_page_fts(id, exact, folded) SELECT id, to_tsvector('simple', e), "
        "to_tsvector('simple', f) FROM staging"
    )
    """How the benchmark bulk-loads ``staging(id, e, f)`` (exact and folded words)."""

    async def upsert(self, session: AsyncSession, pages: Sequence[IndexedPage]) -> None:
        ids = await upsert_page_rows(session, pages)
        for page_id, page in zip(ids, pages, strict=True):
            words = words_of(page.text)
            await session.execute(
                text(
                    "INSERT INTO ocr_page_fts(id, exact, folded) VALUES "
                    "(:id, to_tsvector('simple', :e), to_tsvector('simple', :f)) "
                    "ON CONFLICT (id) DO UPDATE SET exact = excluded.exact, "
                    "folded = excluded.folded"
                ),
                {"id": page_id, "e": " ".join(words), "f": " ".join(fold(w) for w in words)},
            )

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
            "folded": tsquery_text(query.folded),
            "exact": tsquery_text(query.exact),
            "need": offset + limit,
        }
        source = "ocr_page_fts f" + (" JOIN ocr_index_pages p ON p.id = f.id" if where else "")

        def matches(column: str) -> str:
            return f"FROM {source} WHERE f.{column} @@ to_tsquery('simple', :{column}){where}"

        def newest(column: str) -> str:
            return f"SELECT f.id {matches(column)} ORDER BY f.id DESC LIMIT :need"

        tiered = query.exact != query.folded
        return await self._ranked(
            session,
            query,
            params,
            window=tier_window(newest, tiered),
            count=capped_count(newest("folded"), f"SELECT 1 {matches('folded')}"),
            tiered=tiered,
            limit=limit,
            offset=offset,
        )

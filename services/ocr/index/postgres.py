"""PostgreSQL full-text index (server mode).

``ocr_page_fts`` (made by the OCR migration) keeps two ``tsvector`` columns per page with GIN
indexes: ``exact`` and ``folded``. Folding happens in Python with the same function as the
SQLite backend (:func:`hoso.ocr.text.fold`, which also maps đ → d), so both backends agree
word for word; the migration still installs ``unaccent`` for ad-hoc SQL on the text.
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

__all__ = ["PostgresTextIndex", "tsquery_text"]


def tsquery_text(groups: tuple[tuple[str, ...], ...]) -> str:
    """A ``to_tsquery`` string: phrases joined by ``<->``, groups by ``&``.

    Words hold only letters and digits (see :func:`parse_query`), quoted as lexemes.
    """
    return " & ".join("(" + " <-> ".join(f"'{w}'" for w in group) + ")" for group in groups)


class PostgresTextIndex(TextIndex):
    """``tsvector`` index in the catalog's PostgreSQL database.

    Args:
        candidates: Matching pages are counted up to this many (see
            :attr:`SearchResults.total_is_lower_bound`).
    """

    def __init__(self, candidates: int = 1000) -> None:
        self.candidates = candidates

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

    async def delete_file(self, session: AsyncSession, file_version: str) -> None:
        await session.execute(
            text(
                "DELETE FROM ocr_page_fts WHERE id IN "
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
        need = offset + limit
        params |= {
            "folded": tsquery_text(query.folded),
            "exact": tsquery_text(query.exact),
            "need": need,
            "offset": offset,
            "last": need - 1,
            "candidates": self.candidates,
        }
        source = "ocr_page_fts f" + (" JOIN ocr_index_pages p ON p.id = f.id" if where else "")

        def matches(column: str) -> str:
            return f"FROM {source} WHERE f.{column} @@ to_tsquery('simple', :{column}){where}"

        def newest(column: str) -> str:
            return f"SELECT f.id {matches(column)} ORDER BY f.id DESC LIMIT :need"

        # The same ranking as the SQLite backend: exact-diacritic pages first, then the other
        # folded matches, each newest first; each tier reads at most offset + limit rows (if
        # fewer exact pages exist the exact list is complete and is subtracted), and the
        # count stops at ``candidates``, so common words cost no more than rare ones.
        tiered = query.exact != query.folded
        if tiered:
            window = (
                f"WITH e AS ({newest('exact')}), fo AS ({newest('folded')}) "
                "SELECT id, 2 AS tier FROM e UNION ALL "
                "SELECT id, 1 FROM fo WHERE id NOT IN (SELECT id FROM e)"
            )
        else:
            window = f"SELECT id, 1 AS tier FROM ({newest('folded')}) fo"
        count = (
            f"(SELECT CASE WHEN (SELECT count(*) FROM ({newest('folded')}) n) < :need "
            f"THEN -1 ELSE (SELECT count(*) FROM (SELECT 1 {matches('folded')} "
            "LIMIT :candidates) c) END)"
        )
        rows = (
            await session.execute(
                text(
                    "SELECT c.id, c.tier, p.file_version, p.page, p.dossier, "
                    f"CASE WHEN c.rank BETWEEN :offset AND :last THEN p.text END, {count} FROM "
                    "(SELECT id, tier, row_number() OVER (ORDER BY tier DESC, id DESC) - 1 "
                    f"AS rank FROM ({window}) w) c JOIN ocr_index_pages p ON p.id = c.id "
                    "ORDER BY c.rank"
                ),
                params,
            )
        ).all()
        hits = []
        for rank, (_, tier, version, page, dossier, page_text, _) in enumerate(rows):
            if page_text is None:
                continue
            snippet, marks = make_snippet(page_text, query)
            hits.append(
                SearchHit(
                    file_version=version,
                    page=page,
                    score=float(tier) + 1.0 / (rank + 2),
                    snippet=snippet,
                    highlights=marks,
                    exact=tier == 2 if tiered else matches_exactly(page_text, query),
                    dossier=dossier,
                )
            )
        counted = int(rows[0][-1]) if rows else -1
        if counted < 0:
            return SearchResults(hits=tuple(hits), total=len({row[0] for row in rows}))
        return SearchResults(
            hits=tuple(hits), total=counted, total_is_lower_bound=counted >= self.candidates
        )

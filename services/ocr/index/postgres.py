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
    """``tsvector`` index in the catalog's PostgreSQL database."""

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
        params |= {
            "folded": tsquery_text(query.folded),
            "exact": tsquery_text(query.exact),
            "limit": limit,
            "offset": offset,
        }
        base = (
            "FROM ocr_page_fts f JOIN ocr_index_pages p ON p.id = f.id "
            f"WHERE f.folded @@ to_tsquery('simple', :folded){where}"
        )
        rows = await session.execute(
            text(
                "SELECT p.file_version, p.page, p.dossier, p.text, "
                "ts_rank(f.folded, to_tsquery('simple', :folded)) AS score, "
                "f.exact @@ to_tsquery('simple', :exact) AS exact_hit "
                f"{base} ORDER BY exact_hit DESC, score DESC, p.id "
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
                    score=float(score),
                    snippet=snippet,
                    highlights=marks,
                    exact=bool(exact_hit),
                    dossier=dossier,
                )
            )
        total = await session.scalar(text(f"SELECT count(*) {base}"), params)
        return SearchResults(hits=tuple(hits), total=int(total or 0))

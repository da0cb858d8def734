"""SQLite FTS5 text index (the embedded default).

``ocr_page_fts`` (made by the OCR migration) holds two columns per page: ``exact`` (lower-case
NFC words) and ``folded`` (the same words without diacritics, đ → d, which FTS5's
``remove_diacritics`` cannot do). Queries match ``folded``; pages that also match ``exact``
(when the query has diacritics) rank first, and within each tier the newest page first.

Latency stays flat as the archive grows because no step reads every match: each tier stops
after ``offset + limit`` rows (FTS5 walks rowids newest first), the count stops at
``candidates``, snippets are made for the returned page only, and a selective filter is walked
from its own index, probing FTS5 by rowid. bm25 is not used: its IDF reads every match of
every query word, which was most of the cost on common words.
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


def match_expression(column: str, groups: tuple[tuple[str, ...], ...]) -> str:
    """An FTS5 MATCH string: every group a quoted phrase, all required, in ``column``.

    Groups hold only letters and digits (see :func:`parse_query`), so quoting is complete.
    """
    phrases = " AND ".join('"' + " ".join(group) + '"' for group in groups)
    return f"{{{column}}} : ({phrases})"


class SqliteTextIndex(TextIndex):
    """FTS5 index in the catalog's SQLite database.

    Args:
        candidates: Matching pages are counted up to this many (see
            :attr:`SearchResults.total_is_lower_bound`); a filter passed by fewer pages than
            this is walked from its index.
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
        need = offset + limit
        params |= {"folded": match_expression("folded", query.folded), "need": need}
        if not where:
            source, newest = "ocr_page_fts", "ocr_page_fts.rowid"
        elif await self._filter_is_selective(session, where, params):
            # Few pages pass the filter: walk them and probe the FTS table by rowid.
            source = "ocr_index_pages p CROSS JOIN ocr_page_fts ON ocr_page_fts.rowid = p.id"
            newest = "p.id"
        else:
            # FTS5 yields rowids newest first by itself; the join only checks the filter.
            source = "ocr_page_fts JOIN ocr_index_pages p ON p.id = ocr_page_fts.rowid"
            newest = "ocr_page_fts.rowid"

        def newest_matches(match: str) -> str:
            return (
                f"SELECT {newest} AS id FROM {source} WHERE ocr_page_fts MATCH :{match}{where} "
                f"ORDER BY {newest} DESC LIMIT :need"
            )

        # Two tiers, each newest first: pages with the query's exact diacritics, then the
        # other folded matches. Each tier reads at most offset + limit matches: if fewer
        # exact pages exist, the exact list is complete and can be subtracted from the
        # folded one; if not, the folded tier is not shown on this page at all.
        tiered = query.exact != query.folded
        if tiered:
            params["exact"] = match_expression("exact", query.exact)
            window = (
                f"WITH e AS ({newest_matches('exact')}), f AS ({newest_matches('folded')}) "
                "SELECT id, 2 AS tier FROM e UNION ALL "
                "SELECT id, 1 FROM f WHERE id NOT IN (SELECT id FROM e)"
            )
        else:
            window = f"SELECT id, 1 AS tier FROM ({newest_matches('folded')})"
        # The count runs only when the window did not already see every folded match.
        count = (
            f"(SELECT CASE WHEN (SELECT count(*) FROM ({newest_matches('folded')})) < :need "
            f"THEN -1 ELSE (SELECT count(*) FROM (SELECT 1 FROM {source} WHERE ocr_page_fts "
            f"MATCH :folded{where} LIMIT :candidates)) END)"
        )
        await self._tune_connection(session)
        rows = (
            await session.execute(
                text(
                    f"SELECT c.id, c.tier, p.file_version, p.page, p.dossier, "
                    f"CASE WHEN c.rank BETWEEN :offset AND :last THEN p.text END, {count} FROM "
                    f"(SELECT id, tier, row_number() OVER (ORDER BY tier DESC, id DESC) - 1 "
                    f"AS rank FROM ({window})) c JOIN ocr_index_pages p ON p.id = c.id "
                    "ORDER BY c.rank"
                ),
                params | {"offset": offset, "last": need - 1, "candidates": self.candidates},
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
                    # Higher is better, as in the PostgreSQL backend: tier first, then recency.
                    score=float(tier) + 1.0 / (rank + 2),
                    snippet=snippet,
                    highlights=marks,
                    exact=tier == 2 if tiered else matches_exactly(page_text, query),
                    dossier=dossier,
                )
            )
        counted = int(rows[0][-1]) if rows else -1
        if counted < 0:
            # Every folded match was read (exact pages are folded matches too): an exact count.
            return SearchResults(hits=tuple(hits), total=len({row[0] for row in rows}))
        return SearchResults(
            hits=tuple(hits), total=counted, total_is_lower_bound=counted >= self.candidates
        )

    @staticmethod
    async def _tune_connection(session: AsyncSession) -> None:
        """Map the database file and widen the page cache, once per pooled connection.

        FTS5 reads many b-tree pages per query; through ``mmap`` they come from the OS page
        cache without a ``read`` call each.
        """
        connection = await session.connection()
        if connection.info.get("hoso_ocr_index_tuned"):
            return
        await connection.exec_driver_sql("PRAGMA mmap_size = 268435456")
        await connection.exec_driver_sql("PRAGMA cache_size = -32768")
        connection.info["hoso_ocr_index_tuned"] = True

    async def _filter_is_selective(
        self, session: AsyncSession, where: str, params: dict[str, object]
    ) -> bool:
        """Whether fewer than :attr:`candidates` pages pass the filter (an indexed, capped count)."""
        passing = await session.scalar(
            text(
                "SELECT count(*) FROM (SELECT 1 FROM ocr_index_pages p WHERE 1"
                f"{where} LIMIT :candidates)"
            ),
            params | {"candidates": self.candidates},
        )
        return int(passing or 0) < self.candidates

"""SQLite FTS5 text index (the embedded default).

``ocr_page_fts`` (made by the OCR migrations) holds three columns per page: ``exact``
(lower-case NFC words), ``folded`` (the same words without diacritics, đ → d, which FTS5's
``remove_diacritics`` cannot do) and ``pairs``, the keys of adjacent word pairs in both forms
(see :func:`hoso.ocr.index.api.pair_keys`) that phrases are found through. Queries match
``folded``; pages that also match ``exact`` (when the query has diacritics) rank first, and
within each tier the newest page first.

Latency stays flat as the archive grows because no step reads every match: each tier stops
after ``offset + limit`` rows (FTS5 walks rowids newest first), the count stops at
``candidates``, snippets are made for the returned page only, and a selective filter is walked
from its own index, probing FTS5 by rowid. bm25 is not used: its IDF reads every match of
every query word, which was most of the cost on common words.
"""

from __future__ import annotations

from collections.abc import Sequence

from hoso.ocr.index._common import SqlTextIndex, capped_count, filter_clauses, tier_window
from hoso.ocr.index.api import (
    IndexedPage,
    ParsedQuery,
    SearchFilters,
    SearchResults,
    TierTerms,
    page_terms,
    tier_terms,
)
from hoso.ocr.index.rows import upsert_page_rows
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["SqliteTextIndex", "match_expression"]


def match_expression(column: str, terms: TierTerms) -> str:
    """An FTS5 MATCH string requiring every term of one tier: words in ``column``, pair keys
    in ``pairs``, and long phrases (whose pairs could be scattered) as phrases in ``column``.

    Terms hold only letters, digits and ``_`` (see :func:`parse_query`), so quoting is
    complete; the tokenizer keeps ``_`` inside a token.
    """
    parts = []
    for target, phrases in (
        (column, [(w,) for w in terms.words]),
        ("pairs", [(k,) for k in terms.pairs]),
        (column, list(terms.long_phrases)),
    ):
        if phrases:
            quoted = " AND ".join('"' + " ".join(p) + '"' for p in phrases)
            parts.append(f"{{{target}}} : ({quoted})")
    return " AND ".join(parts)


class SqliteTextIndex(SqlTextIndex):
    """FTS5 index in the catalog's SQLite database.

    Args:
        candidates: Matching pages are counted up to this many (see
            :attr:`SearchResults.total_is_lower_bound`); a filter passed by fewer pages than
            this is walked from its index.
    """

    INSERT_SQL = "INSERT INTO ocr_page_fts(rowid, exact, folded, pairs) VALUES (:id, :e, :f, :p)"
    """How one page's words enter the index (the benchmark bulk-loads with it too)."""

    FTS_ID = "rowid"

    async def upsert(self, session: AsyncSession, pages: Sequence[IndexedPage]) -> None:
        ids = await upsert_page_rows(session, pages)
        for page_id, page in zip(ids, pages, strict=True):
            terms = page_terms(page.text)
            await session.execute(
                text("DELETE FROM ocr_page_fts WHERE rowid = :id"), {"id": page_id}
            )
            await session.execute(
                text(self.INSERT_SQL),
                {
                    "id": page_id,
                    "e": terms.exact,
                    "f": terms.folded,
                    "p": " ".join(terms.pairs),
                },
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
            "folded": match_expression("folded", tier_terms(query.folded)),
            "need": offset + limit,
        }
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

        tiered = query.exact != query.folded
        if tiered:
            params["exact"] = match_expression("exact", tier_terms(query.exact))
        await self._tune_connection(session)
        return await self._ranked(
            session,
            query,
            params,
            window=tier_window(newest_matches, tiered),
            count=capped_count(
                newest_matches("folded"),
                f"SELECT 1 FROM {source} WHERE ocr_page_fts MATCH :folded{where}",
            ),
            tiered=tiered,
            limit=limit,
            offset=offset,
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

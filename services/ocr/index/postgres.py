"""PostgreSQL full-text index (server mode).

``ocr_page_fts`` (made by the OCR migrations) keeps per page the ``exact`` and ``folded`` words
twice: without positions (``*_words``, GIN-indexed, where words are matched: kept in the row)
and with positions (to confirm phrases of three or more words); and ``pairs``, the keys of
adjacent word pairs (both forms, see :func:`hoso.ocr.index.api.pair_keys`, GIN-indexed) that
phrases are found through. Folding happens in Python with the same function as the SQLite
backend (:func:`hoso.ocr.text.fold`, which also maps đ → d), so both backends agree word for
word; the migration still installs ``unaccent`` for ad-hoc SQL on the text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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

__all__ = ["PostgresTextIndex", "tsquery_text"]


def tsquery_text(groups: Sequence[Sequence[str]]) -> str:
    """A ``tsquery`` string: phrases joined by ``<->``, groups by ``&``.

    Words and pair keys hold only letters, digits and ``_`` (see :func:`parse_query`), quoted
    as lexemes.
    """
    return " & ".join("(" + " <-> ".join(f"'{w}'" for w in group) + ")" for group in groups)


def match_conditions(column: str, terms: TierTerms) -> tuple[str, dict[str, Any]]:
    """SQL ``AND …`` conditions on ``f`` for one tier's terms, and their bound values.

    Words use the GIN index of ``{column}_words`` and pair keys the one of ``pairs``. A long phrase
    is confirmed with ``ts_match_vq``, the function behind ``@@``: as a function call it is
    never used as an index condition, so the planner does not AND the few candidate pages the
    pairs found with the huge position-less match of common words.
    """
    clauses: list[str] = []
    params: dict[str, Any] = {}
    if terms.words:
        clauses.append(f"f.{column}_words @@ to_tsquery('simple', :{column}_words)")
        params[f"{column}_words"] = tsquery_text([(w,) for w in terms.words])
    if terms.pairs:
        # A cast, not to_tsquery: the text parser would split a key at its "_".
        clauses.append(f"f.pairs @@ CAST(:{column}_pairs AS tsquery)")
        params[f"{column}_pairs"] = tsquery_text([(k,) for k in terms.pairs])
    if terms.long_phrases:
        clauses.append(f"ts_match_vq(f.{column}, to_tsquery('simple', :{column}_long))")
        params[f"{column}_long"] = tsquery_text(terms.long_phrases)
    return "".join(f" AND {c}" for c in clauses), params


class PostgresTextIndex(SqlTextIndex):
    """``tsvector`` index in the catalog's PostgreSQL database.

    Args:
        candidates: Matching pages are counted up to this many (see
            :attr:`SearchResults.total_is_lower_bound`).
    """

    FTS_ID = "id"

    _VALUES = (
        "to_tsvector('simple', {e}), to_tsvector('simple', {f}), "
        "strip(to_tsvector('simple', {e})), strip(to_tsvector('simple', {f})), "
        "array_to_tsvector({p})"
    )
    _COLUMNS = "id, exact, folded, exact_words, folded_words, pairs"

    BULK_INSERT_SQL = (
        f"INSERT INTO ocr_page_fts({_COLUMNS}) SELECT id, "
        f"{_VALUES.format(e='e', f='f', p='p')} FROM staging"
    )
    """How the benchmark bulk-loads ``staging(id, e, f, p)`` (exact and folded words, pairs)."""

    async def upsert(self, session: AsyncSession, pages: Sequence[IndexedPage]) -> None:
        ids = await upsert_page_rows(session, pages)
        for page_id, page in zip(ids, pages, strict=True):
            terms = page_terms(page.text)
            await session.execute(
                text(
                    f"INSERT INTO ocr_page_fts({self._COLUMNS}) VALUES (:id, "
                    f"{self._VALUES.format(e=':e', f=':f', p='CAST(:p AS text[])')}) "
                    "ON CONFLICT (id) DO UPDATE SET exact = excluded.exact, "
                    "folded = excluded.folded, exact_words = excluded.exact_words, "
                    "folded_words = excluded.folded_words, pairs = excluded.pairs"
                ),
                {"id": page_id, "e": terms.exact, "f": terms.folded, "p": list(terms.pairs)},
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
        # psycopg prepares a statement run five times, and PostgreSQL may then plan it once for
        # any words; how common the words are decides between walking the newest pages and
        # reading the index, so each search is planned for its own words.
        await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
        where, params = filter_clauses(filters)
        params["need"] = offset + limit
        conditions = {}
        for column, groups in (("exact", query.exact), ("folded", query.folded)):
            conditions[column], tier_params = match_conditions(column, tier_terms(groups))
            params |= tier_params
        source = "ocr_page_fts f" + (" JOIN ocr_index_pages p ON p.id = f.id" if where else "")

        def matches(column: str) -> str:
            return f"FROM {source} WHERE TRUE{conditions[column]}{where}"

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

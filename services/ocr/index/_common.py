"""Pieces both SQL index backends share: filter clauses, the tiered window and the ranking.

Both backends rank the same way: pages with the query's exact diacritics first, then the other
folded matches, each tier newest first. Each tier reads at most ``offset + limit`` rows (if
fewer exact pages exist the exact list is complete and is subtracted from the folded one), and
the count stops at ``candidates``, so common words cost no more than rare ones. Only how a
backend finds the newest matches of one column differs; that is what it passes in here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from hoso.ocr.index.api import (
    ParsedQuery,
    SearchFilters,
    SearchHit,
    SearchResults,
    TextIndex,
    make_snippet,
    matches_exactly,
)
from hoso.ocr.index.rows import delete_pages
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["SqlTextIndex", "capped_count", "filter_clauses", "tier_window"]


def filter_clauses(filters: SearchFilters) -> tuple[str, dict[str, Any]]:
    """SQL ``AND …`` conditions on ``p`` (``ocr_index_pages``) and their bound values."""
    clauses: list[str] = []
    params: dict[str, Any] = {}
    for column in ("dossier", "agency", "procedure", "component_type"):
        value = getattr(filters, column)
        if value:
            clauses.append(f"p.{column} = :{column}")
            params[column] = value
    if filters.archived_from is not None:
        clauses.append("p.archived_at >= :archived_from")
        params["archived_from"] = filters.archived_from
    if filters.archived_until is not None:
        clauses.append("p.archived_at < :archived_until")
        params["archived_until"] = filters.archived_until
    return "".join(f" AND {c}" for c in clauses), params


def tier_window(newest: Callable[[str], str], tiered: bool) -> str:
    """The ``(id, tier)`` rows of one page window: exact matches (tier 2), then folded (1).

    Args:
        newest: Gives the SQL of the newest ``:need`` page ids matching one column
            (``"exact"`` or ``"folded"``), selected as ``id``.
        tiered: Whether the query has diacritics (otherwise exact and folded are the same).
    """
    if tiered:
        return (
            f"WITH e AS ({newest('exact')}), fo AS ({newest('folded')}) "
            "SELECT id, 2 AS tier FROM e UNION ALL "
            "SELECT id, 1 FROM fo WHERE id NOT IN (SELECT id FROM e)"
        )
    return f"SELECT id, 1 AS tier FROM ({newest('folded')}) fo"


def capped_count(newest_folded: str, all_folded: str) -> str:
    """A scalar subquery: -1 when the window saw every folded match, else a capped count.

    Args:
        newest_folded: The newest ``:need`` folded matches (as given to :func:`tier_window`).
        all_folded: Selects one row per folded match (capped here at ``:candidates``).
    """
    return (
        f"(SELECT CASE WHEN (SELECT count(*) FROM ({newest_folded}) n) < :need "
        f"THEN -1 ELSE (SELECT count(*) FROM ({all_folded} LIMIT :candidates) c) END)"
    )


class SqlTextIndex(TextIndex):
    """A full-text table ``ocr_page_fts`` keyed by the id of its ``ocr_index_pages`` row.

    Args:
        candidates: Matching pages are counted up to this many (see
            :attr:`SearchResults.total_is_lower_bound`).
    """

    FTS_ID: ClassVar[str]
    """The column of ``ocr_page_fts`` that holds the page row's id."""

    def __init__(self, candidates: int = 1000) -> None:
        self.candidates = candidates

    async def delete_file(self, session: AsyncSession, file_version: str) -> None:
        await session.execute(
            text(
                f"DELETE FROM ocr_page_fts WHERE {self.FTS_ID} IN "
                "(SELECT id FROM ocr_index_pages WHERE file_version = :v)"
            ),
            {"v": file_version},
        )
        await delete_pages(session, file_version)

    async def clear(self, session: AsyncSession) -> None:
        await session.execute(text("DELETE FROM ocr_page_fts"))
        await session.execute(text("DELETE FROM ocr_index_pages"))

    async def _ranked(
        self,
        session: AsyncSession,
        query: ParsedQuery,
        params: dict[str, Any],
        *,
        window: str,
        count: str,
        tiered: bool,
        limit: int,
        offset: int,
    ) -> SearchResults:
        """Run ``window`` and ``count`` and turn the page of rows into hits with snippets.

        Every row of the window comes back (for an exact total when the count is -1), but
        page text, and so a snippet, only for the ``limit`` rows from ``offset``.
        """
        rows = (
            await session.execute(
                text(
                    "SELECT c.id, c.tier, p.file_version, p.page, p.dossier, "
                    f"CASE WHEN c.rank BETWEEN :offset AND :last THEN p.text END, {count} FROM "
                    "(SELECT id, tier, row_number() OVER (ORDER BY tier DESC, id DESC) - 1 "
                    f"AS rank FROM ({window}) w) c JOIN ocr_index_pages p ON p.id = c.id "
                    "ORDER BY c.rank"
                ),
                params
                | {"offset": offset, "last": offset + limit - 1, "candidates": self.candidates},
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
                    # Higher is better: tier first, then recency.
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

"""The full-text index of OCR text: one interface, SQLite FTS5 and PostgreSQL backends."""

from __future__ import annotations

from hoso.ocr.index.api import (
    IndexedPage,
    ParsedQuery,
    SearchFilters,
    SearchHit,
    SearchResults,
    TextIndex,
    make_snippet,
    parse_query,
)

__all__ = [
    "IndexedPage",
    "ParsedQuery",
    "SearchFilters",
    "SearchHit",
    "SearchResults",
    "TextIndex",
    "make_snippet",
    "open_index",
    "parse_query",
]


def open_index(dialect: str) -> TextIndex:
    """The index backend for a catalog database of ``dialect`` ("sqlite" or "postgresql")."""
    if dialect == "postgresql":
        from hoso.ocr.index.postgres import PostgresTextIndex

        return PostgresTextIndex()
    from hoso.ocr.index.sqlite import SqliteTextIndex

    return SqliteTextIndex()

"""Pieces both index backends share: the page table rows and filter clauses."""

from __future__ import annotations

from typing import Any

from hoso.ocr.index.api import SearchFilters

__all__ = ["filter_clauses"]


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

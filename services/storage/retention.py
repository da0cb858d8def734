"""Retention arithmetic: classes to dates, and the catalog's delete guard."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hoso.storage.errors import RetentionActive
from hoso.storage.models import Dossier, FileVersion

__all__ = ["RANK", "add_years", "guard_delete", "retain_until_for"]

# Vietnam time, in which dates are shown to people (stored in UTC).
_ICT = timezone(timedelta(hours=7))
# Order of classes, to refuse shortening.
RANK = {None: 0, "5y": 1, "10y": 2, "20y": 3, "permanent": 4}


def add_years(moment: datetime, years: int) -> datetime:
    """Calendar years later; 29 February becomes 28 February in a non-leap year."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, day=28)


def retain_until_for(created_at: datetime, years: int | None) -> tuple[datetime | None, bool]:
    """``(retain_until, permanent)`` of a class with ``years`` (None = permanent)."""
    if years is None:
        return None, True
    return add_years(created_at, years), False


def guard_delete(version: FileVersion, dossier: Dossier, *, now: datetime | None = None) -> None:
    """Raise RetentionActive when the catalog forbids deleting the version."""
    if version.legal_hold or dossier.legal_hold:
        raise RetentionActive(
            "the file version is under legal hold; lift the hold (SetLegalHold) before deleting"
        )
    if version.retain_permanently:
        raise RetentionActive("the file version is retained permanently and can never be deleted")
    moment = now or datetime.now(UTC)
    if version.retain_until is not None and version.retain_until > moment:
        shown = version.retain_until.astimezone(_ICT).isoformat()
        raise RetentionActive(
            f"the file version is retained until {version.retain_until.isoformat()} (UTC)"
            f" = {shown}; it cannot be deleted before then",
            until=version.retain_until,
        )

"""Retention arithmetic: classes to dates, permanent retention, and the catalog's delete guard."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest
from hoso.storage.errors import RetentionActive
from hoso.storage.retention import RANK, add_years, guard_delete, retain_until_for
from hoso.storage.settings import StorageSettings

ICT = timezone(timedelta(hours=7))


@pytest.mark.parametrize(
    ("klass", "created", "until"),
    [
        ("5y", datetime(2025, 3, 1, 8, 30, tzinfo=UTC), datetime(2030, 3, 1, 8, 30, tzinfo=UTC)),
        (
            "10y",
            datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC),
            datetime(2035, 12, 31, 23, 59, 59, tzinfo=UTC),
        ),
        # 29 February becomes 28 February in a year without one.
        ("5y", datetime(2024, 2, 29, 1, 0, tzinfo=UTC), datetime(2029, 2, 28, 1, 0, tzinfo=UTC)),
        ("20y", datetime(2024, 2, 29, 1, 0, tzinfo=UTC), datetime(2044, 2, 29, 1, 0, tzinfo=UTC)),
    ],
)
def test_classes_become_until_dates(klass: str, created: datetime, until: datetime) -> None:
    years = StorageSettings().retention_years(klass)
    assert retain_until_for(created, years) == (until, False)


def test_permanent_has_no_date() -> None:
    settings = StorageSettings()
    assert settings.retention_years("permanent") is None
    assert retain_until_for(datetime(2025, 1, 1, tzinfo=UTC), None) == (None, True)


def test_until_keeps_the_instant_across_time_zones() -> None:
    local = datetime(2025, 1, 1, 6, 0, tzinfo=ICT)  # 2024-12-31 23:00 UTC
    until = add_years(local, 5)
    assert until == datetime(2029, 12, 31, 23, 0, tzinfo=UTC)


def test_unknown_and_configured_classes() -> None:
    settings = StorageSettings(
        retention_classes={"5y": 5, "10y": 10, "20y": 20, "permanent": None, "70y": 70}
    )
    assert settings.retention_years("70y") == 70
    with pytest.raises(ValueError, match="unknown retention class '3y'"):
        settings.retention_years("3y")
    with pytest.raises(ValueError, match="must define"):
        StorageSettings(retention_classes={"5y": 5})


def test_classes_are_ordered_for_extend_only() -> None:
    assert RANK[None] < RANK["5y"] < RANK["10y"] < RANK["20y"] < RANK["permanent"]


def _version(**values: Any) -> Any:
    base = {"legal_hold": False, "retain_permanently": False, "retain_until": None}
    return SimpleNamespace(**{**base, **values})


NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DOSSIER = SimpleNamespace(legal_hold=False)


def test_guard_allows_unretained_and_expired_versions() -> None:
    guard_delete(_version(), DOSSIER, now=NOW)
    guard_delete(_version(retain_until=NOW), DOSSIER, now=NOW)  # ends at that instant
    guard_delete(_version(retain_until=NOW - timedelta(seconds=1)), DOSSIER, now=NOW)


def test_guard_refuses_retained_versions_stating_until_when() -> None:
    until = NOW + timedelta(seconds=1)
    with pytest.raises(RetentionActive) as info:
        guard_delete(_version(retain_until=until), DOSSIER, now=NOW)
    assert info.value.until == until
    assert until.isoformat() in info.value.message
    assert until.astimezone(ICT).isoformat() in info.value.message  # shown in +07:00 too


def test_guard_refuses_permanent_and_held() -> None:
    with pytest.raises(RetentionActive, match="permanently"):
        guard_delete(_version(retain_permanently=True), DOSSIER, now=NOW)
    with pytest.raises(RetentionActive, match="legal hold"):
        guard_delete(_version(legal_hold=True), DOSSIER, now=NOW)
    with pytest.raises(RetentionActive, match="legal hold"):
        guard_delete(_version(), SimpleNamespace(legal_hold=True), now=NOW)

"""Helpers shared by the object store implementations."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from hoso.storage.errors import RetentionActive

__all__ = ["check_key", "refuse_if_locked"]

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,511}$")


def check_key(key: str) -> str:
    """Return ``key`` when it is a safe relative object key, else raise ValueError.

    Keys are made by the service, so a bad one is a programming error, not bad input.
    """
    if not _KEY.match(key) or ".." in key.split("/") or "//" in key:
        raise ValueError(f"unsafe object key {key!r}")
    return key


def refuse_if_locked(
    until: datetime | None, legal_hold: bool, *, now: datetime | None = None
) -> None:
    """Raise RetentionActive when a lock or legal hold still protects a version."""
    if legal_hold:
        raise RetentionActive("the version is under legal hold; release the hold before deleting")
    moment = now or datetime.now(UTC)
    if until is not None and until > moment:
        raise RetentionActive(
            f"the version is retained until {until.isoformat()}; it cannot be deleted before",
            until=until,
        )

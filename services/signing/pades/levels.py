"""PAdES baseline levels (ETSI EN 319 142-1) and what each one requires."""

from __future__ import annotations

import enum

from hoso.common.errors import InvalidArgument

__all__ = ["SignatureLevel"]


class SignatureLevel(enum.StrEnum):
    """A PAdES baseline level; the value is how callers spell it."""

    B_B = "B-B"
    B_T = "B-T"
    B_LT = "B-LT"
    B_LTA = "B-LTA"

    @classmethod
    def parse(cls, value: str | None, *, field: str = "level") -> SignatureLevel:
        """Read ``B-T``, ``b_lt``, ``PAdES-B-LTA``…; empty means the default, B-T.

        Raises:
            InvalidArgument: an unknown level, naming ``field``.
        """
        if not value:
            return cls.B_T
        text = value.strip().upper().replace("_", "-").removeprefix("PADES-")
        for level in cls:
            if level.value == text:
                return level
        allowed = ", ".join(level.value for level in cls)
        raise InvalidArgument(
            f"unknown signature level {value!r}; use one of {allowed}", field=field
        )

    @property
    def needs_timestamp(self) -> bool:
        """B-T and above carry a signature time-stamp."""
        return self is not SignatureLevel.B_B

    @property
    def needs_validation_data(self) -> bool:
        """B-LT and above embed certificates and revocation data in the DSS."""
        return self in (SignatureLevel.B_LT, SignatureLevel.B_LTA)

    @property
    def needs_archive_timestamp(self) -> bool:
        """B-LTA adds a document time-stamp over everything."""
        return self is SignatureLevel.B_LTA

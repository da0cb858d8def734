"""Page tokens and sizes for List RPCs (AIP-158): opaque tokens, bounded sizes."""

from __future__ import annotations

import base64
import json
from typing import Any

from hoso.common.errors import InvalidArgument

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "decode_token", "encode_token", "page_size"]

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


def page_size(
    requested: int, *, default: int = DEFAULT_PAGE_SIZE, maximum: int = MAX_PAGE_SIZE
) -> int:
    """The page size to use: the default for 0, capped at ``maximum``; negative is an error."""
    if requested < 0:
        raise InvalidArgument("page_size must not be negative", field="page_size")
    return min(requested or default, maximum)


def encode_token(position: dict[str, Any]) -> str:
    """An opaque token for the next page, from where this one ended."""
    return base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":")).encode()).decode()


def decode_token(token: str) -> dict[str, Any] | None:
    """The position a token encodes (``None`` for the first page)."""
    if not token:
        return None
    try:
        position = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidArgument(
            "page_token is not one this server issued: pass next_page_token unchanged",
            field="page_token",
        ) from e
    if not isinstance(position, dict):
        raise InvalidArgument("page_token is not one this server issued", field="page_token")
    return position

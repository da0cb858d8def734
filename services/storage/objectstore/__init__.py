"""Object stores behind one narrow async interface (S3, local directory, memory)."""

from __future__ import annotations

from hoso.storage.objectstore.api import (
    Capabilities,
    ObjectInfo,
    ObjectStore,
    PutResult,
)

__all__ = ["Capabilities", "ObjectInfo", "ObjectStore", "PutResult"]

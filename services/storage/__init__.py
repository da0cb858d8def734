"""hoso.storage."""

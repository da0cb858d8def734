"""hoso.common."""

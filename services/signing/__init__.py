"""hoso.signing."""

"""hoso.client."""

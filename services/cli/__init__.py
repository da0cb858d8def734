"""hoso.cli."""

"""Rewrite the options table in README.md from the settings' field descriptions."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from hoso.common.config import options_table

BEGIN, END = "<!-- options:begin -->", "<!-- options:end -->"


def main() -> int:
    readme = Path(__file__).resolve().parent.parent / "README.md"
    text = readme.read_text()
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(text):
        print(f"README.md has no {BEGIN} … {END} block", file=sys.stderr)
        return 1
    updated = pattern.sub(lambda _: f"{BEGIN}\n{options_table()}{END}", text)
    if updated != text:
        readme.write_text(updated)
        print("README.md options table updated")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

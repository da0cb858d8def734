"""The servers cap glibc's malloc arenas unless the environment already does."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

SCRIPT = "from hoso.common.memory import limit_malloc_arenas; print(limit_malloc_arenas())"


def _run(env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_arenas_are_capped_unless_the_environment_decides() -> None:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    assert _run(env) == "True"
    assert _run(env | {"MALLOC_ARENA_MAX": "4"}) == "False"

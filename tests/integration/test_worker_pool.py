"""The worker pool survives a worker that dies."""

from __future__ import annotations

import os
import signal

import pytest
from hoso.common.errors import Unavailable

pytestmark = pytest.mark.asyncio


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _square(value: int) -> int:
    return value * value


async def test_a_dead_worker_gives_unavailable_then_the_pool_works_again(start_server) -> None:
    server = await start_server([])
    runtime = server.runtime
    assert await runtime.run_cpu(_square, 7) == 49
    with pytest.raises(Unavailable, match="retry"):
        await runtime.run_cpu(_die)
    assert await runtime.run_cpu(_square, 9) == 81

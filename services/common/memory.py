"""Process memory settings for long-running servers."""

from __future__ import annotations

import ctypes
import ctypes.util
import os

__all__ = ["limit_malloc_arenas"]

_M_ARENA_MAX = -8  # from glibc's malloc.h


def limit_malloc_arenas(count: int = 2) -> bool:
    """Cap glibc's malloc arenas at ``count`` unless ``MALLOC_ARENA_MAX`` already decides.

    glibc gives threads that allocate at the same time arenas of their own (up to eight per
    core) and keeps freed blocks cached in each. The servers hand 1 MiB chunks to worker
    threads, so every thread's arena ends up holding a few: a 200 MB upload (6 MiB parts, 3 at
    once) grew the storage server by 63 MiB with the default and by 49-51 MiB with two arenas
    (bench/bench_storage.py, 2026-12-05). Returns whether the limit was set (not on other C libraries).
    """
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c")).mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    return bool(mallopt(_M_ARENA_MAX, count))

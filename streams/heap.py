"""Handing the worker's free heap memory back to the system.

A household's state longer than 512 bytes (most states once the household keeps an alert) is
allocated by C's ``malloc``, not in Python's own arenas. Each new state of a household frees the
old one, and glibc keeps what was freed inside its heap for reuse instead of returning it, even
when whole pages of it are free. Over the stress month a worker of 50,000 households grew from 166
to 532 MiB of RSS while its states grew by 118 MiB. With ``malloc_trim`` every 5 s it ended at
325 MiB, each call taking 5–21 ms, at the same throughput; every 1 s (the worker's interval) the
worker of 1,000,000 households peaked at 499 MiB over a month instead of 564 (bench/README,
session 24)."""

from __future__ import annotations

import ctypes
import time
from collections.abc import Callable

Trim = Callable[[int], int]


def malloc_trim() -> Trim | None:
    """glibc's ``malloc_trim``; None where the C library has none (musl, macOS): nothing to do there."""
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    trim = getattr(libc, "malloc_trim", None)
    if trim is None:
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim  # type: ignore[no-any-return]


class HeapTrimmer:
    """Trims the heap when states were written since the last trim, or the number of households
    changed: the changelog's recovery and a revoked partition's dropped states do not go through the
    agent's writes (an idle worker has nothing new to hand back)."""

    def __init__(self, trim: Trim | None) -> None:
        self._trim = trim
        self._written = False
        self._households = 0

    def written(self) -> None:
        self._written = True

    def trim(self, households: int) -> float | None:
        """The seconds the trim took; None when nothing was done."""
        if households != self._households:
            self._households = households
            self._written = True
        if self._trim is None or not self._written:
            return None
        self._written = False
        started = time.perf_counter()
        self._trim(0)  # 0: keep no free pad at the top of the heap
        return time.perf_counter() - started

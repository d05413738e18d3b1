"""The worker hands the heap memory its old household states leave free back to the system."""

from __future__ import annotations

from streams.heap import HeapTrimmer, Trim, malloc_trim
from tests.helpers import rss_mib


def recording() -> tuple[list[int], Trim]:
    """A stand-in for ``malloc_trim`` that records the pad of each call."""
    calls: list[int] = []

    def trim(pad: int) -> int:
        calls.append(pad)
        return 1

    return calls, trim


def test_the_heap_is_trimmed_only_after_states_were_written() -> None:
    calls, trim = recording()
    heap = HeapTrimmer(trim)
    assert heap.trim(0) is None  # nothing written yet
    heap.written()
    heap.written()
    took = heap.trim(0)
    assert took is not None
    assert took >= 0
    assert heap.trim(0) is None  # idle since: nothing new to hand back
    assert calls == [0]


def test_the_heap_is_trimmed_once_after_the_number_of_households_changed() -> None:
    """A recovery or a revoked partition changes the table without the agent's writes."""
    calls, trim = recording()
    heap = HeapTrimmer(trim)
    assert heap.trim(1000) is not None  # recovered
    assert heap.trim(1000) is None
    assert heap.trim(750) is not None  # a partition revoked
    assert calls == [0, 0]


def test_without_the_c_librarys_trim_nothing_is_done() -> None:
    heap = HeapTrimmer(None)
    heap.written()
    assert heap.trim(10) is None


def test_trimming_hands_the_memory_of_replaced_states_back_to_the_system() -> None:
    """As in the worker: ~200 MiB of state values (2.6 KB each, allocated by C's malloc), of which
    15 in 16 are replaced. The ones kept sit between the freed runs, so free() alone can return
    none of them to the system, wherever the heap put the values."""
    trim = malloc_trim()
    assert trim is not None, "the workers run on glibc (Debian), which has malloc_trim"
    states = [n.to_bytes(4, "big") * 650 for n in range(80_000)]
    kept = states[::16]
    states.clear()
    freed = rss_mib()
    heap = HeapTrimmer(trim)
    heap.written()
    heap.trim(0)
    assert freed - rss_mib() > 100, f"RSS {freed:.0f} MiB before the trim, {rss_mib():.0f} after"
    assert len(kept) == 5_000

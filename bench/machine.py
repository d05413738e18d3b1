"""How fast this machine's Python is right now, printed by the benchmarks beside their figures, and
how much memory a process holds.

The project's machines differ by up to ~3.5x from one day to the next (bench/README: 529 ns to
1.86 µs for the same loop), so an absolute rate means little without it. The loop is the one every
session of bench/README quotes: ``python -m timeit -s "d={str(i):i for i in range(100)}"
"sum(d.values())"``, best of 5.
"""

from __future__ import annotations

import timeit
from pathlib import Path


def loop_ns() -> float:
    """Nanoseconds of one ``sum(d.values())`` over a 100-entry dict: best of 5 rounds."""
    timer = timeit.Timer("sum(d.values())", setup="d = {str(i): i for i in range(100)}")
    number, _ = timer.autorange()
    return min(timer.repeat(repeat=5, number=number)) / number * 1e9


def speed_line() -> str:
    ns = loop_ns()
    return (
        f"machine: sum over a 100-entry dict {ns:,.0f} ns (bench/README quotes this loop for every session; "
        "lower is faster)"
    )


def rss_mib(pid: int | str = "self") -> float:
    """The resident memory of process ``pid`` (default: this one), MiB; 0 where /proc has no figure."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0

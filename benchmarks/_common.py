"""Shared helpers for the benchmark scripts (not part of the package)."""

from __future__ import annotations

import os
import resource
import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def best_of(fn: Callable[[], object], repeat: int = 5) -> float:
    """The fastest of several runs, in seconds: the least disturbed measurement."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def peak_rss_mb() -> tuple[float, float]:
    """Peak resident memory of this process and of its (waited-for) children, in MB."""
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return me, kids


def cores() -> int:
    return os.cpu_count() or 1

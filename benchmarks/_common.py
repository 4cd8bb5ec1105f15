"""Shared helpers for the benchmark modules.

Every ``benchmarks/bench_*.py`` module exposes ``run(quick: bool) -> list[Figure]``.
A figure compares our value with a baseline measured in the same run where one
exists (absolute times on shared machines are noise; the ratio is the figure).
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Figure:
    """One benchmark figure, as printed and written to JSON."""

    name: str
    value: float
    unit: str
    target: str
    met: bool
    baseline: float | None = None
    ratio: float | None = None
    note: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "value": self.value,
            "unit": self.unit,
            "baseline": self.baseline,
            "ratio": self.ratio,
            "target": self.target,
            "met": self.met,
            "note": self.note,
        }


def best_of(fn: Callable[[], object], repeat: int = 5, number: int = 1) -> float:
    """The best wall time in seconds of ``number`` calls of ``fn``, over ``repeat`` runs."""
    times = []
    for _ in range(repeat):
        gc.collect()
        gc.disable()
        try:
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            times.append(time.perf_counter() - t0)
        finally:
            gc.enable()
    return min(times) / number


def median_of(fn: Callable[[], object], repeat: int = 21) -> float:
    """The median wall time in seconds of single calls of ``fn``."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)

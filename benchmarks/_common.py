"""Shared helpers for the benchmark modules.

Every ``benchmarks/bench_*.py`` module exposes ``run(quick: bool) -> list[Figure]``.
A figure compares our value with a baseline measured in the same run where one
exists (absolute times on shared machines are noise; the ratio is the figure).
"""

from __future__ import annotations

import gc
import sqlite3
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path


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


def raw_connection(path: Path, *, foreign_keys: bool = True) -> sqlite3.Connection:
    """A bare sqlite3 connection with the store's pragmas, for the hand-written baselines."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    if foreign_keys:
        conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def timed_insert(
    conn: sqlite3.Connection,
    table: str,
    rows: Iterable[Sequence[object]],
    width: int,
    begin: str = "BEGIN",
    columns: str = "",
) -> float:
    """Seconds to insert ``rows`` of ``width`` columns into ``table`` in one transaction.

    ``columns`` names the columns the rows fill (all of the table's when empty).
    """
    named = f" ({columns})" if columns else ""
    t0 = time.perf_counter()
    conn.execute(begin)
    conn.executemany(f"INSERT INTO {table}{named} VALUES ({','.join('?' * width)})", rows)
    conn.execute("COMMIT")
    return time.perf_counter() - t0


PROSPECT_COLUMNS = (
    "id, project_id, relation_id, contact_id, status, close_reason, stage, "
    "became_prospect_at, became_prospect_by, last_step, next_action_key, next_action_at, "
    "owner, version, history_count"
)
"""The 15 prospect columns the benchmark data fills; later columns keep their defaults."""

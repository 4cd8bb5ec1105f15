"""The worklist and the due page from 10,000 to 10,000,000 prospects (issue 20): flat lines.

* ``worklist_10m_ms``: one page (50) of the marketeer's worklist
  (``uow.prospects.worklist``, whole prospects with their history) in a
  SQLite project of 10,000,000 prospects; baseline: the same query written by
  hand with ``sqlite3`` at the same size.
* ``due_page_10m_ms``: the next 50 due entries of one owner
  (``uow.prospects.due_page``) among the same 10,000,000; baseline: the same
  indexed range query in raw ``sqlite3``.

Target of each: flat, the time at the largest size at most 2x the time at
the smallest (medians of single calls). One SQLite file grows through the
sizes (:data:`SIZES`): the rows are appended with ``executemany`` in the
store's schema, and both pages are measured at each size, so the largest
size is built once and every smaller one comes for free. Never in
``--quick``. Writing the 10,000,000-row file took 24 minutes on the loaded
2-core machine (about 5 GB of disk), so ``benchmarks/run.py`` (``nox -s
bench``) stops at 1,000,000 (2 minutes) unless ``CRM_BENCH_SCALING_MAX``
says otherwise (``CRM_BENCH_SCALING_MAX=10000000`` for the full line);
``plot_scaling.py`` goes to 10,000,000 unless given ``--max``.

``python benchmarks/plot_scaling.py`` draws these lines beside validation.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _data
import bench_cadence
import bench_store
from _common import PROSPECT_COLUMNS, Figure, median_of

from crm_procedures.adapters._common import utc_us
from crm_procedures.adapters.sql import open_store
from crm_procedures.ports import DuePages
from crm_procedures.services.context import resolve_viewer

SIZES: Final = (10_000, 30_000, 100_000, 300_000, 1_000_000, 3_000_000, 10_000_000)
NOW: Final = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
OWNER: Final = "e07"
_DUE_COLUMNS: Final = "next_due_key, next_due_at, due_step, due_role, due_automatic"
_YEAR_US: Final = 365 * 24 * 3600 * 1_000_000


BENCH_MAX: Final = 1_000_000
"""The largest size of ``benchmarks/run.py`` unless ``CRM_BENCH_SCALING_MAX`` is set."""


def sizes(largest: int | None = None) -> list[int]:
    """The sizes measured, up to ``largest`` (default: all of :data:`SIZES`)."""
    top = largest or SIZES[-1]
    return [n for n in SIZES if n <= top]


def _rows(lo: int, hi: int, project_id: str) -> tuple[list[tuple[Any, ...]], list[Any]]:
    """The benchmark store's prospect rows with due fields (``_data`` rows, 20 columns)."""
    rows, history = _data._prospect_rows(lo, hi, project_id)
    t0 = utc_us(_data.T0)
    out = []
    for i, row in zip(range(lo, hi), rows, strict=True):
        if row[4] != "running" or i % 5 == 4:
            due: tuple[Any, ...] = (None, None, None, None, 0)
        else:
            key = t0 + (i * 6133 * 1_000_033) % _YEAR_US
            at = (_data.T0 + timedelta(microseconds=key - t0)).isoformat()
            due = (key, at, "call_back", "marketeer", 0)
        out.append((*row, *due))
    return out, history


def grow(path: Path, project_id: str, have: int, want: int) -> None:
    """Append prospects ``have`` .. ``want - 1`` to the store at ``path``."""
    conn = sqlite3.connect(path, isolation_level=None)
    marks = ",".join("?" * 20)
    try:
        conn.execute("PRAGMA synchronous=OFF")
        # the indexes take keys in random order: keep their pages in memory while writing
        conn.execute("PRAGMA cache_size=-3000000")
        conn.execute("BEGIN")
        for lo in range(have, want, 200_000):
            rows, history = _rows(lo, min(lo + 200_000, want), project_id)
            conn.executemany(
                f"INSERT INTO prospects ({PROSPECT_COLUMNS}, {_DUE_COLUMNS}) VALUES ({marks})",
                rows,
            )
            conn.executemany(f"INSERT INTO prospect_history VALUES ({','.join('?' * 13)})", history)
        conn.execute("COMMIT")
    finally:
        conn.close()


def measure(path: Path, project_id: str) -> dict[str, float]:
    """Median ms of both pages, ours and raw, on the store at ``path``."""
    store = open_store(f"sqlite:///{path}", create=False)
    conn = sqlite3.connect(path)
    key = utc_us(NOW)
    try:
        plan = bench_cadence.due_page_plan(conn)
        assert "ix_prospects_due_owner" in plan, plan
        assert "TEMP B-TREE" not in plan, plan
        raw_worklist = bench_store._worklist_raw(conn, project_id)
        with store.unit_of_work(read_only=True) as uow:
            viewer = resolve_viewer(uow, "ann")
            pages = uow.prospects
            assert isinstance(pages, DuePages)
            ours = [e.prospect_id for e in pages.due_page(owner=OWNER, since=NOW, limit=50)]
            base = [r[0] for r in conn.execute(bench_cadence._DUE_PAGE_SQL, (OWNER, key))]
            assert ours == base, "the store and raw sqlite3 disagree"

            def worklist() -> object:
                return uow.prospects.worklist(project_id, bench_store.MARKETEER_STEPS, viewer)

            def due_page() -> object:
                return pages.due_page(owner=OWNER, since=NOW, limit=50)

            def raw_due() -> object:
                return conn.execute(bench_cadence._DUE_PAGE_SQL, (OWNER, key)).fetchall()

            found: dict[str, Callable[[], object]] = {
                "worklist": worklist,
                "worklist_raw": raw_worklist,
                "due": due_page,
                "due_raw": raw_due,
            }
            for fn in found.values():
                fn()
            return {name: median_of(fn, 31) * 1e3 for name, fn in found.items()}
    finally:
        conn.close()
        store.close()


def series(largest: int | None = None) -> Iterator[tuple[int, dict[str, float], float]]:
    """``(size, medians, seconds spent writing rows so far)`` for each size, one growing file."""
    folder = _data.cache_dir()
    path = folder / "scaling.db"
    app, project_id = _data._setup(f"sqlite:///{path}")
    app.close()
    have, spent = 0, 0.0
    try:
        for n in sizes(largest):
            t0 = time.perf_counter()
            grow(path, project_id, have, n)
            spent += time.perf_counter() - t0
            have = n
            yield n, measure(path, project_id), spent
    finally:
        path.unlink(missing_ok=True)


def run(quick: bool) -> list[Figure]:
    """``worklist_10m_ms`` and ``due_page_10m_ms`` (none in ``--quick``)."""
    if quick:
        return []
    largest = int(os.environ.get("CRM_BENCH_SCALING_MAX", BENCH_MAX))
    measured = [(n, m) for n, m, _spent in series(largest)]
    (first, low), (top, high) = measured[0], measured[-1]
    figures = []
    for name, key in (("worklist_10m_ms", "worklist"), ("due_page_10m_ms", "due")):
        growth = high[key] / low[key]
        line = ", ".join(f"{n:,}: {m[key]:.3f}" for n, m in measured)
        figures.append(
            Figure(
                name,
                high[key],
                "ms",
                f"flat: <= 2x the time at {first:,}",
                growth <= 2.0,
                high[f"{key}_raw"],
                high[key] / high[f"{key}_raw"],
                f"{top:,} prospects; {growth:.2f}x the time at {first:,}; ms by size: {line}",
            )
        )
    return figures


if __name__ == "__main__":
    for n, m, spent in series():
        print(
            f"{n:>10,}: worklist {m['worklist']:.3f} ms (raw {m['worklist_raw']:.3f}); "
            f"due page {m['due']:.3f} ms (raw {m['due_raw']:.3f}); rows written in {spent:.0f} s",
            flush=True,
        )

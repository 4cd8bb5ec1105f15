"""Reports over 1,000,000 rows in SQLite: the funnel and activity per employee.

``report_funnel_1m_s``: :func:`crm_procedures.services.reports.funnel` of a
campaign project of 1,000,000 prospects (with their history) as its project
leader: the stage/status/close-reason counts and the prospects per step, as
aggregate queries in the store. Baseline: a raw ``sqlite3``
``GROUP BY stage, status, close_reason`` over the same rows.

``report_employee_1m_s``: :func:`crm_procedures.services.reports.employee_activity`
over 1,000,000 activities (kinds and outcomes per employee from their
indexed columns, completed counts, relations contacted). Baseline: a raw
``sqlite3`` ``GROUP BY employee, completed`` over the same rows.

Run: ``python benchmarks/run.py --only reports``.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _data
from _common import Figure

from crm_procedures import CrmApp, standard_definitions
from crm_procedures.adapters.sql import open_store
from crm_procedures.services import reports
from crm_procedures.testing import FrozenClock


def _best(fn: object, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - t0)
    return best


def run(quick: bool) -> list[Figure]:
    """The report figures (see the module documentation)."""
    n = 20_000 if quick else 1_000_000
    repeat = 3
    ds = _data.big_store(n)
    store = open_store(ds.url, create=False)
    ctx = CrmApp(store=store, clock=FrozenClock(_data.T0), definitions=standard_definitions()).ctx
    conn = sqlite3.connect(ds.path)
    try:
        funnel = reports.funnel(ctx, "pia", ds.project_id)
        if funnel.total != n:
            raise AssertionError(f"the funnel counted {funnel.total} prospects, not {n}")
        rows = reports.employee_activity(ctx, "pia")
        if sum(r.activities for r in rows) != n:
            raise AssertionError("the employee report did not count every activity")

        def raw_funnel() -> object:
            return conn.execute(
                "SELECT stage, status, close_reason, count(*) FROM prospects "
                "WHERE project_id = ? GROUP BY stage, status, close_reason",
                (ds.project_id,),
            ).fetchall()

        def raw_employee() -> object:
            return conn.execute(
                "SELECT employee, completed, count(*) FROM activities GROUP BY employee, completed"
            ).fetchall()

        t_funnel = _best(lambda: reports.funnel(ctx, "pia", ds.project_id), repeat)
        t_raw_funnel = _best(raw_funnel, repeat)
        t_employee = _best(lambda: reports.employee_activity(ctx, "pia"), repeat)
        t_raw_employee = _best(raw_employee, repeat)
    finally:
        conn.close()
        store.close()
    size = f"{n:,}" + (" (quick: not 1,000,000)" if quick else "")
    limit = 2.0 * n / 1_000_000 if quick else 2.0
    return [
        Figure(
            "report_funnel_1m_s",
            t_funnel,
            "s",
            "< 2 s (goal <= 1.5x raw GROUP BY)",
            t_funnel < limit,
            t_raw_funnel,
            t_funnel / t_raw_funnel,
            f"funnel of a project of {size} prospects with history; baseline sqlite3 "
            "GROUP BY stage, status, close_reason",
        ),
        Figure(
            "report_employee_1m_s",
            t_employee,
            "s",
            "< 2 s (goal <= 1.5x raw GROUP BY)",
            t_employee < limit,
            t_raw_employee,
            t_employee / t_raw_employee,
            f"activity per employee over {size} activities (kinds and outcomes from "
            "their indexed columns); baseline sqlite3 GROUP BY employee, completed",
        ),
    ]


if __name__ == "__main__":
    for f in run(quick="--quick" in sys.argv):
        print(f"{f.name}: {f.value:.4g} {f.unit}; baseline {f.baseline}; ratio {f.ratio}")

"""Releasing and closing a whole campaign: ``bulk_release_100k_s``, ``bulk_close_100k_s``.

Ours: :func:`crm_procedures.services.campaigns.release_all` (then
:func:`~crm_procedures.services.campaigns.close_all`) over a campaign of
100,000 prospects in preparation on a SQLite file: one unit of work, the
user, project and definitions checked, in batches of 1,000 one read, one
update and one history insert per batch, and an audit entry per prospect.

Baseline, on a copy of the same file in the same run: hand-written
``sqlite3`` doing the same writes in one transaction: read the ids,
versions and history counts, ``executemany`` the update with its version
check, the history rows and the audit rows.

Run: ``python benchmarks/run.py --only bulk``.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _data
from _common import PROSPECT_COLUMNS, Figure, raw_connection

from crm_procedures import CrmApp, standard_definitions
from crm_procedures.adapters._common import utc_us
from crm_procedures.adapters.sql import open_store
from crm_procedures.services import campaigns
from crm_procedures.testing import FrozenClock


def _build(n: int) -> tuple[Path, str]:
    path = _data.cache_dir() / f"bulk-{n}.db"
    app, project_id = _data._setup(f"sqlite:///{path}")
    app.close()
    rows = [
        (
            f"p{i:07d}",
            project_id,
            f"r{i:07d}",
            None,
            "preparing",
            None,
            "suspect",
            None,
            None,
            None,
            _data.NULL_KEY,
            None,
            None,
            1,
            0,
        )
        for i in range(n)
    ]
    conn = raw_connection(path, foreign_keys=False)
    try:
        conn.execute("BEGIN")
        conn.executemany(
            f"INSERT INTO prospects ({PROSPECT_COLUMNS}) VALUES ({','.join('?' * 15)})", rows
        )
        conn.execute("COMMIT")
    finally:
        conn.close()
    return path, project_id


def _raw(path: Path, project_id: str, select: str, status: str, reason: str | None) -> float:
    stamp = _data.T0.isoformat()
    stamp_us = utc_us(_data.T0)
    detail = status if reason is None else f"closed:{reason}"
    action = "release" if reason is None else "close"
    changes = json.dumps({"history": ["", reason or status]}, separators=(",", ":"))
    conn = raw_connection(path)
    try:
        t0 = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        rows = conn.execute(
            f"SELECT id, version, history_count FROM prospects WHERE project_id = ? AND {select} "
            "ORDER BY id",
            (project_id,),
        ).fetchall()
        conn.executemany(
            "UPDATE prospects SET status = ?, close_reason = ?, version = ?, history_count = ? "
            "WHERE id = ? AND version = ?",
            [(status, reason, v + 1, h + 1, pid, v) for pid, v, h in rows],
        )
        conn.executemany(
            "INSERT INTO prospect_history VALUES (?, ?, 'status', ?, 'pia', NULL, NULL, NULL, "
            "?, '', ?, 0, ?)",
            [(pid, h + 1, stamp, detail, project_id, stamp_us) for pid, _v, h in rows],
        )
        conn.executemany(
            "INSERT INTO audit (record_kind, record_id, version, at, actor, action, changes) "
            "VALUES ('prospect', ?, ?, ?, 'pia', ?, ?)",
            [(pid, v + 1, stamp, action, changes) for pid, v, _h in rows],
        )
        conn.execute("COMMIT")
        took = time.perf_counter() - t0
    finally:
        conn.close()
    if len(rows) == 0:
        raise AssertionError("the raw baseline changed nothing")
    return took


def run(quick: bool) -> list[Figure]:
    """The two bulk figures (see the module documentation)."""
    n = 10_000 if quick else 100_000
    ours_path, project_id = _build(n)
    raw_path = ours_path.with_name(f"bulk-raw-{n}.db")
    shutil.copyfile(ours_path, raw_path)
    store = open_store(f"sqlite:///{ours_path}", create=False)
    crm = CrmApp(store=store, clock=FrozenClock(_data.T0), definitions=standard_definitions())
    try:
        t0 = time.perf_counter()
        released = campaigns.release_all(crm.ctx, "pia", project_id)
        ours_release = time.perf_counter() - t0
        raw_release = _raw(raw_path, project_id, "status = 'preparing'", "running", None)
        t0 = time.perf_counter()
        closed = campaigns.close_all(crm.ctx, "pia", project_id, "no_budget")
        ours_close = time.perf_counter() - t0
        raw_close = _raw(
            raw_path,
            project_id,
            "NOT (status = 'closed' AND COALESCE(close_reason, '') = 'no_budget')",
            "closed",
            "no_budget",
        )
    finally:
        store.close()
        raw_path.unlink()
        ours_path.unlink()
    if released != n or closed != n:
        raise AssertionError(f"released {released}, closed {closed}, expected {n} each")
    size = f"{n:,}" + (" (quick: not 100,000)" if quick else "")
    return [
        Figure(
            "bulk_release_100k_s",
            ours_release,
            "s",
            "<= 5x raw (issue 20)",
            ours_release / raw_release <= 5,
            raw_release,
            ours_release / raw_release,
            f"campaigns.release_all() of {size} prospects on SQLite (history and audit); "
            "baseline: sqlite3 select + executemany update, history, audit in one transaction",
        ),
        Figure(
            "bulk_close_100k_s",
            ours_close,
            "s",
            "<= 5x raw (issue 20)",
            ours_close / raw_close <= 5,
            raw_close,
            ours_close / raw_close,
            f"campaigns.close_all() of the same {size} running prospects; baseline as above",
        ),
    ]


if __name__ == "__main__":
    for f in run(quick="--quick" in sys.argv):
        print(f"{f.name}: {f.value:.4g} {f.unit}; baseline {f.baseline}; ratio {f.ratio}")

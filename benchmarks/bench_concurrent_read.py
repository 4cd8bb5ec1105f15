"""Readers beside a writer on SQLite (WAL): ``read_beside_write_ms``.

The p99 of a read-only service call (``visits.search_reports`` of one page)
while another process writes continuously (small transactions, one after
the other), against the p99 of the same call on the idle store in the same
run. Read-only units of work take no write lock, so the reader neither waits
for the writer nor holds it up; the goal is a ratio below 2.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import Figure

from crm_procedures.adapters.sql import open_store
from crm_procedures.ids import GroupId, UserId
from crm_procedures.model.users import Group, User
from crm_procedures.services import visits
from crm_procedures.services.context import Context
from crm_procedures.testing.builders import a_relation, a_visit_report
from crm_procedures.testing.clock import FrozenClock

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
SRC = Path(__file__).resolve().parents[1] / "src"

_WRITER = """
import sys, time
from crm_procedures.adapters.sql import open_store
from crm_procedures.testing.builders import a_relation
store = open_store(sys.argv[1], create=False)
stop = time.monotonic() + float(sys.argv[2])
n = 0
while time.monotonic() < stop:
    with store.unit_of_work() as uow:
        uow.relations.add(a_relation(id=f"w-{n}"))
        uow.commit()
    n += 1
store.close()
print(n)
"""


def _p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def _calls(ctx: Context, count: int) -> list[float]:
    out = []
    for _ in range(count):
        began = time.perf_counter()
        visits.search_reports(ctx, "anna", limit=20)
        out.append((time.perf_counter() - began) * 1000)
    return out


def run(quick: bool) -> list[Figure]:
    """The one figure of this module."""
    reports, calls = (500, 200) if quick else (5_000, 1_000)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'crm.db'}"
        store = open_store(url)
        try:
            with store.unit_of_work() as uow:
                uow.groups.add(Group(GroupId("sales"), "Sales", {"visit_report.read"}))
                uow.users.add(User(UserId("anna"), "Anna", groups={GroupId("sales")}))
                uow.relations.add(a_relation(id="r1"))
                uow.visit_reports.add_many(
                    [
                        a_visit_report(
                            id=f"v{n}",
                            relation_id="r1",
                            account_manager="anna",
                            start=NOW - timedelta(hours=n),
                        )
                        for n in range(reports)
                    ]
                )
                uow.commit()
            ctx = Context(store, FrozenClock(NOW))
            _calls(ctx, 20)  # warm up
            idle = _p99(_calls(ctx, calls))
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
            seconds = 3.0 if quick else 10.0
            writer = subprocess.Popen(
                [sys.executable, "-c", _WRITER, url, str(seconds + 30)],
                env=env,
                stdout=subprocess.PIPE,
                text=True,
            )
            try:
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:  # until the writer is writing
                    with store.unit_of_work(read_only=True) as uow:
                        if uow.relations.count() > 1:
                            break
                    time.sleep(0.01)
                busy = _p99(_calls(ctx, calls))
                with store.unit_of_work(read_only=True) as uow:
                    written = uow.relations.count() - 1
            finally:
                writer.kill()
                writer.wait()
        finally:
            store.close()
    ratio = busy / idle if idle else None
    return [
        Figure(
            "read_beside_write_ms",
            busy,
            "ms p99",
            "< 2x idle",
            ratio is not None and ratio < 2 and written > 0,
            baseline=idle,
            ratio=ratio,
            note=f"search_reports p99 while another process committed {written} writes",
        )
    ]


if __name__ == "__main__":
    for f in run(quick="--quick" in sys.argv):
        print(f"{f.name}: {f.value:.4g} {f.unit}; baseline {f.baseline}; ratio {f.ratio}")

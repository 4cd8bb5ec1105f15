"""Benchmark datasets: SQLite stores of up to 1,000,000 prospects and activities.

A dataset is built once per run (per size) in a temporary folder and reused
by every module that asks for it. The small records that give the data its
meaning (groups, users, the client relation, the campaign project with its
pinned definitions) go through the services; the bulk rows are written with
``executemany`` straight into the store's own schema (the same rows the
store's ``add_many`` would write), which keeps a 1,000,000-row build at
seconds instead of minutes.

The shape:

* one campaign project on the W7 standard procedure; ``n`` prospects, 90%
  running, 5% preparing, 5% closed; last steps spread over START and every
  step; each prospect with a last step has one history entry; next actions
  spread over a year (10% without one);
* ``n`` activities of 50 employees (``ann`` among them), a third completed,
  with their JSON records as the store writes them.
"""

from __future__ import annotations

import atexit
import json
import shutil
import sqlite3
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import PROSPECT_COLUMNS

from crm_procedures import CrmApp, Group, Relation, RelationKind, User, standard_definitions
from crm_procedures.adapters._common import NULL_KEY, utc_us
from crm_procedures.adapters.sql import open_store
from crm_procedures.model.activity import Activity
from crm_procedures.serialization import unstructure
from crm_procedures.services import campaigns
from crm_procedures.testing import FrozenClock

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
EMPLOYEES = ["ann", *(f"e{i:02d}" for i in range(1, 50))]
LAST_STEPS = [None, "call", "call_back", "send_info", "make_appointment", "client_call"]
ROLE_OF = {
    "call": "marketeer",
    "call_back": "marketeer",
    "send_info": "marketeer",
    "make_appointment": "marketeer",
    "client_call": "client",
}

_folder: Path | None = None
_built: dict[tuple[str, int], Dataset] = {}


def cache_dir() -> Path:
    """The run's temporary folder (removed when the process ends)."""
    global _folder
    if _folder is None:
        _folder = Path(tempfile.mkdtemp(prefix="crm-bench-"))
        atexit.register(shutil.rmtree, _folder, True)
    return _folder


@dataclass(frozen=True)
class Dataset:
    """A built store: where it is and what is in it."""

    path: Path
    url: str
    project_id: str
    n: int
    build_s: float


def _setup(url: str) -> tuple[CrmApp, str]:
    """Groups, users, the client and the campaign, through the services."""
    app = CrmApp(
        store=open_store(url),
        clock=FrozenClock(T0),
        definitions=standard_definitions(),
    )
    with app.store.unit_of_work() as uow:
        uow.groups.add(
            Group("marketing", "Marketing", permissions={"prospect.write", "activity.write"})
        )
        uow.groups.add(
            Group(
                "leaders",
                "Project leaders",
                permissions={
                    "project.write",
                    "prospect.write",
                    "prospect.correct",
                    "prospect.read_preparing",
                    "report.read",
                    "activity.read_all",
                },
            )
        )
        uow.groups.add(Group("clients", "Client staff", permissions={"prospect.write"}))
        for e in EMPLOYEES:
            uow.users.add(User(e, f"Employee {e}", email=f"{e}@example.com", groups={"marketing"}))
        uow.users.add(User("cor", "Cor van Dam", email="cor@klant.example", groups={"clients"}))
        uow.users.add(User("pia", "Pia Nowak", email="pia@example.com", groups={"leaders"}))
        uow.relations.add(Relation("klant", "Klant B.V.", kinds={RelationKind.CLIENT}))
        uow.commit()
    project = campaigns.start_campaign(
        app.ctx,
        "pia",
        relation_id="klant",
        name="Big campaign",
        procedure="standard",
        members={"marketeer": list(EMPLOYEES), "client": ["cor"], "project_leader": ["pia"]},
    )
    return app, project.id


def _prospect_rows(
    lo: int, hi: int, project_id: str
) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    rows: list[tuple[object, ...]] = []
    history: list[tuple[object, ...]] = []
    year_us = 365 * 24 * 3600 * 1_000_000
    t0 = utc_us(T0)
    for i in range(lo, hi):
        pid = f"p{i:07d}"
        r = i % 20
        status = "preparing" if r == 0 else "closed" if r == 1 else "running"
        last = LAST_STEPS[(i * 7) % len(LAST_STEPS)] if status != "preparing" else None
        reason = "not_interested" if status == "closed" else None
        if i % 10 == 3:
            key, at_text = NULL_KEY, None
        else:
            key = t0 + (i * 7919 * 1_000_003) % year_us
            at_text = datetime.fromtimestamp(key / 1e6, UTC).isoformat()
        stamp = (T0 + timedelta(seconds=i)).isoformat()
        owner = EMPLOYEES[i % len(EMPLOYEES)]
        if last is None:
            stage, became_at, became_by = "suspect", None, None
        else:
            stage, became_at, became_by = "prospect", stamp, owner
            at_us = t0 + i * 1_000_000  # the stamp's instant
            role = ROLE_OF[last]
            history.append(
                (pid, 1, "step", stamp, owner, role, last, None, None, "", project_id, 0, at_us)
            )
        rows.append(
            (
                pid,
                project_id,
                f"r{i:07d}",
                None,
                status,
                reason,
                stage,
                became_at,
                became_by,
                last,
                key,
                at_text,
                owner,
                1,
                0 if last is None else 1,
            )
        )
    return rows, history


def _activity_rows(lo: int, hi: int, n: int, project_id: str) -> list[tuple[object, ...]]:
    template = unstructure(
        Activity(
            "a",
            "contact",
            "ann",
            subject="Follow-up call about the offer",
            relation_id="r",
            project_id=project_id,
            note="Spoke with the buyer; send the price list.",
            outcome="reached",
            start=T0,
            created_at=T0,
            version=1,
        )
    )
    kinds = ("contact", "contact", "meeting", "task")
    outcomes = ("reached", "no_answer", None)
    rows: list[tuple[object, ...]] = []
    dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    for i in range(lo, hi):
        aid = f"a{i:07d}"
        employee = EMPLOYEES[i % len(EMPLOYEES)]
        start = T0 + timedelta(minutes=7 * i)
        created = start - timedelta(hours=1)
        completed = i % 3 == 0
        relation = f"r{(i * 31) % max(n // 2, 1):07d}"
        record = dict(template)
        record["id"] = aid
        record["kind"] = kinds[i % 4]
        record["employee"] = employee
        record["relation_id"] = relation
        record["outcome"] = outcomes[i % 3]
        start_text = start.isoformat()
        record["start"] = start_text
        record["created_at"] = created.isoformat()
        record["completed_at"] = start_text if completed else None
        rows.append(
            (
                aid,
                employee,
                relation,
                project_id,
                utc_us(start),
                utc_us(created),
                completed,
                record["kind"],
                record["outcome"],
                1,
                dumps(record),
            )
        )
    return rows


def big_store(n: int) -> Dataset:
    """A SQLite store with ``n`` prospects and ``n`` activities (built once per run)."""
    found = _built.get(("big", n))
    if found is not None:
        return found
    t0 = time.perf_counter()
    path = cache_dir() / f"big-{n}.db"
    url = f"sqlite:///{path}"
    app, project_id = _setup(url)
    app.close()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("BEGIN")
        chunk = 200_000
        for lo in range(0, n, chunk):
            rows, history = _prospect_rows(lo, min(lo + chunk, n), project_id)
            conn.executemany(
                f"INSERT INTO prospects ({PROSPECT_COLUMNS}) VALUES ({','.join('?' * 15)})", rows
            )
            conn.executemany(f"INSERT INTO prospect_history VALUES ({','.join('?' * 13)})", history)
        for lo in range(0, n, chunk):
            conn.executemany(
                "INSERT INTO activities (id, employee, relation_id, project_id, start_key, "
                "created_key, completed, kind, outcome, version, data) "
                f"VALUES ({','.join('?' * 11)})",
                _activity_rows(lo, min(lo + chunk, n), n, project_id),
            )
        conn.execute("COMMIT")
    finally:
        conn.close()
    ds = Dataset(path, url, project_id, n, time.perf_counter() - t0)
    _built[("big", n)] = ds
    return ds

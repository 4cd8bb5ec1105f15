"""The cadence figures (issue 18): due lists, the scheduler, and time in step.

* ``due_page_1m_ms``: the next 50 due prospects of one owner among
  1,000,000 (``uow.prospects.due_page(owner=..., since=now, limit=50)`` on
  SQLite, in a read-only unit of work: ``DueEntry`` rows from the due index;
  the note gives ``due()``, whole prospects with their history, beside it);
  baseline: the same columns by the same indexed range query in raw sqlite3,
  whose plan must read ``ix_prospects_due_owner`` without a sort. Goal: < 1 ms.
* ``scheduler_steps_s_sqlite``, ``scheduler_steps_s_pg_1``,
  ``scheduler_steps_s_pg_4``: automatic e-mail steps performed per second
  (each rendered, recorded in the outbox with its activity and history entry)
  by one scheduler on SQLite, and by 1 and 4 scheduler processes sharing one
  PostgreSQL database. Goal for 4 processes: >= 0.8 x cores x one process
  (>= 1.6x on 2 cores); the core count is in the figure's note.
* ``step_analytics_1m_s``: the time-in-step and drop-off report
  (:func:`crm_procedures.services.service_level.step_analytics`) over
  1,000,000 prospects with three history entries each; baseline: a raw
  ``GROUP BY step`` count over the same rows in sqlite3. Goal: <= 2x.
  ``python benchmarks/bench_cadence.py [--quick]`` prints all of them.

The datasets are written straight into the store's schema with
``executemany`` (the rows the store itself writes); ``--quick`` uses 5,000
prospects and a few hundred steps.

Run: ``python benchmarks/run.py --only cadence``.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Figure, best_of
from _data import cache_dir

from crm_procedures import CrmApp, Group, Relation, RelationKind, User, standard_definitions
from crm_procedures.adapters._common import utc_us
from crm_procedures.adapters.sql import open_store
from crm_procedures.ids import UserId
from crm_procedures.model.contact import Contact
from crm_procedures.model.prospect import EntryKind, HistoryEntry, Prospect, ProspectStatus
from crm_procedures.ports import DuePages
from crm_procedures.services import campaigns, scheduler, service_level
from crm_procedures.services.context import Context
from crm_procedures.testing import FrozenClock

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
OWNERS = [f"e{i:02d}" for i in range(50)]
STEPS = ["call", "call_back", "info_asked", "make_appointment"]


def _definitions() -> Any:
    from crm_procedures.demo import _with_cadence

    return _with_cadence(standard_definitions())


def _setup(url: str) -> tuple[CrmApp, str]:
    app = CrmApp(store=open_store(url), clock=FrozenClock(T0), definitions=_definitions())
    with app.store.unit_of_work() as uow:
        uow.groups.add(Group("admins", "Admins", permissions={"admin"}))
        uow.users.add(User("pia", "Pia", email="pia@example.com", groups={"admins"}))
        for e in OWNERS:
            uow.users.add(User(e, e, email=f"{e}@example.com", roles={"marketeer"}))
        uow.relations.add(Relation("klant", "Klant B.V.", kinds={RelationKind.CLIENT}))
        uow.commit()
    project = campaigns.start_campaign(
        app.ctx,
        "pia",
        relation_id="klant",
        name="Cadence",
        procedure="standard",
        members={"marketeer": OWNERS, "client": ["pia"], "project_leader": ["pia"]},
    )
    return app, project.id


# -- 1,000,000 prospects with due fields and three history entries each --


def _big(n: int) -> tuple[Path, str, str]:
    path = cache_dir() / f"cadence-{n}.db"
    url = f"sqlite:///{path}"
    app, project_id = _setup(url)
    app.close()
    conn = sqlite3.connect(path, isolation_level=None)
    cols = (
        "id, project_id, relation_id, status, stage, last_step, next_action_key, owner, "
        "version, history_count, next_due_key, next_due_at, due_step, due_role, due_automatic"
    )
    year_us = 365 * 24 * 3600 * 1_000_000
    try:
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("BEGIN")
        for lo in range(0, n, 100_000):
            rows, history = [], []
            for i in range(lo, min(lo + 100_000, n)):
                pid = f"p{i:07d}"
                status = "closed" if i % 10 == 1 else "running"
                owner = OWNERS[i % len(OWNERS)]
                due_key = utc_us(T0) + (i * 7919 * 1_000_003) % year_us
                due_text = datetime.fromtimestamp(due_key / 1e6, UTC).isoformat()
                automatic = i % 4 == 0
                last = STEPS[i % 3]
                start = T0 + timedelta(minutes=i % 10_000)
                for seq in range(1, 4):
                    step = STEPS[(i + seq) % len(STEPS)] if seq < 3 else last
                    at = start + timedelta(hours=seq * (1 + i % 97))
                    stamp = at.isoformat()
                    history.append(
                        (pid, seq, "step", stamp, owner, "marketeer", step, utc_us(at), project_id)
                    )
                rows.append(
                    (
                        pid,
                        project_id,
                        f"r{i:07d}",
                        status,
                        "prospect",
                        last,
                        -(2**62),
                        owner,
                        1,
                        3,
                        due_key,
                        due_text,
                        "send_info" if automatic else "call_back",
                        "marketeer",
                        automatic,
                    )
                )
            conn.executemany(f"INSERT INTO prospects ({cols}) VALUES ({','.join('?' * 15)})", rows)
            conn.executemany(
                "INSERT INTO prospect_history (prospect_id, seq, kind, at, actor, role, step, "
                "at_us, project_id, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '')",
                history,
            )
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
    finally:
        conn.close()
    return path, url, project_id


_DUE_PAGE_SQL: Final = (
    "SELECT id, project_id, relation_id, due_step, due_role, next_due_key, owner, "
    "due_automatic FROM prospects WHERE owner = ? AND next_due_key >= ? "
    "AND next_due_key IS NOT NULL AND status = 'running' "
    "ORDER BY next_due_key, id LIMIT 50"
)


def _pages(uow: Any) -> DuePages:
    repo = uow.prospects
    assert isinstance(repo, DuePages)
    return repo


def due_page_plan(conn: sqlite3.Connection) -> str:
    """SQLite's plan of the raw due page query: it must read ``ix_prospects_due_owner``."""
    rows = conn.execute("EXPLAIN QUERY PLAN " + _DUE_PAGE_SQL, ("e07", 0)).fetchall()
    return "; ".join(str(r[-1]) for r in rows)


def _due_page(n: int, path: Path, url: str) -> Figure:
    store = open_store(url, create=False)
    since = NOW
    raw = sqlite3.connect(path)
    key = utc_us(since)
    try:
        plan = due_page_plan(raw)
        assert "ix_prospects_due_owner" in plan, plan
        assert "TEMP B-TREE" not in plan, plan
        with store.unit_of_work(read_only=True) as uow:
            ours = _pages(uow).due_page(owner="e07", since=since, limit=50)
            whole = [p.id for p in uow.prospects.due(owner="e07", since=since, limit=50)]
            nxt = _pages(uow).due_page(owner="e07", since=since, limit=50, after=ours[-1])
        base = raw.execute(_DUE_PAGE_SQL, ("e07", key)).fetchall()
        assert [e.prospect_id for e in ours] == [r[0] for r in base] == whole, "pages differ"
        assert all(e.cursor > ours[-1].cursor for e in nxt)

        def page() -> None:
            with store.unit_of_work(read_only=True) as uow:
                _pages(uow).due_page(owner="e07", since=since, limit=50)

        def prospects() -> None:
            with store.unit_of_work(read_only=True) as uow:
                uow.prospects.due(owner="e07", since=since, limit=50)

        value = best_of(page, repeat=7, number=20) * 1000
        before = best_of(prospects, repeat=5, number=5) * 1000
        baseline = (
            best_of(lambda: raw.execute(_DUE_PAGE_SQL, ("e07", key)).fetchall(), 7, 20) * 1000
        )
    finally:
        raw.close()
        store.close()
    size = f"{n:,}" + (" (quick)" if n < 1_000_000 else "")
    return Figure(
        "due_page_1m_ms",
        value,
        "ms",
        "< 1 ms",
        value < 1.0,
        baseline,
        value / baseline,
        f"next 50 due of one owner among {size} prospects as DueEntry rows, in a unit of "
        f"work (whole prospects with history through due(): {before:.2f} ms); baseline: "
        "the same columns by the same indexed range query in raw sqlite3",
    )


def _analytics(n: int, path: Path, url: str, project_id: str) -> Figure:
    store = open_store(url, create=False)
    ctx = Context(store=store, clock=FrozenClock(NOW), definitions=_definitions())
    raw = sqlite3.connect(path)
    sql = (
        "SELECT h.step, count(*) FROM prospect_history h JOIN prospects p ON p.id = h.prospect_id "
        "WHERE p.project_id = ? AND h.kind IN ('step', 'correction') GROUP BY h.step"
    )
    try:
        rows = service_level.step_analytics(ctx, "pia", project_id)
        counts = dict(raw.execute(sql, (project_id,)).fetchall())
        assert {r.step: r.reached for r in rows} == counts, "reached differs from GROUP BY"
        repeat = 3 if n < 1_000_000 else 1
        value = best_of(lambda: service_level.step_analytics(ctx, "pia", project_id), repeat)
        baseline = best_of(lambda: raw.execute(sql, (project_id,)).fetchall(), repeat)
    finally:
        raw.close()
        store.close()
    ratio = value / baseline
    return Figure(
        "step_analytics_1m_s",
        value,
        "s",
        "<= 2x raw GROUP BY",
        ratio <= 2.0,
        baseline,
        ratio,
        f"{n:,} prospects, {3 * n:,} history entries; one streamed read of the visits "
        "(integer instants, percentiles in Python) vs a plain GROUP BY count",
    )


# -- the scheduler --


def _due_prospects(url: str, n: int) -> None:
    app, project_id = _setup(url)
    past = NOW - timedelta(days=1)
    try:
        with app.store.unit_of_work() as uow:
            uow.contacts.add_many(
                [
                    Contact(id=f"c{i}", relation_id=f"r{i}", last_name="Jansen", email=f"j{i}@x.nl")
                    for i in range(n)
                ]
            )
            uow.relations.add_many([Relation(f"r{i}", f"Relation {i}") for i in range(n)])
            prospects = []
            for i in range(n):
                owner = UserId(OWNERS[i % len(OWNERS)])
                p = Prospect(
                    id=f"p{i:06d}",
                    project_id=project_id,
                    relation_id=f"r{i}",
                    contact_id=f"c{i}",
                    status=ProspectStatus.RUNNING,
                    last_step="info_asked",
                    owner=owner,
                    history=[
                        HistoryEntry(1, EntryKind.STATUS, T0, owner, detail="running"),
                        HistoryEntry(2, EntryKind.STEP, past, owner, "marketeer", "info_asked"),
                    ],
                )
                p.next_due_at, p.due_step, p.due_role = past, "send_info", "marketeer"
                p.due_automatic = True
                prospects.append(p)
            uow.prospects.add_many(prospects)
            uow.commit()
    finally:
        app.close()


def _drain(url: str, worker: str) -> int:
    store = open_store(url, create=False)
    ctx = Context(store=store, clock=FrozenClock(NOW), definitions=_definitions())
    done = 0
    try:
        while True:
            run = scheduler.run_due(ctx, NOW, limit=20, worker=worker)
            done += len(run.performed)
            if run.claimed == 0:
                return done
    finally:
        store.close()


_RUNS: dict[tuple[str, int], list[dict[str, float]]] = {}
"""Every scheduler run of this process by (mode, processes), for ``--trace``."""

WORKER = Path(__file__).resolve().parent / "_pg_scheduler_worker.py"


def _server_cpu(server: Any) -> float:
    """CPU seconds used so far by the server's processes (postmaster and its children)."""
    assert server.directory is not None
    pid = int((server.directory / "data" / "postmaster.pid").read_text().split()[0])
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if stat.parent.name == str(pid):  # with its children that ended (cutime, cstime)
            total += sum(int(f) for f in fields[11:15])
        elif int(fields[1]) == pid:
            total += int(fields[11]) + int(fields[12])
    return total / tick


def _parallel(server: Any, url: str, mode: str, processes: int) -> dict[str, float]:
    """Drain ``url`` with ``processes`` scheduler processes of ``mode`` started together.

    Returns the rate (timed steps over the slowest process's time), the steps,
    and the client and server CPU milliseconds per step.
    """
    import subprocess

    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), mode, url, f"w{i}"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(processes)
    ]
    try:
        warm = 0
        for p in procs:
            assert p.stdout is not None
            said = p.stdout.readline().split()
            if not said or said[0] != "ready":
                raise RuntimeError(f"{mode} scheduler did not start (said {said!r})")
            warm += int(said[1])
        server_cpu = _server_cpu(server)
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        took, steps, cpu, queued = [], 0, 0.0, 0.0
        for p in procs:
            assert p.stdout is not None
            seconds, done, used, waited = p.stdout.readline().split()
            took.append(float(seconds))
            steps += int(done)
            cpu += float(used)
            queued += float(waited)
            p.wait(timeout=120)
            if p.returncode != 0:
                raise RuntimeError(f"{mode} scheduler failed ({p.returncode})")
        server_cpu = _server_cpu(server) - server_cpu
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    return {
        "rate": steps / max(took),
        "steps": steps + warm,
        "client_ms": 1000 * cpu / max(steps, 1),
        "server_ms": 1000 * server_cpu / max(steps, 1),
        "queued_ms": 1000 * queued / max(steps, 1),
        "wall_ms": 1000 * sum(took) / max(steps, 1),
    }


def _scheduler_figures(quick: bool, rounds: int = 1) -> list[Figure]:
    n = 60 if quick else 1500
    figures: list[Figure] = []
    url = f"sqlite:///{cache_dir() / 'scheduler.db'}"
    _due_prospects(url, n)
    t0 = time.perf_counter()
    done = _drain(url, "w1")
    sqlite_rate = done / (time.perf_counter() - t0)
    assert done == n, f"performed {done} of {n}"
    figures.append(
        Figure(
            "scheduler_steps_s_sqlite",
            sqlite_rate,
            "steps/s",
            "reported",
            True,
            note=f"{n} automatic e-mail steps by one scheduler on SQLite",
        )
    )
    from crm_procedures.testing.postgres import PostgresNotAvailable, PostgresServer

    try:
        server = PostgresServer().start()
    except PostgresNotAvailable as exc:
        print(f"# no PostgreSQL for the scheduler figures: {exc}", flush=True)
        return figures
    cores = os.cpu_count() or 1
    runs = _RUNS
    try:
        template = "sched_template"
        server.create_database(template)
        _due_prospects(server.url(template), n)
        number = 0
        for _ in range(rounds):
            # ours and raw alternate, so that a change in the machine's other load hits both
            for processes in (1, 4):
                for mode in ("ours", "raw"):
                    number += 1
                    pg_url = server.create_database(f"sched_{number}", template=template)
                    got = _parallel(server, pg_url, mode, processes)
                    assert got["steps"] == n, f"{mode} x{processes} performed {got['steps']} of {n}"
                    runs.setdefault((mode, processes), []).append(got)
                    server.drop_database(f"sched_{number}")
    finally:
        server.stop()

    def best(mode: str, processes: int) -> dict[str, float]:
        return max(runs[(mode, processes)], key=lambda r: r["rate"])

    ours_1, ours_4, raw_1, raw_4 = best("ours", 1), best("ours", 4), best("raw", 1), best("raw", 4)
    goal = 0.8 * min(cores, 4)
    scaling = ours_4["rate"] / ours_1["rate"]
    raw_scaling = raw_4["rate"] / raw_1["rate"]
    cpu = (
        f"CPU per step: ours {ours_1['client_ms']:.2f} ms client + {ours_1['server_ms']:.2f} ms "
        f"server, raw {raw_1['client_ms']:.2f} + {raw_1['server_ms']:.2f}"
    )
    figures.append(
        Figure(
            "scheduler_steps_s_pg_1",
            ours_1["rate"],
            "steps/s",
            "reported",
            True,
            raw_1["rate"],
            raw_1["rate"] / ours_1["rate"],
            f"{n} steps, one scheduler process on PostgreSQL; baseline: raw psycopg doing the "
            f"same claim, reads and writes; {cpu}; {cores} cores",
        )
    )
    figures.append(
        Figure(
            "scheduler_steps_s_pg_4",
            ours_4["rate"],
            "steps/s",
            f">= {goal:.1f}x one process ({cores} cores)",
            scaling >= goal,
            ours_1["rate"],
            scaling,
            f"{n} steps, 4 scheduler processes sharing one PostgreSQL database; {cores} cores; "
            f"raw psycopg: {raw_4['rate']:.0f}/s, {raw_scaling:.2f}x its one process",
        )
    )
    figures.append(
        Figure(
            "scheduler_pg_scaling_vs_raw",
            scaling / raw_scaling,
            f"ratio of ratios ({cores} cores)",
            "reported (1.0: scales as well as raw psycopg)",
            True,
            raw_scaling,
            None,
            f"ours 4-over-1 {scaling:.2f}x against raw psycopg's 4-over-1 {raw_scaling:.2f}x in "
            f"the same run; {cores} cores shared by the server, the clients and other work",
        )
    )
    return figures


def run(quick: bool) -> list[Figure]:
    """The cadence figures (see the module documentation)."""
    n = 5_000 if quick else 1_000_000
    path, url, project_id = _big(n)
    figures = [_due_page(n, path, url), _analytics(n, path, url, project_id)]
    figures.extend(_scheduler_figures(quick))
    return figures


if __name__ == "__main__":
    # ``--scheduler [ROUNDS]``: only the scheduler figures, best of ROUNDS alternating runs
    if "--scheduler" in sys.argv:
        at = sys.argv.index("--scheduler") + 1
        rounds = int(sys.argv[at]) if at < len(sys.argv) and sys.argv[at].isdigit() else 1
        found = _scheduler_figures("--quick" in sys.argv, rounds)
    else:
        found = run(quick="--quick" in sys.argv)
    if "--trace" in sys.argv:
        for key, got in sorted(_RUNS.items()):
            for r in got:
                print(key, {k: round(v, 2) for k, v in r.items()})
    for f in found:
        print(f"{f.name}: {f.value:.4g} {f.unit}; baseline {f.baseline}; ratio {f.ratio}; {f.note}")

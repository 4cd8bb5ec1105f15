"""A step through the services on PostgreSQL, by one and by four processes.

``perform_step_pg_ops_s_1``: steps per second of
:func:`crm_procedures.services.campaigns.perform_step` (the W7 ``call`` step,
one unit of work each: user, groups, project, pinned definitions, matrix
check, prospect, history, activity, audit, commit) in one process on a
throwaway PostgreSQL server (:class:`crm_procedures.testing.postgres.PostgresServer`,
durability off as in the test suites); baseline: raw ``psycopg`` doing the
step's core statements (read the row, update it with its version check,
append a history row, commit) in one process on the same server.

``perform_step_pg_ops_s_4``: the same by four processes at once, each on
prospects of its own; baseline: four raw ``psycopg`` processes.
``perform_step_pg_scaling_4`` is the four-process rate over the one-process
rate of the services, judged against the core count of the run (goal:
>= 0.8 x cores; both the server and the clients share those cores), and
``perform_step_pg_scaling_vs_raw`` that scaling over the raw processes'
(a ratio of ratios: what the machine allowed in the same run).

Every process is started, imports, connects and warms up (ten steps) before
a common "go"; the rate is all steps over the slowest process's time.

Run: ``python benchmarks/run.py --only pg``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _data
from _common import PROSPECT_COLUMNS, Figure

SRC = Path(__file__).resolve().parents[1] / "src"
WARM = 10

_WORKER = r"""
import sys, time
mode, url, ids = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
warm, work = ids[:WARM], ids[WARM:]
if mode == "ours":
    from datetime import UTC, datetime
    from crm_procedures import CrmApp, standard_definitions
    from crm_procedures.adapters.sql import open_store
    from crm_procedures.services import campaigns
    from crm_procedures.testing import FrozenClock
    store = open_store(url, create=False)
    crm = CrmApp(store=store, clock=FrozenClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC)),
                 definitions=standard_definitions())
    def step(pid):
        campaigns.perform_step(crm.ctx, "ann", pid, "call", role="marketeer")
else:
    import psycopg
    from urllib.parse import parse_qs, urlsplit
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    conn = psycopg.connect(host=query["host"][0], port=int(query["port"][0]),
                           user=parts.username, dbname=parts.path.lstrip("/"))
    stamp = "2026-01-05T09:00:00+00:00"
    def step(pid):
        with conn.cursor() as cur:
            cur.execute("SELECT version, history_count, status, last_step, project_id "
                        "FROM prospects WHERE id = %s", (pid,))
            row = cur.fetchone()
            cur.execute("UPDATE prospects SET last_step = 'call', stage = 'prospect', "
                        "version = %s, history_count = %s WHERE id = %s AND version = %s",
                        (row[0] + 1, row[1] + 1, pid, row[0]))
            cur.execute("INSERT INTO prospect_history VALUES (%s, %s, 'step', %s, 'ann', "
                        "'marketeer', 'call', NULL, NULL, '', %s, 0, %s)",
                        (pid, row[1] + 1, stamp, row[4], 1767603600000000))
        conn.commit()
for pid in warm:
    step(pid)
print("ready", flush=True)
sys.stdin.readline()
def queued():
    try:
        with open("/proc/self/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0
t0, c0, q0 = time.perf_counter(), time.process_time(), queued()
for pid in work:
    step(pid)
print(time.perf_counter() - t0, time.process_time() - c0, queued() - q0, flush=True)
""".replace("WARM", str(WARM))


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    return env


RUNS: list[tuple[str, int, float, float, float]] = []
"""(mode, processes, rate, client CPU ms per step, ms per step waiting for a CPU) of each run."""


def _rate(mode: str, url: str, batches: list[list[str]]) -> float:
    """Steps per second of ``len(batches)`` processes started together."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, mode, url, ",".join(batch)],
            env=_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for batch in batches
    ]
    try:
        for p in procs:
            assert p.stdout is not None
            line = p.stdout.readline().strip()
            if line != "ready":
                raise RuntimeError(f"{mode} worker did not start (said {line!r})")
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        took, cpu, queued = [], 0.0, 0.0
        for p in procs:
            assert p.stdout is not None
            seconds, used, waited = p.stdout.readline().split()
            took.append(float(seconds))
            cpu += float(used)
            queued += float(waited)
            p.wait(timeout=60)
            if p.returncode != 0:
                raise RuntimeError(f"{mode} worker failed ({p.returncode})")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    steps = sum(len(b) - WARM for b in batches)
    rate = steps / max(took)
    RUNS.append((mode, len(batches), rate, 1000 * cpu / steps, 1000 * queued / steps))
    return rate


def _fill(url: str, project_id: str, n: int) -> list[str]:
    """``n`` running prospects with nothing done yet (the marketeer may call each)."""
    from urllib.parse import parse_qs, urlsplit

    import psycopg

    parts = urlsplit(url)
    query = parse_qs(parts.query)
    rows = [
        (
            f"p{i:07d}",
            project_id,
            f"r{i:07d}",
            None,
            "running",
            None,
            "suspect",
            None,
            None,
            None,
            _data.NULL_KEY,
            None,
            _data.EMPLOYEES[i % len(_data.EMPLOYEES)],
            1,
            0,
        )
        for i in range(n)
    ]
    with psycopg.connect(
        host=query["host"][0],
        port=int(query["port"][0]),
        user=parts.username,
        dbname=parts.path.lstrip("/"),
    ) as conn:
        with conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO prospects ({PROSPECT_COLUMNS}) VALUES ({','.join(['%s'] * 15)})", rows
            )
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE prospects")
    return [r[0] for r in rows]


def run(quick: bool) -> list[Figure]:
    """The PostgreSQL step figures (see the module documentation)."""
    from crm_procedures.testing.postgres import PostgresServer

    per_proc = 40 if quick else 300
    procs = 4
    cores = os.cpu_count() or 1
    need = 2 * (1 + procs) * (per_proc + WARM)
    with PostgresServer() as server:
        url = server.create_database("bench")
        app, project_id = _data._setup(url)
        app.close()
        ids = iter(_fill(url, project_id, need + 1_000))

        def batches(count: int) -> list[list[str]]:
            return [[next(ids) for _ in range(per_proc + WARM)] for _ in range(count)]

        ours_1 = _rate("ours", url, batches(1))
        raw_1 = _rate("raw", url, batches(1))
        ours_4 = _rate("ours", url, batches(procs))
        raw_4 = _rate("raw", url, batches(procs))
    quick_note = " (quick: few steps)" if quick else ""
    scaling = ours_4 / ours_1
    raw_scaling = raw_4 / raw_1
    return [
        Figure(
            "perform_step_pg_ops_s_1",
            ours_1,
            "steps/s",
            "<= 5x raw (issue 20)",
            raw_1 / ours_1 <= 5,
            raw_1,
            raw_1 / ours_1,
            f"campaigns.perform_step() on PostgreSQL, 1 process, {per_proc} steps; baseline: "
            f"psycopg select + update + history insert + commit (ratio of times){quick_note}",
        ),
        Figure(
            "perform_step_pg_ops_s_4",
            ours_4,
            "steps/s",
            "<= 5x raw (issue 20)",
            raw_4 / ours_4 <= 5,
            raw_4,
            raw_4 / ours_4,
            f"the same by {procs} processes on distinct prospects, {cores} cores; baseline: "
            f"{procs} raw psycopg processes{quick_note}",
        ),
        Figure(
            "perform_step_pg_scaling_4",
            scaling,
            f"x one process ({cores} cores)",
            f">= 0.8 x cores = {0.8 * min(cores, procs):.1f}",
            scaling >= 0.8 * min(cores, procs),
            raw_4 / raw_1,
            None,
            f"services at {procs} processes over 1; baseline: the raw psycopg 4-over-1",
        ),
        Figure(
            "perform_step_pg_scaling_vs_raw",
            scaling / raw_scaling,
            f"ratio of ratios ({cores} cores)",
            "reported (1.0: scales as well as raw psycopg)",
            True,
            raw_scaling,
            None,
            f"services 4-over-1 {scaling:.2f}x against raw psycopg's 4-over-1 "
            f"{raw_scaling:.2f}x in the same run; {cores} cores shared by the server, the "
            f"clients and other work{quick_note}",
        ),
    ]


if __name__ == "__main__":
    for f in run(quick="--quick" in sys.argv):
        print(f"{f.name}: {f.value:.4g} {f.unit}; baseline {f.baseline}; ratio {f.ratio}")
    if "--trace" in sys.argv:
        for mode, count, rate, cpu, queued in RUNS:
            print(
                f"{mode} x{count}: {rate:.0f} steps/s, client CPU {cpu:.2f} ms/step, "
                f"waiting for a CPU {queued:.2f} ms/step"
            )

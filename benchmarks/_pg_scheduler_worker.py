"""One scheduler process of the PostgreSQL scheduler figures (``bench_cadence``).

``python _pg_scheduler_worker.py MODE URL WORKER``: connects, performs
:data:`WARM` due steps (imports, prepared statements and caches are warm
after them), prints ``ready``, waits for a line on stdin, then drains the
due automatic steps until none is left and prints
``<seconds> <steps> <cpu seconds>`` (the timed steps only; cpu is this
process's own, the server's is not in it).

``MODE`` ``ours``: :func:`crm_procedures.services.scheduler.run_due` with
``limit=20``. ``MODE`` ``raw``: ``psycopg`` doing the same statements by
hand: a claim (``FOR UPDATE SKIP LOCKED`` over the due index, leases
upserted), then per prospect one transaction that checks its lease, reads the
prospect and its contact, writes the outbox message, the sent-message record,
the activity, the prospect's update with its version check, its two history
rows and the audit row, and drops the lease.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
WARM = 2
BATCH = 20


def _ours(url: str, worker: str) -> Any:
    from crm_procedures import standard_definitions
    from crm_procedures.adapters.sql import open_store
    from crm_procedures.demo import _with_cadence
    from crm_procedures.services import scheduler
    from crm_procedures.services.context import Context
    from crm_procedures.testing import FrozenClock

    store = open_store(url, create=False)
    ctx = Context(
        store=store, clock=FrozenClock(NOW), definitions=_with_cadence(standard_definitions())
    )

    def batch(limit: int) -> tuple[int, int]:
        run = scheduler.run_due(ctx, NOW, limit=limit, worker=worker)
        if os.environ.get("BENCH_TRACE"):
            print(
                worker,
                time.perf_counter(),
                run.claimed,
                len(run.performed),
                len(run.skipped),
                len(run.failed),
                file=sys.stderr,
            )
        return run.claimed, len(run.performed)

    return batch


_CLAIM = (
    "SELECT id FROM prospects WHERE due_automatic AND next_due_key <= %s "
    "AND status = 'running' AND NOT EXISTS (SELECT 1 FROM prospect_leases l "
    "WHERE l.prospect_id = prospects.id AND l.until_key > %s) "
    "ORDER BY next_due_key, id LIMIT %s FOR UPDATE OF prospects SKIP LOCKED"
)
_LEASE = (
    "INSERT INTO prospect_leases (prospect_id, worker, until_key) VALUES (%s, %s, %s) "
    "ON CONFLICT (prospect_id) DO UPDATE SET worker = EXCLUDED.worker, "
    "until_key = EXCLUDED.until_key WHERE prospect_leases.until_key <= %s "
    "OR prospect_leases.worker = EXCLUDED.worker"
)
_MESSAGE = (
    "From: CRM <crm@example.com>\r\nTo: {name} <{to}>\r\nSubject: Information about "
    "Cadence\r\nMessage-ID: <{mid}@example.com>\r\nMIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n\r\nDear {name},\r\n\r\nAs promised.\r\n"
)


def _raw(url: str, worker: str) -> Any:
    import uuid

    import psycopg

    parts = urlsplit(url)
    query = parse_qs(parts.query)
    conn = psycopg.connect(
        host=query["host"][0],
        port=int(query["port"][0]),
        user=parts.username,
        dbname=parts.path.lstrip("/"),
    )
    at = NOW.isoformat()
    at_us = int(NOW.timestamp() * 1_000_000)
    now_key = int(NOW.timestamp() * 1_000_000)
    until_key = now_key + 300 * 1_000_000
    next_key = now_key + 3 * 86_400 * 1_000_000

    def perform(cur: Any, pid: str) -> bool:
        # the prospect row first, then its lease: the order a claim takes them in
        cur.execute(
            "SELECT l.worker, l.until_key, p.version, p.history_count, p.project_id, "
            "p.relation_id, p.contact_id, p.due_step, p.due_automatic FROM prospects p "
            "JOIN prospect_leases l ON l.prospect_id = p.id WHERE p.id = %s FOR UPDATE",
            (pid,),
        )
        row = cur.fetchone()
        if row is None or row[0] != worker or row[1] <= now_key:
            return False
        version, count, project, relation, contact, step, automatic = row[2:]
        if not automatic or step != "send_info":
            return False
        cur.execute("SELECT data FROM contacts WHERE id = %s", (contact,))
        person = json.loads(cur.fetchone()[0])
        mid, box, act = uuid.uuid4().hex, uuid.uuid4().hex, uuid.uuid4().hex
        payload = json.dumps(
            {"message": _MESSAGE.format(name=person["last_name"], to=person["email"], mid=mid)}
        )
        cur.execute(
            "INSERT INTO outbox (id, key, channel, payload, created_key, created_at, due_key, "
            "due_at, status, attempts, version, recipients) VALUES "
            "(%s, %s, 'mail', %s, %s, %s, %s, %s, 'pending', 0, 1, %s)",
            (
                box,
                f"prospect:{pid}:entry:{count + 2}:mail",
                payload,
                now_key,
                at,
                now_key,
                at,
                json.dumps([person["email"]]),
            ),
        )
        cur.execute(
            "INSERT INTO sent_messages (id, version, data) VALUES (%s, 1, %s)",
            (f"<{mid}@example.com>", json.dumps({"outbox_id": box, "prospect_id": pid})),
        )
        cur.execute(
            "INSERT INTO activities (id, employee, relation_id, project_id, start_key, "
            "created_key, completed, kind, outcome, version, data) VALUES "
            "(%s, 'system', %s, %s, %s, %s, true, 'contact', 'send_info', 1, %s)",
            (
                act,
                relation,
                project,
                now_key,
                now_key,
                json.dumps({"id": act, "kind": "contact", "subject": "Send information"}),
            ),
        )
        cur.execute(
            "UPDATE prospects SET last_step = 'send_info', stage = 'prospect', version = %s, "
            "history_count = %s, next_due_key = %s, due_step = 'call_back', "
            "due_automatic = false WHERE id = %s AND version = %s",
            (version + 1, count + 2, next_key, pid, version),
        )
        cur.execute(
            "INSERT INTO prospect_history (prospect_id, seq, kind, at, actor, role, step, "
            "detail, note, project_id, superseded, at_us) VALUES "
            "(%s, %s, 'step', %s, 'system', 'marketeer', 'send_info', NULL, '', %s, 0, %s), "
            "(%s, %s, 'stage', %s, 'system', NULL, NULL, 'prospect', '', %s, 0, %s)",
            (pid, count + 1, at, project, at_us, pid, count + 2, at, project, at_us),
        )
        cur.execute(
            "INSERT INTO audit (record_kind, record_id, version, at, actor, action, changes) "
            "VALUES ('prospect', %s, %s, %s, 'system', 'perform', %s)",
            (pid, version + 1, at, '{"history":["","marketeer: send_info"]}'),
        )
        cur.execute(
            "DELETE FROM prospect_leases WHERE prospect_id = %s AND worker = %s", (pid, worker)
        )
        return True

    def batch(limit: int) -> tuple[int, int]:
        with conn.cursor() as cur:
            cur.execute(_CLAIM, (now_key, now_key, limit))
            ids = [r[0] for r in cur.fetchall()]
            if ids:
                cur.executemany(_LEASE, [(pid, worker, until_key, now_key) for pid in ids])
        conn.commit()
        done = 0
        for pid in ids:
            with conn.cursor() as cur:
                done += perform(cur, pid)
            conn.commit()
        return len(ids), done

    return batch


def _queued() -> float:
    """Seconds this process has waited for a CPU (runnable, not running), where Linux says."""
    try:
        with open("/proc/self/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def main(argv: list[str]) -> int:
    mode, url, worker = argv
    batch = _ours(url, worker) if mode == "ours" else _raw(url, worker)
    warm = batch(WARM)[1]
    print("ready", warm, flush=True)
    sys.stdin.readline()
    t0, c0, q0 = time.perf_counter(), time.process_time(), _queued()
    done = 0
    while True:
        claimed, performed = batch(BATCH)
        done += performed
        if claimed == 0:
            break
    took, cpu, queued = time.perf_counter() - t0, time.process_time() - c0, _queued() - q0
    print(took, done, cpu, queued, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

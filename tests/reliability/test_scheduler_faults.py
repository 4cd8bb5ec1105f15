"""Issue 18, ``scheduler_faults``: scheduler processes SIGKILLed at random, restarted.

Several scheduler processes (:mod:`reliability.scheduler_workers`) share one
database of prospects whose automatic information e-mail is due. They kill
themselves at random just before or just after a unit of work commits (a
claim, a step, a lease released) and are restarted until the kills wanted
have happened; then schedulers without kills finish the work. Leases are
short, so a killed scheduler's claims run out and others take them over.

Figures (the full run: 10,000 due steps, 3 processes, PostgreSQL, 30 kills):

* ``scheduler_faults_performed_twice``: prospects whose e-mail step is in
  the history more than once (0);
* ``scheduler_faults_skipped``: prospects whose step was never performed (0);
* ``scheduler_faults_outbox_mismatches``: prospects without exactly one
  e-mail in the outbox (0);
* ``scheduler_faults_kills``: SIGKILLs that happened.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections import Counter

import pytest

from crm_procedures.adapters.sql import open_store
from crm_procedures.model.prospect import EntryKind
from reliability.conftest import SQL_BACKENDS
from reliability.figures import FULL, record, size
from reliability.scheduler_workers import email, fill, prospect_id
from reliability.world import TESTS

STEPS = size(40, 10_000)
PROCESSES = 3
KILLS = size(3, 30)
KILL_RATE = size(40, 4) / 1000
LEASE = 1.0
DEADLINE = size(240, 3600)

# The bounded run (the ordinary suite) uses SQLite; the full run PostgreSQL.
BACKENDS = SQL_BACKENDS[1:] if FULL else SQL_BACKENDS[:1]


def spawn(url: str, seed: int, kill_rate: float, epoch: float) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH")]))
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reliability.scheduler_workers",
            url,
            str(seed),
            str(kill_rate),
            str(LEASE),
            str(epoch),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def run_schedulers(url: str) -> tuple[int, list[str]]:
    """Schedulers until nothing is due: killing ones until KILLS kills, then calm ones."""
    kills, seed = 0, 0
    errors: list[str] = []
    workers: list[subprocess.Popen[bytes]] = []
    started = time.monotonic()
    epoch = time.time()
    try:
        for _ in range(PROCESSES):
            seed += 1
            workers.append(spawn(url, seed, KILL_RATE, epoch))
        while workers and time.monotonic() - started < DEADLINE:
            time.sleep(0.05)
            for proc in list(workers):
                code = proc.poll()
                if code is None:
                    continue
                workers.remove(proc)
                if code == -9:
                    kills += 1
                    seed += 1
                    workers.append(spawn(url, seed, KILL_RATE if kills < KILLS else 0.0, epoch))
                elif code != 0:
                    errors.append(proc.stderr.read().decode()[-3000:] if proc.stderr else "")
    finally:
        for proc in workers:
            proc.kill()
            proc.wait()
    return kills, errors


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
def test_scheduler_faults_no_step_twice_none_skipped_one_e_mail_each(database_url: str) -> None:
    fill(database_url, STEPS)
    kills, errors = run_schedulers(database_url)
    assert not errors, errors[0]
    store = open_store(database_url, create=False)
    try:
        with store.unit_of_work(read_only=True) as uow:
            performed: Counter[str] = Counter()
            for i in range(STEPS):
                p = uow.prospects.get(prospect_id(i))
                performed[p.id] = sum(
                    1 for e in p.history if e.kind is EntryKind.STEP and e.step == "send_info"
                )
            mails: Counter[str] = Counter()
            for message in uow.outbox.list(limit=10 * STEPS):
                if message.channel != "mail":
                    continue
                found = re.search(
                    r"^To: .*?contact-(\d+)@example\.nl", message.payload["message"], re.M
                )
                if found:
                    mails[email(int(found.group(1)))] += 1
    finally:
        store.close()
    twice = sum(1 for n in performed.values() if n > 1)
    skipped = sum(1 for n in performed.values() if n == 0)
    mismatches = sum(1 for i in range(STEPS) if mails[email(i)] != 1)
    record("scheduler_faults_steps", STEPS, f">= {STEPS}", accumulate=True)
    record("scheduler_faults_performed_twice", twice, "== 0", accumulate=True)
    record("scheduler_faults_skipped", skipped, "== 0", accumulate=True)
    record("scheduler_faults_outbox_mismatches", mismatches, "== 0", accumulate=True)
    record("scheduler_faults_kills", kills, f">= {KILLS}", accumulate=True)
    assert (twice, skipped, mismatches) == (0, 0, 0)
    assert kills >= 1

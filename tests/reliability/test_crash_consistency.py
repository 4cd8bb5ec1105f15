"""Item 4, ``crash_consistency``: SIGKILL during imports and step performs on SQLite.

A worker process imports suspects and performs steps in a loop, writing a
journal line before each unit of work and after it returned. It is killed
with SIGKILL at random moments. After every kill the database must pass
``PRAGMA integrity_check`` and every unit of work must be wholly there or
wholly absent: an import's relations, contacts and prospects all or none; a
step's history entry, its activity and its e-mail together or not at all;
and a unit the journal saw finish must be there.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from crm_procedures.access.viewer import Viewer
from crm_procedures.adapters.sql import open_store
from reliability.figures import record, size
from reliability.world import TESTS, prepare_campaign

KILLS = size(6, 60)


def _journal(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            # The kill may cut the last journal line short: that unit never began.
            continue
    return entries


def _run_and_kill(url: str, seed: int, journal: Path, rng: random.Random) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH")]))
    before = len(_journal(journal))
    proc = subprocess.Popen(
        [sys.executable, "-m", "reliability.workers", "crash", url, str(seed), str(journal)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    # Wait until the worker is at work, then let it run a random while.
    while len(_journal(journal)) == before and time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise AssertionError(f"the worker stopped by itself: {err[-2000:]}")
        time.sleep(0.01)
    time.sleep(rng.uniform(0.0, 0.6))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.returncode


def _check(url: str, db: Path, project: str, journal: list[dict[str, object]]) -> Counter[str]:
    """Compare the database with the journal; returns counts of what was found."""
    found: Counter[str] = Counter()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        names = [r[0] for r in conn.execute("SELECT name FROM relations")]
        counts = conn.execute(
            "SELECT p.id, p.history_count, (SELECT count(*) FROM prospect_history h "
            "WHERE h.prospect_id = p.id) FROM prospects p"
        ).fetchall()
        notes = Counter(
            json.loads(r[0]).get("note", "") for r in conn.execute("SELECT data FROM activities")
        )
    for pid, stated, rows in counts:
        assert stated == rows, f"prospect {pid}: history_count {stated}, {rows} history rows"
    store = open_store(url, create=False)
    try:
        with store.unit_of_work() as uow:
            prospects = {p.id: p for p in uow.prospects.of_project(project, Viewer.system())}
            keys = {m.key for m in uow.outbox.list(limit=1_000_000)}
    finally:
        store.close()
    relations_of = {p.relation_id for p in prospects.values()}
    # Names are normalised on import (capitals): compare them folded.
    by_name = Counter(
        n.lower().split(" member ")[0] for n in names if n.lower().startswith("batch ")
    )
    done = {(e["op"], e["tag"]) for e in journal if e["state"] == "done"}
    for entry in journal:
        if entry["state"] != "begin":
            continue
        tag = str(entry["tag"])
        if entry["op"] == "import":
            have = by_name[f"batch {tag}"]
            assert have in (0, entry["rows"]), f"import {tag}: {have} of {entry['rows']} rows"
            if ("import", tag) in done:
                assert have == entry["rows"], f"import {tag} finished but is missing"
            found["import_after" if have else "import_before"] += 1
            continue
        p = prospects[str(entry["prospect"])]
        entries = [e for e in p.history if e.note == tag]
        assert len(entries) in (0, 1), f"perform {tag} recorded {len(entries)} times"
        assert notes[tag] == len(entries), f"perform {tag}: activity and history disagree"
        if entries and entry["step"] == "send_info":
            # The e-mail's key numbers the newest entry the step wrote: the step
            # itself, or the stage entry after it when the step made a prospect.
            seq = entries[0].seq
            wanted = {f"prospect:{p.id}:entry:{n}:mail" for n in (seq, seq + 1)}
            assert wanted & keys, f"perform {tag}: the e-mail of the step is missing"
        if ("perform", tag) in done:
            assert entries, f"perform {tag} finished but is missing"
        found["perform_after" if entries else "perform_before"] += 1
    assert all(p.relation_id in relations_of for p in prospects.values())
    return found


def test_killed_units_of_work_are_wholly_there_or_wholly_absent(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    url = f"sqlite:///{db}"
    project = prepare_campaign(url, 20)
    journal_path = tmp_path / "journal.jsonl"
    rng = random.Random(20260302)
    violations = 0
    totals: Counter[str] = Counter()
    try:
        for kill in range(KILLS):
            _run_and_kill(url, kill + 1, journal_path, rng)
            totals = _check(url, db, project, _journal(journal_path))
    except AssertionError:
        violations += 1
        raise
    finally:
        record("crash_consistency.kills", KILLS, f">= {KILLS}")
        record("crash_consistency.units_checked", totals.total(), ">= 1")
        record("crash_consistency.violations", violations, "== 0")
    interrupted = totals["import_before"] + totals["perform_before"]
    record("crash_consistency.units_cut_by_a_kill", interrupted, ">= 0")
    assert totals["import_after"] > 0, totals
    assert totals["perform_after"] > 0, totals

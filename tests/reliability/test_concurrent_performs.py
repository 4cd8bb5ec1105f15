"""Item 2, ``concurrent_performs``: many processes performing steps on the same few prospects.

Each worker process reads a prospect, then performs the next step with the
version it read (``expected_version``), as a user acting on what the screen
showed. Every attempt must end as a commit or a ConcurrencyConflict; the
histories must hold exactly the committed steps, each once, and every
prospect's version must count them (no lost update, no double).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from crm_procedures.access.viewer import Viewer
from crm_procedures.adapters.sql import open_store
from crm_procedures.model.prospect import EntryKind
from reliability.conftest import SQL_BACKENDS
from reliability.figures import record, size
from reliability.world import prepare_campaign, run_workers

PROCESSES = size(4, 8)
ATTEMPTS = size(25, 500)
PROSPECTS = 10


@pytest.mark.parametrize("database_url", SQL_BACKENDS, indirect=True)
def test_concurrent_performs_lose_and_double_nothing(database_url: str, tmp_path: Path) -> None:
    backend = "postgres" if database_url.startswith("postgresql") else "sqlite"
    project = prepare_campaign(database_url, PROSPECTS)
    logs = [tmp_path / f"worker{w}.jsonl" for w in range(PROCESSES)]
    finished = run_workers(
        [
            ["perform", database_url, str(w), str(ATTEMPTS), str(1000 + w), str(logs[w])]
            for w in range(PROCESSES)
        ]
    )
    crashed = [f"{p.args}: {p.stderr[-2000:]}" for p in finished if p.returncode != 0]
    outcomes = [json.loads(line) for log in logs if log.exists() for line in log.open()]
    kinds = Counter(o["result"].split(":")[0] for o in outcomes)
    commits: dict[str, list[dict[str, object]]] = defaultdict(list)
    for o in outcomes:
        if o["result"] == "commit":
            commits[o["prospect"]].append(o)

    store = open_store(database_url, create=False)
    try:
        with store.unit_of_work() as uow:
            stored = {p.id: p for p in uow.prospects.of_project(project, Viewer.system())}
            activities = uow.activities.count()
    finally:
        store.close()
    lost = doubled = 0
    length_mismatch = 0
    for pid, prospect in stored.items():
        notes = Counter(e.note for e in prospect.history if e.kind is EntryKind.STEP)
        mine = {str(o["note"]) for o in commits[pid]}
        lost += sum(1 for note in mine if notes[note] == 0)
        doubled += sum(n - 1 for n in notes.values() if n > 1)
        doubled += sum(1 for note in notes if note not in mine)
        if sum(notes.values()) != len(mine):
            length_mismatch += 1
        # Versions: 1 (import) + 1 (release) + one per committed step, each seen once.
        versions = sorted(int(str(o["version"])) for o in commits[pid])
        if prospect.version != 2 + len(mine) or versions != list(range(3, 3 + len(mine))):
            lost += 1

    attempts = PROCESSES * ATTEMPTS
    unhandled = kinds["unhandled"] + kinds["refused"] + len(crashed)
    label = f"concurrent_performs.{backend}"
    record(f"{label}.attempts", attempts, f">= {PROCESSES * ATTEMPTS}")
    record(f"{label}.commits", kinds["commit"], ">= 1")
    record(f"{label}.conflicts", kinds["conflict"], ">= 0")
    accounted = kinds["commit"] + kinds["conflict"] - attempts
    record(f"{label}.unaccounted_attempts", abs(accounted), "== 0")
    record(f"{label}.history_length_mismatches", length_mismatch, "== 0")
    record(f"{label}.lost_updates", lost, "== 0")
    record(f"{label}.doubled_entries", doubled, "== 0")
    record(f"{label}.unhandled_exceptions", unhandled, "== 0")

    assert not crashed, crashed
    assert len(outcomes) == attempts
    assert kinds["commit"] + kinds["conflict"] == attempts, kinds
    assert kinds["commit"] > 0
    assert (lost, doubled, length_mismatch) == (0, 0, 0)
    assert activities == kinds["commit"], "one activity per committed step"
    assert len(stored) == PROSPECTS

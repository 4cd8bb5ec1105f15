"""Acceptance (X5): 8 processes x 200 attempts to perform a step on one prospect.

Every attempt either commits or raises ConcurrencyConflict; the prospect's
history holds exactly the committed attempts (0 lost updates, nothing
half-written by the losers). ``CRM_QUICK`` shortens the run to 8 x 25. The
same check with threads sharing one store object is part of the shipped
contract suite (``crm_procedures.testing.contracts.concurrency``).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from typing import Any

import attrs
import pytest

from contract.conftest import SQL_ADAPTERS, quick
from contract.workers import Outcome, install, perform_steps, set_up_campaign
from crm_procedures.adapters.sql import open_store
from crm_procedures.testing.contracts.concurrency import check_no_update_lost, state_of

WORKERS = 8
ATTEMPTS = 25 if quick() else 200


@attrs.frozen
class WorkerPool:
    """The worker processes and the barrier they start at."""

    workers: Any
    start: Any

    def run(self, url: str, prospect_id: str) -> list[Outcome]:
        """Every worker performs its attempts at once (they meet at the barrier first)."""
        self.start.reset()
        tasks = [(url, prospect_id, n, ATTEMPTS) for n in range(WORKERS)]
        pending = self.workers.starmap_async(perform_steps, tasks, chunksize=1)
        outcomes: list[Outcome] = pending.get(timeout=300)
        return outcomes


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    """Eight worker processes (spawned, so nothing is inherited but what is sent)."""
    spawn = multiprocessing.get_context("spawn")
    start = spawn.Barrier(WORKERS)
    workers = spawn.Pool(WORKERS, initializer=install, initargs=(start,))
    try:
        yield WorkerPool(workers, start)
    finally:
        workers.terminate()
        workers.join()


@pytest.mark.parametrize("database_url", SQL_ADAPTERS, indirect=True)
def test_processes_performing_steps_on_one_prospect_lose_no_update(
    database_url: str, pool: WorkerPool
) -> None:
    store = open_store(database_url)
    try:
        prospect_id = set_up_campaign(store, WORKERS)
        before = state_of(store, prospect_id)
        outcomes = pool.run(database_url, prospect_id)
        check_no_update_lost(store, prospect_id, before, outcomes, ATTEMPTS)
    finally:
        store.close()

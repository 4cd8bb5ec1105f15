"""Schedulers racing for one lease on PostgreSQL."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest

from contract.conftest import SQL_ADAPTERS
from contract.test_cadence import AMS, _call, _world
from crm_procedures.adapters.sql import open_store


@pytest.mark.parametrize("database_url", SQL_ADAPTERS, indirect=True)
def test_a_claim_racing_a_lease_update_skips_the_prospect_instead_of_failing(
    database_url: str,
) -> None:
    first = open_store(database_url)
    second = open_store(database_url, create=False)
    try:
        ctx, pid = _world(first)
        _call(ctx, pid)
        at = datetime(2026, 4, 7, 10, 5, tzinfo=AMS)
        with first.unit_of_work() as uow:
            assert uow.prospects.lease(pid, "old", at - timedelta(hours=1), at - timedelta(1))
            uow.commit()
        got: list[object] = []
        started = threading.Event()

        def claim() -> None:
            started.set()
            try:
                with second.unit_of_work() as uow:
                    got.append(uow.prospects.claim_due(at, 10, "w2", 60.0))
                    uow.commit()
            except Exception as exc:  # a conflict must not escape the claim
                got.append(exc)

        with first.unit_of_work() as uow:
            # w1 takes the expired lease and holds the row until it commits
            assert uow.prospects.lease(pid, "w1", at, at + timedelta(minutes=5))
            thread = threading.Thread(target=claim)
            thread.start()
            started.wait()
            thread.join(0.5)  # the claim waits for w1's row (PostgreSQL) or the lock (SQLite)
            uow.commit()
        thread.join(30)
        assert got == [[]], got  # w1 holds it: skipped, not an error
        with first.unit_of_work() as uow:
            held = uow.prospects.lease_of(pid)
        assert held is not None
        assert held[0] == "w1"
    finally:
        second.close()
        first.close()


@pytest.mark.parametrize("database_url", SQL_ADAPTERS[-1:], indirect=True)
def test_defect_a_claim_skips_a_prospect_whose_step_runs_instead_of_waiting_on_its_lease(
    database_url: str,
) -> None:
    """A step checks its lease (locking prospect, then lease); a claim locks the same two.

    The step used to lock the lease row alone: a claim that had locked the
    prospect then waited on the lease while the step waited on the prospect,
    and PostgreSQL failed one of them after a second (a deadlock). Now the
    step holds the prospect row, and the claim skips it at once.
    """
    first = open_store(database_url)
    second = open_store(database_url, create=False)
    try:
        ctx, pid = _world(first)
        _call(ctx, pid)
        at = datetime(2026, 4, 7, 10, 5, tzinfo=AMS)
        with first.unit_of_work() as uow:
            assert uow.prospects.lease(pid, "w1", at - timedelta(hours=1), at - timedelta(1))
            uow.commit()
        got: list[object] = []

        def claim() -> None:
            try:
                with second.unit_of_work() as uow:
                    got.append(uow.prospects.claim_due(at, 10, "w2", 60.0))
                    uow.commit()
            except Exception as exc:  # reported by the assertion below
                got.append(exc)

        with first.unit_of_work() as uow:
            held = uow.prospects.lease_of(pid)  # the step's fence: its lease ran out
            assert held is not None
            assert held[0] == "w1"
            thread = threading.Thread(target=claim)
            thread.start()
            thread.join(10)
            waited = thread.is_alive()
            uow.rollback()
        thread.join(30)
        assert not waited, "the claim waited for the step's unit of work"
        assert got == [[]], got
    finally:
        second.close()
        first.close()

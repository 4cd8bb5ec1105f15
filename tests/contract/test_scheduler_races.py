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

"""History rows name their prospect's project and say whether they are superseded (schema 5).

The funnel counts prospects per step over these two columns alone, so they
must follow every write: a correction flags the entry it supersedes (also a
correction written in the same save as its target), and a prospect moved to
another project takes its history rows along.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from contract.conftest import SQL_ADAPTERS
from crm_procedures.adapters._common import utc_us
from crm_procedures.adapters.sql import SqlStore, open_store
from crm_procedures.adapters.sql.store import SqlUnitOfWork
from crm_procedures.model.prospect import EntryKind, HistoryEntry, Prospect
from crm_procedures.serialization import structure
from crm_procedures.services import campaigns, reports, service_level
from crm_procedures.services.context import resolve_viewer
from integration.campaign import make_campaign


def _rows(store: SqlStore, prospect_id: str) -> list[tuple[Any, ...]]:
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT seq, project_id, superseded FROM prospect_history "
            f"WHERE prospect_id = '{prospect_id}' ORDER BY seq"
        ).fetchall()
        conn.rollback()
    return [tuple(r) for r in rows]


@pytest.mark.parametrize("database_url", SQL_ADAPTERS, indirect=True)
def test_a_correction_flags_the_entry_it_supersedes_and_the_funnel_skips_it(
    database_url: str,
) -> None:
    store = open_store(database_url)
    try:
        c = make_campaign(store)
        campaigns.perform_step(c.ctx, "ann", c.acme, "call", role="marketeer")
        project = c.project.id
        assert reports.funnel(c.ctx, "pia", project).steps == {"call": 1}
        history = campaigns.prospect_history(c.ctx, "pia", c.acme)
        (seq,) = [e.seq for e in history if e.kind is EntryKind.STEP]
        campaigns.correct_step(c.ctx, "pia", c.acme, seq, "send_info", role="project_leader")
        flags = {s: f for s, _p, f in _rows(store, c.acme)}
        assert flags[seq] == 1
        assert sum(flags.values()) == 1
        assert {p for _s, p, _f in _rows(store, c.acme)} == {project}
        assert reports.funnel(c.ctx, "pia", project).steps == {"send_info": 1}
        # a reader who may not see prospects in preparation gets the same count
        with store.unit_of_work(read_only=True) as uow:
            ann = resolve_viewer(uow, "ann")
            assert not ann.sees_preparing
            assert isinstance(uow, SqlUnitOfWork)
            assert uow.reports.funnel(project, ann).steps == {"send_info": 1}
    finally:
        store.close()


@pytest.mark.parametrize("database_url", SQL_ADAPTERS, indirect=True)
def test_a_prospect_moved_to_another_project_takes_its_history_along(
    database_url: str,
) -> None:
    store = open_store(database_url)
    try:
        c = make_campaign(store)
        campaigns.perform_step(c.ctx, "ann", c.acme, "call", role="marketeer")
        other = campaigns.start_campaign(
            c.ctx, "pia", relation_id="client", name="Autumn", procedure="standard"
        )
        with store.unit_of_work() as uow:  # loaded in another unit of work than the save
            moved = uow.prospects.get(c.acme)
        with store.unit_of_work() as uow:
            moved.project_id = other.id
            uow.prospects.save(moved)
            uow.commit()
        assert {p for _s, p, _f in _rows(store, c.acme)} == {other.id}
        assert reports.funnel(c.ctx, "pia", c.project.id).steps == {}
        assert reports.funnel(c.ctx, "pia", other.id).steps == {"call": 1}
    finally:
        store.close()


@pytest.mark.parametrize("database_url", SQL_ADAPTERS, indirect=True)
def test_a_correction_added_with_its_target_is_flagged_on_insert(database_url: str) -> None:
    store = open_store(database_url)
    try:
        c = make_campaign(store)
        at = c.clock.now()
        with store.unit_of_work() as uow:
            prospect = Prospect("imported", c.project.id, "bolt")
            prospect.history = [
                HistoryEntry(1, EntryKind.STEP, at, "ann", "marketeer", "call"),
                HistoryEntry(2, EntryKind.CORRECTION, at, "pia", "project_leader", None, 1),
            ]
            uow.prospects.add(prospect)
            uow.commit()
        assert _rows(store, "imported") == [
            (1, c.project.id, 1),
            (2, c.project.id, 0),
        ]
    finally:
        store.close()


@pytest.mark.parametrize("database_url", SQL_ADAPTERS, indirect=True)
def test_every_history_row_holds_its_instant_in_microseconds(database_url: str) -> None:
    store = open_store(database_url)
    try:
        c = make_campaign(store)
        campaigns.perform_step(c.ctx, "ann", c.acme, "call", role="marketeer")
        c.clock.advance(hours=5, minutes=7, seconds=3)
        campaigns.perform_step(c.ctx, "ann", c.acme, "call_back", role="marketeer")
        campaigns.close_all(c.ctx, "pia", c.project.id, "not_interested")
        with store.engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT at, at_us FROM prospect_history").fetchall()
            conn.rollback()
        assert len(rows) >= 6
        assert all(us == utc_us(structure(at, datetime)) for at, us in rows)
        report = service_level.step_analytics(c.ctx, "pia", c.project.id)
        (call,) = [r for r in report if r.step == "call"]
        assert call.median == timedelta(hours=5, minutes=7, seconds=3)
        # a row written by another tool without at_us is counted from its text
        with store.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE prospect_history SET at_us = NULL")
        assert service_level.step_analytics(c.ctx, "pia", c.project.id) == report
    finally:
        store.close()

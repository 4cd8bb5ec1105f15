"""Store boundaries of issue 16 beyond the store port: services and SQLite.

What every store must do at its boundary (defect 12 refusals and reads,
defect 5 visibility predicates, defect 20 read-only refusals) ships in
:mod:`crm_procedures.testing.contracts.boundaries` and runs on every store
through ``test_store_contracts.py``. Here:

* 5: through the services, a user without permissions reads no report but
  their own.
* 12: a row-by-row import reports a row holding text no store can keep and
  goes on.
* 19: a SQLite lock timeout is StoreBusy naming the operation.
* 20: on SQLite (WAL) a read-only unit of work reads beside a writer without
  either waiting.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract.conftest import dump, sqlite_url
from crm_procedures.adapters.sql import open_store
from crm_procedures.errors import ConcurrencyConflict, InvalidInput, NotFound, StoreBusy
from crm_procedures.ids import GroupId, RelationId, UserId, VisitReportId
from crm_procedures.model.users import Group, User
from crm_procedures.ports import Store
from crm_procedures.services import visits
from crm_procedures.services.context import Context
from crm_procedures.services.imports import import_suspects
from crm_procedures.testing.builders import a_project, a_relation, a_visit_report
from crm_procedures.testing.clock import FrozenClock
from crm_procedures.testing.contracts.boundaries import REFUSED_CHARACTERS, find_nothing, forced

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
HYPOTHESIS = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

BAD_CHARACTERS = st.sampled_from(REFUSED_CHARACTERS)


@st.composite
def unstorable_text(draw: st.DrawFn) -> str:
    """Any text with NUL or a lone surrogate somewhere in it."""
    base = draw(st.text(max_size=20))
    at = draw(st.integers(0, len(base)))
    return base[:at] + draw(BAD_CHARACTERS) + base[at:]


# -- defect 12 (the shipped BoundaryContract runs a fixed table of such texts) --


@HYPOTHESIS
@given(text=unstorable_text(), field=st.sampled_from(["id", "name", "notes", "account_manager"]))
def test_defect_12_every_store_refuses_any_text_it_cannot_hold_alike(
    store: Store, text: str, field: str
) -> None:
    before = dump(store)
    with store.unit_of_work() as uow:
        with pytest.raises(InvalidInput) as refused:
            uow.relations.add(forced(a_relation(), **{field: text}))
        assert refused.value.field == field
        uow.commit()
    assert dump(store) == before


@HYPOTHESIS
@given(text=unstorable_text())
def test_defect_12_reads_by_any_text_no_store_holds_find_nothing(store: Store, text: str) -> None:
    with store.unit_of_work(read_only=True) as uow:
        find_nothing(uow, text)


def test_defect_12_a_row_by_row_import_reports_such_a_row_and_goes_on(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.groups.add(Group(GroupId("m"), "M", {"prospect.write", "project.write"}))
        uow.users.add(User(UserId("mia"), "Mia", groups={GroupId("m")}))
        uow.relations.add(a_relation(id="client"))
        uow.projects.add(a_project(id="p1", relation_id="client"))
        uow.commit()
    ctx = Context(store, FrozenClock(NOW), new_id=iter(f"id{n}" for n in range(100)).__next__)
    rows = [{"name": "Molen B.V."}, {"name": "Evil\ud800Co"}, {"name": "Bakker B.V."}]
    report = import_suspects(ctx, "mia", "p1", rows)
    assert report.imported == 2
    assert [r.line for r in report.rejected] == [2]


# -- defect 5 (the store predicates are in the shipped BoundaryContract) --


def test_defect_05_a_user_without_permissions_reads_no_visit_report(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.groups.add(Group(GroupId("sales"), "Sales", {"visit_report.write"}))
        uow.users.add(User(UserId("anna"), "Anna", groups={GroupId("sales")}))
        uow.users.add(User(UserId("nobody"), "Nobody"))
        uow.relations.add(a_relation(id="r1", account_manager=UserId("anna")))
        uow.visit_reports.add(
            a_visit_report(
                id=VisitReportId("v1"), relation_id=RelationId("r1"), account_manager="anna"
            )
        )
        uow.commit()
    ctx = Context(store, FrozenClock(NOW))
    assert [r.id for r in visits.search_reports(ctx, "anna")] == ["v1"]
    assert visits.search_reports(ctx, "nobody") == []
    assert visits.search_reports(ctx, "nobody", account_manager="anna") == []
    with pytest.raises(NotFound):
        visits.get_report(ctx, "nobody", "v1")
    with pytest.raises(NotFound):
        visits.report_history(ctx, "nobody", "v1")


# -- SQLite: defects 19 and 20 --


def test_defect_19_a_sqlite_lock_timeout_is_store_busy_naming_the_operation(
    tmp_path: Path,
) -> None:
    store = open_store(sqlite_url(tmp_path), busy_timeout=0.2)
    other = sqlite3.connect(tmp_path / "crm.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreBusy) as busy, store.unit_of_work() as uow:
            uow.relations.add(a_relation(id="r1"))
        assert not isinstance(busy.value, ConcurrencyConflict)
        assert busy.value.operation == "write relation r1"
        assert "busy" in str(busy.value)
        assert "retry" in str(busy.value)
        with store.unit_of_work(read_only=True) as uow:  # readers are not held up
            assert uow.relations.count() == 0
        other.execute("ROLLBACK")
    finally:
        other.close()
        store.close()


def test_defect_20_a_reader_and_a_writer_proceed_side_by_side_on_sqlite(tmp_path: Path) -> None:
    store = open_store(sqlite_url(tmp_path), busy_timeout=0.5)
    writer = open_store(sqlite_url(tmp_path), busy_timeout=0.5)
    try:
        with store.unit_of_work() as uow:
            uow.relations.add(a_relation(id="before"))
            uow.commit()
        with store.unit_of_work(read_only=True) as reader:
            assert reader.relations.find("before") is not None
            done = threading.Event()

            def write() -> None:
                with writer.unit_of_work() as uow:
                    uow.relations.add(a_relation(id="during"))
                    uow.commit()
                done.set()

            began = time.monotonic()
            thread = threading.Thread(target=write)
            thread.start()
            thread.join(timeout=5)
            assert done.is_set(), "the writer waited for the open reader"
            assert time.monotonic() - began < 0.5
            # the reader keeps its snapshot and goes on reading
            assert reader.relations.find("during") is None
            assert reader.relations.count() == 1
        with store.unit_of_work(read_only=True) as uow:
            assert uow.relations.find("during") is not None
    finally:
        writer.close()
        store.close()

"""Store boundaries of issue 16: defects 5, 12, 19 and 20, on every store alike.

* 5: visit reports and relations are scoped to the viewer inside the query;
  a user without permissions reads no report but their own.
* 12: text no store can hold (NUL, lone surrogates) is refused with
  InvalidInput on write, leaving the store unchanged; a read by such a value
  finds nothing (NotFound, ``None``, ``[]``), on memory, SQLite and PostgreSQL.
* 19: a SQLite lock timeout is StoreBusy naming the operation.
* 20: a read-only unit of work refuses writes, and on SQLite (WAL) it reads
  beside a writer without either waiting.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract.conftest import dump, sqlite_url
from crm_procedures.access.viewer import may_see_relation, may_see_visit_report, viewer_for
from crm_procedures.adapters.sql import open_store
from crm_procedures.errors import (
    ConcurrencyConflict,
    InvalidInput,
    NotFound,
    ReadOnlyUnitOfWork,
    StoreBusy,
)
from crm_procedures.ids import GroupId, RelationId, UserId, VisitReportId
from crm_procedures.model.audit import Change
from crm_procedures.model.relation import Relation
from crm_procedures.model.users import Group, User
from crm_procedures.model.visit_report import VisitReport
from crm_procedures.ports import Store
from crm_procedures.services import visits
from crm_procedures.services.context import Context
from crm_procedures.services.imports import import_suspects
from crm_procedures.testing.builders import a_project, a_prospect, a_relation, a_visit_report
from crm_procedures.testing.clock import FrozenClock

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
HYPOTHESIS = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

BAD_CHARACTERS = st.sampled_from(["\x00", "\ud800", "\udbff", "\udc00", "\udfff"])


@st.composite
def unstorable_text(draw: st.DrawFn) -> str:
    """Any text with NUL or a lone surrogate somewhere in it."""
    base = draw(st.text(max_size=20))
    at = draw(st.integers(0, len(base)))
    return base[:at] + draw(BAD_CHARACTERS) + base[at:]


def forced(record: Any, **values: Any) -> Any:
    """A copy of an attrs record with fields set past its validators (what a store may meet)."""
    out = attrs.evolve(record)
    for name, value in values.items():
        object.__setattr__(out, name, value)
    return out


# -- defect 12 --


@HYPOTHESIS
@given(text=unstorable_text(), field=st.sampled_from(["id", "name", "notes", "account_manager"]))
def test_defect_12_every_store_refuses_text_it_cannot_hold_alike(
    store: Store, text: str, field: str
) -> None:
    before = dump(store)
    relation = forced(a_relation(), **{field: text})
    with store.unit_of_work() as uow:
        with pytest.raises(InvalidInput) as refused:
            uow.relations.add(relation)
        assert refused.value.field == field
        with pytest.raises(InvalidInput):
            uow.relations.add_many([a_relation(), relation])
        uow.commit()
    assert dump(store) == before


@HYPOTHESIS
@given(text=unstorable_text())
def test_defect_12_reads_by_text_no_store_holds_find_nothing(store: Store, text: str) -> None:
    with store.unit_of_work(read_only=True) as uow:
        with pytest.raises(NotFound):
            uow.relations.get(text)
        with pytest.raises(NotFound):
            uow.prospects.get(text)
        with pytest.raises(NotFound):
            uow.visit_reports.get(text)
        assert uow.relations.find(text) is None
        assert uow.prospects.find(text) is None
        assert uow.relations.search(text) == []
        assert uow.contacts.by_phone(text) == []
        assert uow.prospects.of_project(text) == []
        assert uow.prospects.worklist(text, [None, text]) == []
        assert uow.activities.for_employee(text) == []
        assert uow.appointments.by_uid(text) is None
        assert uow.visit_reports.search(account_manager=text, relation_id=text) == []
        assert uow.audit.of_record("relation", text) == []
        assert uow.definitions.versions(text) == []


@HYPOTHESIS
@given(text=unstorable_text())
def test_defect_12_saves_prospect_history_and_audit_refuse_it_too(store: Store, text: str) -> None:
    with store.unit_of_work() as uow:
        if uow.relations.find("rel") is None:  # once per store: examples share it
            uow.relations.add(a_relation(id="rel"))
            uow.projects.add(a_project(id="proj", relation_id="rel"))
            uow.commit()
    before = dump(store)
    with store.unit_of_work() as uow:
        relation = uow.relations.get("rel")
        with pytest.raises(InvalidInput):
            uow.relations.save(forced(relation, name=text))
        with pytest.raises(InvalidInput):
            uow.prospects.add(a_prospect(project_id="proj", relation_id="rel", owner=text))
        with pytest.raises(InvalidInput):
            uow.audit.record(Change("relation", "rel", 1, NOW, text, "update", {}))
        with pytest.raises(InvalidInput):
            uow.definitions.put(text, {"a": 1})
        uow.commit()
    assert dump(store) == before


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


# -- defect 5 --

PERMISSION_SETS = [
    frozenset(),
    frozenset({"visit_report.read"}),
    frozenset({"visit_report.write"}),
    frozenset({"activity.read_all"}),
    frozenset({"admin"}),
]


@st.composite
def report_worlds(draw: st.DrawFn) -> tuple[list[Group], list[User], list[Relation], list[Any]]:
    groups = [Group(GroupId(f"g{n}"), f"G{n}", perms) for n, perms in enumerate(PERMISSION_SETS)]
    users = [
        User(UserId(f"u{n}"), f"U{n}", groups={GroupId(f"g{draw(st.integers(0, 4))}")})
        if draw(st.booleans())
        else User(UserId(f"u{n}"), f"U{n}")
        for n in range(4)
    ]
    user_ids = [u.id for u in users]
    relations = [
        a_relation(id=f"r{n}", account_manager=draw(st.sampled_from([None, *user_ids])))
        for n in range(2)
    ]
    reports = [
        a_visit_report(
            id=f"v{n}",
            relation_id=draw(st.sampled_from([r.id for r in relations])),
            account_manager=draw(st.sampled_from(user_ids)),
            start=NOW - timedelta(days=n + 1),
            end=NOW - timedelta(days=n + 1) + timedelta(hours=1),
        )
        for n in range(draw(st.integers(0, 6)))
    ]
    return groups, users, relations, reports


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(world=report_worlds())
def test_defect_05_visit_reports_and_relations_follow_the_reference_predicates(
    store: Store, world: tuple[list[Group], list[User], list[Relation], list[VisitReport]]
) -> None:
    groups, users, relations, reports = world
    with store.unit_of_work() as uow:
        for user in users:
            if uow.users.find(user.id) is None:
                uow.users.add(user)
        for group in groups:
            if uow.groups.find(group.id) is None:
                uow.groups.add(group)
        for relation in relations:
            found = uow.relations.find(relation.id)
            if found is None:
                uow.relations.add(relation)
            else:
                uow.relations.save(forced(found, account_manager=relation.account_manager))
        for report in reports:
            found_report = uow.visit_reports.find(report.id)
            if found_report is None:
                uow.visit_reports.add(report)
            else:
                uow.visit_reports.save(
                    forced(
                        found_report,
                        account_manager=report.account_manager,
                        relation_id=report.relation_id,
                    )
                )
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        stored_reports = uow.visit_reports.search(limit=1000)
        stored_relations = uow.relations.search("", limit=1000)
        all_users, all_groups = uow.users.all(), uow.groups.all()
        for user in users:
            viewer = viewer_for(user, all_groups, all_users)
            allowed = {r.id for r in stored_reports if may_see_visit_report(viewer, r)}
            got = {r.id for r in uow.visit_reports.search(viewer=viewer, limit=1000)}
            assert got == allowed, user.id
            assert uow.visit_reports.count(viewer) == len(allowed)
            for r in stored_reports:
                try:
                    uow.visit_reports.get(r.id, viewer)
                    seen = True
                except NotFound:
                    seen = False
                assert seen == (r.id in allowed)
            visible = {r.id for r in stored_relations if may_see_relation(viewer, r)}
            assert uow.relations.count(viewer) == len(visible)
            for rel in stored_relations:
                try:
                    uow.relations.get(rel.id, viewer)
                    seen = True
                except NotFound:
                    seen = False
                assert seen == (rel.id in visible)


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


# -- defect 20 (every store) --


def test_defect_20_a_read_only_unit_of_work_refuses_every_write(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.relations.add(a_relation(id="rel"))
        uow.commit()
    before = dump(store)
    with store.unit_of_work(read_only=True) as uow:
        relation = uow.relations.get("rel")
        attempts: list[Callable[[], object]] = [
            lambda: uow.relations.add(a_relation()),
            lambda: uow.relations.add_many([a_relation()]),
            lambda: uow.relations.save(relation),
            lambda: uow.prospects.add(a_prospect(relation_id="rel")),
            lambda: uow.definitions.put("k", {"a": 1}),
            lambda: uow.audit.record(Change("relation", "rel", 1, NOW, "u", "update", {})),
        ]
        for attempt in attempts:
            with pytest.raises(ReadOnlyUnitOfWork) as refused:
                attempt()
            assert refused.value.operation
        uow.commit()
    assert dump(store) == before


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

"""The store's boundaries (issue 16): what every store refuses, finds and shows alike.

* Text no store can hold (NUL, lone surrogates: SQLite cannot encode a lone
  surrogate, PostgreSQL's text cannot hold NUL) is refused with
  ``InvalidInput`` naming the field on every write, leaving the store as it
  was; a read by such a value finds nothing (``NotFound``, ``None``, ``[]``)
  instead of raising the driver's error. Its neighbours (other control
  characters, the code points around the surrogates, astral characters) are
  kept exactly.
* Visit reports and relations are scoped to the viewer inside the query
  (:func:`~crm_procedures.access.viewer.may_see_visit_report`,
  :func:`~crm_procedures.access.viewer.may_see_relation`): a search, a count
  and a get agree with the reference predicates for every permission set.
* A read-only unit of work (``store.unit_of_work(read_only=True)``) reads
  what is committed and refuses every write with ``ReadOnlyUnitOfWork``
  naming the operation, outbox writes included.

The unstorable texts are a fixed table rather than random draws, so a host
runs the same cases without Hypothesis: every refused character alone, at
the start, in the middle and at the end of other text.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import attrs
import pytest

from crm_procedures.access.viewer import (
    Viewer,
    may_see_relation,
    may_see_visit_report,
    viewer_for,
)
from crm_procedures.errors import InvalidInput, NotFound, ReadOnlyUnitOfWork
from crm_procedures.ids import GroupId, UserId
from crm_procedures.model._storable import storable
from crm_procedures.model.audit import Change
from crm_procedures.model.relation import Relation
from crm_procedures.model.users import Group, User
from crm_procedures.model.visit_report import VisitReport
from crm_procedures.ports import Store, UnitOfWork
from crm_procedures.testing.builders import (
    BUILDER_TIME,
    a_project,
    a_prospect,
    a_relation,
    a_visit_report,
)
from crm_procedures.testing.contracts._support import dump
from crm_procedures.testing.contracts.messages import T0, a_message

__all__ = ["KEPT_TEXT", "REFUSED_CHARACTERS", "UNSTORABLE_TEXTS", "find_nothing", "forced"]

REFUSED_CHARACTERS = ("\x00", "\ud800", "\udbff", "\udc00", "\udfff")
"""NUL and the lone surrogates at both ends of both surrogate ranges."""

UNSTORABLE_TEXTS = tuple(
    text
    for bad in REFUSED_CHARACTERS
    for text in (bad, f"{bad}Molen", f"Evil{bad}Co", f"Café Ärger{bad}", f"日本{bad}{bad}x")
)
"""Text every store refuses: each refused character alone and around other text."""

KEPT_TEXT = "Molen \ud7ff\ue000\ufffd\U0001f600\U0010ffff B.V."
"""The lone surrogates' neighbours (and astral characters): every store keeps them exactly."""


def forced(record: Any, **values: Any) -> Any:
    """A copy of an attrs record with fields set past its validators (what a store may meet)."""
    out = attrs.evolve(record)
    for name, value in values.items():
        object.__setattr__(out, name, value)
    return out


# -- text no store can hold --


@pytest.mark.parametrize("field", ["id", "name", "notes", "account_manager"])
def test_defect_12_every_store_refuses_text_it_cannot_hold_alike(store: Store, field: str) -> None:
    before = dump(store)
    for text in UNSTORABLE_TEXTS:
        relation = forced(a_relation(), **{field: text})
        with store.unit_of_work() as uow:
            with pytest.raises(InvalidInput) as refused:
                uow.relations.add(relation)
            assert refused.value.field == field, repr(text)
            with pytest.raises(InvalidInput):
                uow.relations.add_many([a_relation(), relation])
            uow.commit()
    assert dump(store) == before


def test_defect_12_reads_by_text_no_store_holds_find_nothing(store: Store) -> None:
    for text in UNSTORABLE_TEXTS:
        with store.unit_of_work(read_only=True) as uow:
            find_nothing(uow, text)


def find_nothing(uow: UnitOfWork, text: str) -> None:
    """Assert that every read by ``text`` (no store holds it) finds nothing.

    Raises:
        InvalidInput: ``text`` is text a store can hold (it must hold NUL or a
            lone surrogate).
    """
    if not isinstance(text, str) or storable(text):
        raise InvalidInput("text", "must hold NUL or a lone surrogate (text no store holds)", None)
    for repository in (uow.relations, uow.prospects, uow.visit_reports, uow.users):
        with pytest.raises(NotFound):
            repository.get(text)
        assert repository.find(text) is None, repr(text)
    # the SQL store refuses such an outbox id as InvalidInput, the others find nothing:
    # either names the problem, no driver error escapes
    with pytest.raises((NotFound, InvalidInput)):
        uow.outbox.get(text)
    with pytest.raises((NotFound, InvalidInput)):
        uow.definitions.get(text)
    assert uow.relations.search(text) == []
    assert uow.contacts.by_phone(text) == []
    assert uow.contacts.of_relation(text) == []
    assert uow.projects.of_relation(text) == []
    assert uow.prospects.of_project(text) == []
    assert uow.prospects.worklist(text, [None, text]) == []
    assert uow.activities.for_employee(text) == []
    assert uow.activities.of_relation(text) == []
    assert uow.appointments.by_uid(text) is None
    assert uow.visit_reports.search(account_manager=text, relation_id=text) == []
    assert uow.documents.of_owner("relation", text) == []
    assert uow.audit.of_record("relation", text) == []
    assert uow.definitions.versions(text) == []


def test_defect_12_saves_prospect_history_and_audit_refuse_it_too(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.relations.add(a_relation(id="rel"))
        uow.projects.add(a_project(id="proj", relation_id="rel"))
        uow.commit()
    before = dump(store)
    for text in UNSTORABLE_TEXTS:
        with store.unit_of_work() as uow:
            relation = uow.relations.get("rel")
            with pytest.raises(InvalidInput):
                uow.relations.save(forced(relation, name=text))
            with pytest.raises(InvalidInput):
                uow.prospects.add(a_prospect(project_id="proj", relation_id="rel", owner=text))
            with pytest.raises(InvalidInput):
                uow.audit.record(Change("relation", "rel", 1, BUILDER_TIME, text, "update", {}))
            with pytest.raises(InvalidInput):
                uow.definitions.put(text, {"a": 1})
            uow.commit()
    assert dump(store) == before


def test_defect_12_the_neighbours_of_refused_characters_are_kept_exactly(store: Store) -> None:
    relation = a_relation(id="rel-kept", name=KEPT_TEXT, notes=KEPT_TEXT)
    with store.unit_of_work() as uow:
        uow.relations.add(relation)
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        back = uow.relations.get("rel-kept")
        assert (back.name, back.notes) == (KEPT_TEXT, KEPT_TEXT)
        assert [r.id for r in uow.relations.search("\U0001f600")] == ["rel-kept"]


# -- visibility of visit reports and relations --

PERMISSION_SETS: tuple[frozenset[str], ...] = (
    frozenset(),
    frozenset({"visit_report.read"}),
    frozenset({"visit_report.write"}),
    frozenset({"activity.read_all"}),
    frozenset({"admin"}),
)
"""No permission, each permission that grants reading reports, one that does not, admin."""


def _report_world() -> tuple[list[Group], list[User], list[Relation], list[VisitReport]]:
    """A user per permission set and one without groups; reports and relations of each."""
    groups = [Group(GroupId(f"g{n}"), f"G{n}", perms) for n, perms in enumerate(PERMISSION_SETS)]
    users = [User(UserId(f"u{n}"), f"U{n}", groups={groups[n].id}) for n in range(len(groups))]
    users.append(User(UserId("loner"), "Loner"))
    managers: list[str | None] = [None, *(u.id for u in users)]
    relations = [
        a_relation(id=f"r{n}", account_manager=manager) for n, manager in enumerate(managers)
    ]
    reports = [
        a_visit_report(
            id=f"v{n}",
            relation_id=relations[n % len(relations)].id,
            account_manager=user.id,
            start=T0 - timedelta(days=n + 1),
        )
        for n, user in enumerate(users)
    ]
    return groups, users, relations, reports


def _seen(repository: Any, record_id: str, viewer: Viewer) -> bool:
    """True when ``repository.get(record_id, viewer)`` finds the record."""
    try:
        repository.get(record_id, viewer)
    except NotFound:
        return False
    return True


def test_defect_05_visit_reports_and_relations_follow_the_reference_predicates(
    store: Store,
) -> None:
    groups, users, relations, reports = _report_world()
    with store.unit_of_work() as uow:
        uow.groups.add_many(groups)
        uow.users.add_many(users)
        uow.relations.add_many(relations)
        uow.visit_reports.add_many(reports)
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        all_users, all_groups = uow.users.all(), uow.groups.all()
        viewers: list[Viewer] = [viewer_for(u, all_groups, all_users) for u in users]
        viewers.append(Viewer(UserId("stranger")))
        for viewer in viewers:
            allowed = [r.id for r in reports if may_see_visit_report(viewer, r)]
            got = uow.visit_reports.search(viewer=viewer, limit=1000)
            assert [r.id for r in got] == allowed, viewer.user_id  # newest first
            assert uow.visit_reports.count(viewer) == len(allowed)
            for report in reports:
                seen = _seen(uow.visit_reports, report.id, viewer)
                assert seen == (report.id in allowed), (viewer.user_id, report.id)
            visible = {r.id for r in relations if may_see_relation(viewer, r)}
            assert uow.relations.count(viewer) == len(visible), viewer.user_id
            for relation in relations:
                seen = _seen(uow.relations, relation.id, viewer)
                assert seen == (relation.id in visible), (viewer.user_id, relation.id)
        # the world is not trivial: some see every report, some only their own, some none
        counts = {uow.visit_reports.count(v) for v in viewers}
        assert {0, 1, len(reports)} <= counts


def test_defect_05_filters_and_visibility_combine_in_a_visit_report_search(store: Store) -> None:
    groups, users, relations, reports = _report_world()
    with store.unit_of_work() as uow:
        uow.groups.add_many(groups)
        uow.users.add_many(users)
        uow.relations.add_many(relations)
        uow.visit_reports.add_many(reports)
        uow.commit()
    own = Viewer(UserId("u3"))  # no permission: only u3's own report
    with store.unit_of_work(read_only=True) as uow:
        assert [r.id for r in uow.visit_reports.search(viewer=own)] == ["v3"]
        assert uow.visit_reports.search(account_manager="u1", viewer=own) == []
        assert [r.id for r in uow.visit_reports.search(account_manager="u1")] == ["v1"]
        reader = Viewer(UserId("x"), permissions=frozenset({"visit_report.read"}))
        page = uow.visit_reports.search(viewer=reader, limit=2, offset=1)
        assert [r.id for r in page] == ["v1", "v2"]


# -- read-only units of work --


def test_defect_20_a_read_only_unit_of_work_refuses_every_write(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.relations.add(a_relation(id="rel"))
        uow.outbox.add(a_message(1))
        uow.commit()
    before = dump(store)
    with store.unit_of_work(read_only=True) as uow:
        relation = uow.relations.get("rel")
        message = uow.outbox.get("m0001")
        attempts: dict[str, Callable[[], object]] = {
            "relations.add": lambda: uow.relations.add(a_relation()),
            "relations.add_many": lambda: uow.relations.add_many([a_relation()]),
            "relations.save": lambda: uow.relations.save(relation),
            "prospects.add": lambda: uow.prospects.add(a_prospect(relation_id="rel")),
            "definitions.put": lambda: uow.definitions.put("k", {"a": 1}),
            "audit.record": lambda: uow.audit.record(
                Change("relation", "rel", 1, BUILDER_TIME, "u", "update", {})
            ),
            "outbox.add": lambda: uow.outbox.add(a_message(2)),
            "outbox.mark_delivered": lambda: uow.outbox.mark_delivered("m0001", T0),
            "outbox.mark_failed": lambda: uow.outbox.mark_failed("m0001", "error", None),
            "outbox.record": lambda: uow.outbox.record(message),
        }
        for name, attempt in attempts.items():
            with pytest.raises(ReadOnlyUnitOfWork) as refused:
                attempt()
            assert refused.value.operation, name
        assert uow.relations.get("rel") == relation  # still reads after the refusals
        uow.commit()
    # A claim on its own: PostgreSQL refuses its row lock inside the database,
    # which ends that transaction (the error is still ReadOnlyUnitOfWork).
    with store.unit_of_work(read_only=True) as uow:
        with pytest.raises(ReadOnlyUnitOfWork) as refused:
            uow.outbox.claim_due(T0, 10, 60)
        assert refused.value.operation
    assert dump(store) == before


def test_defect_20_a_read_only_unit_of_work_reads_what_is_committed(store: Store) -> None:
    with store.unit_of_work(read_only=True) as uow:
        assert uow.relations.count() == 0
    with store.unit_of_work() as uow:
        uow.relations.add(a_relation(id="rel", name="Molen B.V."))
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        assert uow.relations.get("rel").name == "Molen B.V."
        assert [r.id for r in uow.relations.search("molen")] == ["rel"]
        uow.rollback()  # harmless: nothing to undo
        assert uow.relations.count() == 1

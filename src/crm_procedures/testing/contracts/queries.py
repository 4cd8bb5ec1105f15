"""The queries of each repository: order, filters, paging and the viewer's visibility."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest

from crm_procedures.access.viewer import Viewer
from crm_procedures.errors import CrmError, InvalidInput, NotFound
from crm_procedures.ids import GroupId, UserId
from crm_procedures.model.appointment import AppointmentStatus
from crm_procedures.model.audit import Change
from crm_procedures.model.prospect import EntryKind, HistoryEntry, Prospect, ProspectStatus
from crm_procedures.ports import Store, UnitOfWork
from crm_procedures.testing.builders import (
    BUILDER_TIME,
    a_contact,
    a_group,
    a_project,
    a_prospect,
    a_relation,
    a_user,
    a_visit_report,
    an_activity,
    an_appointment,
)
from crm_procedures.testing.contracts._support import has
from crm_procedures.testing.contracts.kinds import a_document

AMS = ZoneInfo("Europe/Amsterdam")
T0 = BUILDER_TIME


def viewer(user: str, *permissions: str, groups: tuple[str, ...] = ()) -> Viewer:
    return Viewer(
        UserId(user),
        groups=frozenset(GroupId(g) for g in groups),
        permissions=frozenset(permissions),
    )


ALL_SEEING = viewer("boss", "project.read_all", "prospect.read_preparing", "activity.read_all")


def ids(records: Sequence[Any]) -> list[str]:
    return [r.id for r in records]


# -- relations, contacts --


def test_relations_of_an_account_manager_by_name(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.relations.add(a_relation(id="r1", name="Zeeland Bouw", account_manager="ann"))
        uow.relations.add(a_relation(id="r2", name="Amstel Techniek", account_manager="ann"))
        uow.relations.add(a_relation(id="r3", name="Brabant Metaal", account_manager="bob"))
        uow.commit()
    with store.unit_of_work() as uow:
        assert ids(uow.relations.by_account_manager("ann")) == ["r2", "r1"]
        assert uow.relations.by_account_manager("nobody") == []


def test_relation_search_ignores_case_and_takes_wildcards_literally(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.relations.add(a_relation(id="r1", name="Bakkerij de Vries"))
        uow.relations.add(a_relation(id="r2", name="BAKKER & Zn"))
        uow.relations.add(a_relation(id="r3", name="100% Schoon_Service"))
        uow.relations.add(a_relation(id="r4", name="Schoonmaak 1000"))
        uow.commit()
    with store.unit_of_work() as uow:
        assert ids(uow.relations.search("bakker")) == ["r2", "r1"]
        assert ids(uow.relations.search("bakker", limit=1)) == ["r2"]
        assert ids(uow.relations.search("0%")) == ["r3"]
        assert ids(uow.relations.search("n_s")) == ["r3"]
        assert uow.relations.search("Nowhere") == []
        with pytest.raises(InvalidInput):
            uow.relations.search(None)  # type: ignore[arg-type]


def test_relation_search_pages_and_applies_the_viewer(store: Store) -> None:
    with store.unit_of_work() as uow:
        for i, manager in enumerate(["ann", "bob", "ann", "bob", "ann"]):
            uow.relations.add(
                a_relation(id=f"r{i}", name=f"Firma {i}", account_manager=manager, phone=None)
            )
        uow.commit()
    with store.unit_of_work() as uow:
        pages = [ids(uow.relations.search("", limit=2, offset=n)) for n in (0, 2, 4, 6)]
        assert pages == [["r0", "r1"], ["r2", "r3"], ["r4"], []]
        assert ids(uow.relations.search("firma", limit=None, offset=3)) == ["r3", "r4"]
        nobody = Viewer(UserId("ann"))  # no permission: only the relations ann manages
        assert ids(uow.relations.search("", limit=None, viewer=nobody)) == ["r0", "r2", "r4"]
        assert ids(uow.relations.search("", limit=1, offset=1, viewer=nobody)) == ["r2"]
        with pytest.raises(InvalidInput):
            uow.relations.search("", limit=2, offset=-1)


def test_relations_by_phone(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.relations.add(a_relation(id="r1", name="A", phone="+31201234567", account_manager="x"))
        uow.relations.add(a_relation(id="r2", name="B", phone="+31201234567", account_manager="y"))
        uow.relations.add(a_relation(id="r3", name="C", phone="+31307654321"))
        uow.commit()
    with store.unit_of_work() as uow:
        assert ids(uow.relations.by_phone("+31201234567")) == ["r1", "r2"]
        assert ids(uow.relations.by_phone("+31201234567", Viewer(UserId("y")))) == ["r2"]
        assert uow.relations.by_phone("+3199") == []
        assert uow.relations.by_phone("") == []


def test_contacts_of_a_relation_by_last_name_and_by_phone(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.contacts.add(a_contact(id="c1", relation_id="r1", last_name="Visser"))
        uow.contacts.add(a_contact(id="c2", relation_id="r1", last_name="Bakker", phone="+3120"))
        uow.contacts.add(a_contact(id="c3", relation_id="r2", last_name="Aalders", phone="+3120"))
        uow.commit()
    with store.unit_of_work() as uow:
        assert ids(uow.contacts.of_relation("r1")) == ["c2", "c1"]
        assert ids(uow.contacts.by_phone("+3120")) == ["c2", "c3"]
        assert uow.contacts.by_phone("+3199") == []


# -- projects and their visibility --


def _seed(store: Store, fill: Callable[[UnitOfWork], None]) -> None:
    """Commit what ``fill`` writes in one unit of work."""
    with store.unit_of_work() as uow:
        fill(uow)
        uow.commit()


def _projects(uow: UnitOfWork) -> None:
    uow.projects.add(a_project(id="p-open", relation_id="r1", name="Open campaign"))
    uow.projects.add(
        a_project(id="p-ann", relation_id="r1", name="Ann's campaign", linked_users={"ann"})
    )
    uow.projects.add(
        a_project(id="p-sales", relation_id="r2", name="Sales campaign", linked_groups={"sales"})
    )


def test_restricted_projects_are_visible_to_linked_users_and_groups_only(store: Store) -> None:
    _seed(store, _projects)
    ann = viewer("ann")
    sally = viewer("sally", groups=("sales",))
    outsider = viewer("otto")
    with store.unit_of_work() as uow:
        projects = uow.projects
        assert ids(projects.visible(ann)) == ["p-ann", "p-open"]
        assert ids(projects.visible(sally)) == ["p-open", "p-sales"]
        assert ids(projects.visible(outsider)) == ["p-open"]
        assert ids(projects.visible(ALL_SEEING)) == ["p-ann", "p-open", "p-sales"]
        assert ids(projects.visible()) == ["p-ann", "p-open", "p-sales"]
        assert ids(projects.of_relation("r1", outsider)) == ["p-open"]
        assert ids(projects.of_relation("r1")) == ["p-ann", "p-open"]
        assert projects.count(outsider) == 1
        assert projects.count(sally) == 2
        assert projects.get("p-ann", ann).id == "p-ann"
        with pytest.raises(NotFound):
            projects.get("p-ann", outsider)
        assert projects.find("p-ann") is not None  # find does not check visibility


def test_changing_the_links_of_a_project_changes_who_sees_it(store: Store) -> None:
    _seed(store, _projects)
    with store.unit_of_work() as uow:
        project = uow.projects.get("p-ann")
        uow.projects.save(attrs.evolve(project, linked_users={"bob"}))
        uow.commit()
    with store.unit_of_work() as uow:
        assert "p-ann" not in ids(uow.projects.visible(viewer("ann")))
        assert "p-ann" in ids(uow.projects.visible(viewer("bob")))


# -- prospects: by status, the worklist --


def _prospect(pid: str, project: str, status: ProspectStatus, **fields: object) -> Prospect:
    return a_prospect(id=pid, project_id=project, relation_id=f"rel-{pid}", status=status, **fields)


RUNNING = ProspectStatus.RUNNING
PREPARING = ProspectStatus.PREPARING
CLOSED = ProspectStatus.CLOSED


def _campaign(uow: UnitOfWork) -> None:
    _projects(uow)
    nine = datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("UTC"))
    uow.prospects.add_many(
        [
            _prospect("pr-01", "p-open", RUNNING, last_step="call", next_action_at=nine),
            _prospect(
                "pr-02",
                "p-open",
                RUNNING,
                last_step="call",
                next_action_at=nine + timedelta(hours=1),
            ),
            # 09:30 in Amsterdam is 08:30 UTC: earlier than pr-01 although it reads later
            _prospect(
                "pr-03",
                "p-open",
                RUNNING,
                last_step="call_back",
                next_action_at=datetime(2026, 3, 2, 9, 30, tzinfo=AMS),
            ),
            _prospect("pr-04", "p-open", RUNNING),  # nothing done yet, no next action
            _prospect("pr-05", "p-open", RUNNING, last_step="send_info", next_action_at=nine),
            _prospect("pr-06", "p-open", CLOSED, last_step="call", close_reason="no_budget"),
            _prospect("pr-07", "p-open", PREPARING),
            _prospect("pr-08", "p-open", RUNNING, last_step="call", next_action_at=nine),
            _prospect("pr-09", "p-ann", RUNNING, last_step="call", next_action_at=nine),
            _prospect("pr-10", "p-open", PREPARING),
        ]
    )


def test_prospects_of_a_project_by_status_ordered_by_id(store: Store) -> None:
    _seed(store, _campaign)
    with store.unit_of_work() as uow:
        prospects = uow.prospects
        assert ids(prospects.of_project("p-open", status=PREPARING)) == ["pr-07", "pr-10"]
        assert ids(prospects.of_project("p-open", status=CLOSED)) == ["pr-06"]
        assert ids(prospects.of_project("p-open", status=RUNNING, limit=2, offset=1)) == [
            "pr-02",
            "pr-03",
        ]
        assert len(prospects.of_project("p-open")) == 9
        assert prospects.count_by_status("p-open") == {"preparing": 2, "running": 6, "closed": 1}
        assert prospects.count_by_status("p-nothing") == {"preparing": 0, "running": 0, "closed": 0}
        with pytest.raises(InvalidInput):
            prospects.of_project("p-open", limit=-1)


def test_prospects_in_preparation_are_hidden_from_viewers_without_the_right(
    store: Store,
) -> None:
    _seed(store, _campaign)
    plain = viewer("otto")
    with store.unit_of_work() as uow:
        prospects = uow.prospects
        assert prospects.of_project("p-open", plain, status=PREPARING) == []
        assert prospects.count_by_status("p-open", plain) == {
            "preparing": 0,
            "running": 6,
            "closed": 1,
        }
        assert prospects.count(plain) == 7
        assert prospects.count(ALL_SEEING) == 10
        with pytest.raises(NotFound):
            prospects.get("pr-07", plain)
        with pytest.raises(NotFound):
            prospects.get("pr-09", plain)  # in a project otto may not see
        assert prospects.of_project("p-ann", plain) == []
        assert prospects.get("pr-09", viewer("ann")).id == "pr-09"


def test_worklist_is_running_prospects_after_the_given_steps_by_next_action(
    store: Store,
) -> None:
    _seed(store, _campaign)
    with store.unit_of_work() as uow:
        worklist = uow.prospects.worklist
        steps = [None, "call", "call_back"]
        assert ids(worklist("p-open", steps)) == ["pr-04", "pr-03", "pr-01", "pr-08", "pr-02"]
        assert ids(worklist("p-open", ["call"])) == ["pr-01", "pr-08", "pr-02"]
        assert ids(worklist("p-open", [None])) == ["pr-04"]
        assert ids(worklist("p-open", ["send_info", "call_back"])) == ["pr-03", "pr-05"]
        assert ids(worklist("p-open", steps, limit=2, offset=2)) == ["pr-01", "pr-08"]
        assert ids(worklist("p-open", steps, limit=10, offset=4)) == ["pr-02"]
        assert worklist("p-open", []) == []
        assert worklist("p-open", ["make_appointment"]) == []
        assert worklist("p-open", steps, limit=0) == []


def test_worklist_applies_the_viewers_visibility(store: Store) -> None:
    _seed(store, _campaign)
    with store.unit_of_work() as uow:
        worklist = uow.prospects.worklist
        assert worklist("p-ann", ["call"], viewer("otto")) == []
        assert ids(worklist("p-ann", ["call"], viewer("ann"))) == ["pr-09"]
        assert ids(worklist("p-ann", ["call"], ALL_SEEING)) == ["pr-09"]


def test_worklist_returns_whole_prospects_with_their_history(store: Store) -> None:
    _seed(store, _campaign)
    with store.unit_of_work() as uow:
        saved = uow.prospects.get("pr-04")
        saved.history.append(HistoryEntry(1, EntryKind.STEP, T0, "ann", "marketeer", "call"))
        saved.last_step = "call"
        uow.prospects.save(saved)
        uow.commit()
    with store.unit_of_work() as uow:
        found = uow.prospects.worklist("p-open", ["call"])
    assert ids(found) == ["pr-04", "pr-01", "pr-08", "pr-02"]
    assert found[0] == saved
    assert [e.step for e in found[0].history] == ["call"]


# -- activities: "my activities", of a relation, of a project --


def _activities(uow: UnitOfWork) -> None:
    _projects(uow)
    day = timedelta(days=1)
    uow.activities.add_many(
        [
            an_activity(id="a1", employee="ann", relation_id="r1", start=T0),
            an_activity(id="a2", employee="ann", relation_id="r1", start=T0 + day),
            an_activity(
                id="a3", employee="ann", relation_id="r2", start=None, created_at=T0 + 5 * day
            ),
            an_activity(
                id="a4",
                employee="ann",
                relation_id="r1",
                start=T0 + 2 * day,
                completed_at=T0 + 2 * day,
            ),
            an_activity(id="a5", employee="bob", relation_id="r1", start=T0 + 3 * day),
            an_activity(
                id="a6", employee="ann", relation_id="r1", project_id="p-sales", start=T0 + 4 * day
            ),
            an_activity(id="a7", employee="cas", relation_id="r1", project_id="p-open", start=T0),
        ]
    )


def test_my_activities_newest_first_with_missing_start_last(store: Store) -> None:
    _seed(store, _activities)
    with store.unit_of_work() as uow:
        mine = uow.activities.for_employee
        assert ids(mine("ann")) == ["a6", "a4", "a2", "a1", "a3"]
        assert ids(mine("ann", open_only=True)) == ["a6", "a2", "a1", "a3"]
        assert ids(mine("ann", limit=2, offset=1)) == ["a4", "a2"]
        assert mine("nobody") == []


def test_activities_are_seen_by_their_employee_their_group_or_everybody(store: Store) -> None:
    _seed(store, _activities)
    ann = viewer("ann", groups=("sales",))
    bob = viewer("bob")
    colleague = Viewer(
        UserId("sally"),
        groups=frozenset({GroupId("sales")}),
        permissions=frozenset({"activity.read_group"}),
        group_members=frozenset({UserId("sally"), UserId("ann")}),
    )
    with store.unit_of_work() as uow:
        mine = uow.activities.for_employee
        assert ids(mine("ann", ann)) == ["a6", "a4", "a2", "a1", "a3"]
        assert mine("ann", bob) == []
        assert ids(mine("ann", colleague)) == ["a6", "a4", "a2", "a1", "a3"]
        assert mine("bob", colleague) == []
        # read_all, but a6 lies in a project linked to the sales group only
        assert ids(mine("ann", viewer("boss", "activity.read_all"))) == ["a4", "a2", "a1", "a3"]
        assert uow.activities.count(bob) == 1
        with pytest.raises(NotFound):
            uow.activities.get("a1", bob)


def test_activities_of_a_relation_and_of_a_project(store: Store) -> None:
    _seed(store, _activities)
    with store.unit_of_work() as uow:
        activities = uow.activities
        assert ids(activities.of_relation("r1")) == ["a6", "a5", "a4", "a2", "a7", "a1"]
        assert ids(activities.of_relation("r1", viewer("bob"))) == ["a5"]
        assert ids(activities.of_relation("r1", ALL_SEEING, limit=3)) == ["a6", "a5", "a4"]
        assert ids(activities.of_relation("r1", ALL_SEEING, limit=3, offset=3)) == [
            "a2",
            "a7",
            "a1",
        ]
        assert ids(activities.of_project("p-open")) == ["a7"]
        assert activities.of_project("p-sales", viewer("boss", "activity.read_all")) == []


# -- appointments, visit reports, documents --


def test_agenda_is_confirmed_appointments_overlapping_the_period(store: Store) -> None:
    hour = timedelta(hours=1)
    day_start = T0.replace(hour=0)
    with store.unit_of_work() as uow:
        uow.appointments.add_many(
            [
                an_appointment(id="ap1", employee="ann", start=T0, end=T0 + hour),
                an_appointment(id="ap2", employee="ann", start=T0 - 2 * hour, end=T0 - hour),
                an_appointment(
                    id="ap3", employee="ann", start=day_start - hour, end=day_start + hour
                ),
                an_appointment(
                    id="ap4",
                    employee="ann",
                    start=T0 + 2 * hour,
                    end=T0 + 3 * hour,
                    status=AppointmentStatus.CANCELLED,
                ),
                an_appointment(id="ap5", employee="bob", start=T0, end=T0 + hour),
                an_appointment(
                    id="ap6", employee="ann", start=day_start + 24 * hour, end=day_start + 25 * hour
                ),
                an_appointment(
                    id="ap7",
                    employee="ann",
                    start=T0 - 30 * 24 * hour,
                    end=T0 - 30 * 24 * hour + hour,
                    rrule="FREQ=WEEKLY",
                ),
            ]
        )
        uow.commit()
    with store.unit_of_work() as uow:
        agenda = uow.appointments.agenda("ann", day_start, day_start + 24 * hour)
        assert ids(agenda) == ["ap7", "ap3", "ap2", "ap1"]
        # the period [T0 - 1h, T0) touches ap2 (ends as it starts) and ap1 (starts as it ends)
        assert ids(uow.appointments.agenda("ann", T0 - hour, T0)) == ["ap7"]
        by_uid = uow.appointments.by_uid("ap5@crm-procedures.test")
        assert by_uid is not None
        assert by_uid.id == "ap5"
        assert uow.appointments.by_uid("unknown@crm-procedures.test") is None


def test_an_agenda_holds_the_appointments_its_employee_takes_part_in(store: Store) -> None:
    hour = timedelta(hours=1)
    with store.unit_of_work() as uow:
        uow.appointments.add_many(
            [
                an_appointment(id="pp1", employee="ann", participants=("bob",), start=T0),
                an_appointment(
                    id="pp2",
                    employee="cor",
                    participants=("bob", "ann"),
                    start=T0 - hour,
                    end=T0,
                ),
                an_appointment(id="pp3", employee="bob", start=T0 + hour, end=T0 + 2 * hour),
                an_appointment(
                    id="pp4",
                    employee="ann",
                    participants=("bob",),
                    start=T0 + 2 * hour,
                    end=T0 + 3 * hour,
                    status=AppointmentStatus.CANCELLED,
                ),
                # named twice, and the employee among the participants: still once
                an_appointment(
                    id="pp5",
                    employee="bob",
                    participants=("bob", "dan", "dan"),
                    start=T0 + 4 * hour,
                    end=T0 + 5 * hour,
                ),
            ]
        )
        uow.commit()
    day = (T0 - 2 * hour, T0 + 24 * hour)
    with store.unit_of_work(read_only=True) as uow:
        # their own and those they take part in, by start; cancelled ones left out
        assert ids(uow.appointments.agenda("bob", *day)) == ["pp2", "pp1", "pp3", "pp5"]
        assert ids(uow.appointments.agenda("ann", *day)) == ["pp2", "pp1"]
        assert ids(uow.appointments.agenda("dan", *day)) == ["pp5"]
        assert ids(uow.appointments.agenda("bob", T0, T0 + hour)) == ["pp1"]
    with store.unit_of_work() as uow:
        # a participant taken off leaves that agenda; one added enters theirs
        moved = uow.appointments.get("pp1")
        uow.appointments.save(attrs.evolve(moved, participants=("eve",)))
        gone = uow.appointments.get("pp2")
        uow.appointments.save(attrs.evolve(gone, participants=()))
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        assert ids(uow.appointments.agenda("bob", *day)) == ["pp3", "pp5"]
        assert ids(uow.appointments.agenda("eve", *day)) == ["pp1"]
        assert ids(uow.appointments.agenda("ann", *day)) == ["pp1"]
    with store.unit_of_work() as uow:
        # a change that is not committed is seen inside its own unit of work only
        back = uow.appointments.get("pp1")
        uow.appointments.save(attrs.evolve(back, participants=("bob",)))
        assert ids(uow.appointments.agenda("bob", *day)) == ["pp1", "pp3", "pp5"]
        assert ids(uow.appointments.agenda("eve", *day)) == []
    with store.unit_of_work(read_only=True) as uow:
        assert ids(uow.appointments.agenda("bob", *day)) == ["pp3", "pp5"]


def test_a_projects_appointments_are_found_whoever_has_them(store: Store) -> None:
    hour = timedelta(hours=1)
    with store.unit_of_work() as uow:
        uow.appointments.add_many(
            [
                an_appointment(id="pa1", employee="ann", project_id="p1", start=T0, end=T0 + hour),
                an_appointment(id="pa2", employee="bob", project_id="p1", start=T0 - hour, end=T0),
                an_appointment(
                    id="pa3",
                    employee="bob",
                    project_id="p1",
                    start=T0,
                    end=T0 + hour,
                    status=AppointmentStatus.CANCELLED,
                ),
                an_appointment(id="pa4", employee="ann", project_id="p2", start=T0, end=T0 + hour),
                an_appointment(id="pa5", employee="ann", start=T0, end=T0 + hour),
                an_appointment(
                    id="pa6",
                    employee="cor",
                    project_id="p1",
                    start=T0 - 30 * 24 * hour,
                    end=T0 - 30 * 24 * hour + hour,
                    rrule="FREQ=WEEKLY",
                ),
                an_appointment(
                    id="pa7",
                    employee="ann",
                    project_id="p1",
                    start=T0 + 48 * hour,
                    end=T0 + 49 * hour,
                ),
            ]
        )
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        day = uow.appointments.of_project("p1", T0 - 2 * hour, T0 + 24 * hour)
        # by start; cancelled, other projects' and unlinked ones left out; the series once
        assert ids(day) == ["pa6", "pa2", "pa1"]
        assert ids(uow.appointments.of_project("p1", T0, T0 + 24 * hour)) == ["pa6", "pa1"]
        assert ids(uow.appointments.of_project("p2", T0 - hour, T0 + hour)) == ["pa4"]
        assert uow.appointments.of_project("p9", T0 - hour, T0 + hour) == []
        with pytest.raises(InvalidInput):
            uow.appointments.of_project("p1", T0.replace(tzinfo=None), T0)


def _visit_reports(store: Store) -> None:
    day = timedelta(days=1)
    with store.unit_of_work() as uow:
        uow.visit_reports.add_many(
            [
                a_visit_report(
                    id="v1",
                    relation_id="r1",
                    account_manager="ann",
                    start=T0,
                    subject="Koffie in het Café",
                    keywords=("koffie",),
                    text="Spoke about the demonstration.",
                ),
                a_visit_report(
                    id="v2", relation_id="r2", account_manager="ann", start=T0 + day, text="Fine."
                ),
                a_visit_report(
                    id="v3",
                    relation_id="r1",
                    account_manager="bob",
                    start=T0 + 2 * day,
                    visit_type="follow_up",
                ),
            ]
        )
        uow.commit()


def test_visit_report_search_filters(store: Store) -> None:
    day = timedelta(days=1)
    _visit_reports(store)
    with store.unit_of_work() as uow:
        search = uow.visit_reports.search
        assert ids(search()) == ["v3", "v2", "v1"]
        assert ids(search(account_manager="ann")) == ["v2", "v1"]
        assert ids(search(relation_id="r1")) == ["v3", "v1"]
        assert ids(search(visit_type="follow_up")) == ["v3"]
        assert ids(search(since=T0 + day)) == ["v3", "v2"]
        assert ids(search(until=T0 + day)) == ["v1"]
        assert ids(search(limit=1, offset=1)) == ["v2"]


def test_visit_report_keyword_search_or_a_clear_refusal(store: Store) -> None:
    """With ``fulltext`` keywords find reports by their words (accents and case
    ignored); without it a keyword search is refused with a named error, never
    answered wrongly."""
    _visit_reports(store)
    with store.unit_of_work() as uow:
        search = uow.visit_reports.search
        if not has(store, "fulltext"):
            with pytest.raises(CrmError, match="keyword"):
                search(keyword="CAFE")
            return
        assert ids(search(keyword="CAFE")) == ["v1"]
        assert ids(search(keyword="demo koff")) == ["v1"]
        assert ids(search(keyword="introduction")) == ["v3", "v2"]
        assert search(keyword="demo nothing") == []
        assert ids(search(account_manager="bob", keyword="introduction")) == ["v3"]


def test_documents_of_a_record_oldest_first(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.documents.add(a_document(id="d1", owner_id="r1", added_at=T0 + timedelta(hours=1)))
        uow.documents.add(a_document(id="d2", owner_id="r1", added_at=T0))
        uow.documents.add(a_document(id="d3", owner_kind="project", owner_id="r1"))
        uow.commit()
    with store.unit_of_work() as uow:
        assert ids(uow.documents.of_owner("relation", "r1")) == ["d2", "d1"]
        assert ids(uow.documents.of_owner("project", "r1")) == ["d3"]


def test_every_user_and_group_by_id(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.users.add(a_user(id="zoe", groups={"sales"}, roles={"marketeer"}))
        uow.users.add(a_user(id="ann"))
        uow.groups.add(a_group(id="sales", permissions={"activity.read_group"}))
        uow.groups.add(a_group(id="admins", permissions={"admin"}))
        uow.commit()
    with store.unit_of_work() as uow:
        users = uow.users.all()
        groups = uow.groups.all()
    assert ids(users) == ["ann", "zoe"]
    assert users[1].groups == frozenset({"sales"})
    assert users[1].roles == frozenset({"marketeer"})
    assert ids(groups) == ["admins", "sales"]
    assert groups[0].permissions == frozenset({"admin"})


# -- definitions and the audit log --


def test_definitions_are_versioned_per_key(store: Store) -> None:
    with store.unit_of_work() as uow:
        assert uow.definitions.put("procedures", {"steps": ["call"]}) == 1
        assert uow.definitions.put("procedures", {"steps": ["call", "call_back"]}) == 2
        assert uow.definitions.put("dictionaries", {"close_reason": []}) == 1
        uow.commit()
    with store.unit_of_work() as uow:
        definitions = uow.definitions
        assert definitions.versions("procedures") == [1, 2]
        assert definitions.get("procedures") == {"steps": ["call", "call_back"]}
        assert definitions.get("procedures", 1) == {"steps": ["call"]}
        assert definitions.versions("nothing") == []
        with pytest.raises(NotFound):
            definitions.get("procedures", 3)
        with pytest.raises(NotFound):
            definitions.get("nothing")
        assert definitions.put("procedures", {"steps": []}) == 3
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.definitions.versions("procedures") == [1, 2, 3]


def test_audit_keeps_every_change_of_a_record_oldest_first(store: Store) -> None:
    first = Change("prospect", "pr-1", 1, T0, "ann", "create", {"status": ("", "preparing")})
    second = Change("prospect", "pr-1", 2, T0 + timedelta(minutes=1), "bob", "perform")
    other = Change("relation", "pr-1", 1, T0, "ann")
    with store.unit_of_work() as uow:
        uow.audit.record(first)
        uow.audit.record(other)
        uow.audit.record(second)
        assert uow.audit.of_record("prospect", "pr-1") == [first, second]  # own writes
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.audit.of_record("prospect", "pr-1") == [first, second]
        assert uow.audit.of_record("relation", "pr-1") == [other]
        assert uow.audit.of_record("prospect", "pr-2") == []
        with pytest.raises(InvalidInput):
            uow.audit.record("a change")  # type: ignore[arg-type]

"""A3: before calling, the user sees the relation's notes and latest conversation notes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crm_procedures.errors import AccessDenied, NotFound
from crm_procedures.ids import ActivityId, ContactId, GroupId, ProjectId, RelationId, UserId
from crm_procedures.model.activity import Activity, ActivityKind
from crm_procedures.model.contact import Contact
from crm_procedures.model.project import Project
from crm_procedures.model.relation import Relation
from crm_procedures.services.briefing import call_briefing
from crm_procedures.services.context import Context

from .conftest import NOW


def activity(
    aid: str,
    employee: str,
    days_ago: int,
    *,
    kind: ActivityKind = ActivityKind.CONTACT,
    note: str = "",
    completed: bool = True,
    project: str | None = None,
) -> Activity:
    start = NOW - timedelta(days=days_ago)
    return Activity(
        ActivityId(aid),
        kind,
        UserId(employee),
        relation_id=RelationId("bakker"),
        project_id=ProjectId(project) if project else None,
        note=note,
        start=start,
        end=start + timedelta(minutes=10),
        completed_at=start + timedelta(minutes=10) if completed else None,
        created_at=start,
    )


@pytest.fixture
def bakker(ctx: Context) -> Context:
    with ctx.store.unit_of_work() as uow:
        uow.relations.add(
            Relation(RelationId("bakker"), "Bakkerij Jansen", notes="Only call before 10:00")
        )
        uow.contacts.add(Contact(ContactId("jan"), RelationId("bakker"), "Jansen", "J."))
        uow.projects.add(
            Project(
                ProjectId("secret"), RelationId("client"), "Board", linked_groups={GroupId("board")}
            )
        )
        uow.activities.add_many(
            [
                activity("a1", "sam", 30, note="Interested in spring offer"),
                activity("a2", "sam", 20, kind=ActivityKind.MEETING, note="Visited the shop"),
                activity("a3", "ken", 10, note="Asked for a quote"),
                activity("a4", "sam", 5, note=""),
                activity("a5", "sam", 2, note="Board call", project="secret"),
                activity("a6", "sam", -3, kind=ActivityKind.TASK, completed=False),
                activity("a7", "mia", 1, note="Marketing's own call"),
            ]
        )
        uow.commit()
    return ctx


def test_briefing_shows_notes_and_latest_conversation_notes_newest_first(bakker: Context) -> None:
    briefing = call_briefing(bakker, "sam", "bakker")
    assert briefing.notes == "Only call before 10:00"
    assert [c.id for c in briefing.contacts] == ["jan"]
    # ken shares sam's group and sam may read the group's activities; mia does not.
    assert [a.id for a in briefing.latest_conversation_notes] == ["a3", "a2", "a1"]
    assert [a.id for a in briefing.open_activities] == ["a6"]
    assert briefing.last_contact_at == NOW - timedelta(days=5) + timedelta(minutes=10)


def test_briefing_applies_the_callers_visibility(bakker: Context) -> None:
    briefing = call_briefing(bakker, "mia", "bakker", notes=10)
    assert [a.id for a in briefing.latest_conversation_notes] == ["a7"]
    assert briefing.open_activities == ()


def test_the_number_of_notes_shown_is_a_setting(bakker: Context) -> None:
    assert [
        a.id for a in call_briefing(bakker, "sam", "bakker", notes=1).latest_conversation_notes
    ] == ["a3"]


def test_unknown_relation_or_caller_is_refused(bakker: Context) -> None:
    with pytest.raises(NotFound):
        call_briefing(bakker, "sam", "nobody")
    with pytest.raises(AccessDenied):
        call_briefing(bakker, "ghost", "bakker")

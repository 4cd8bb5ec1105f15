"""Activities (P2-P7): lists by kind, the forward link to follow-ups, the timer at opening,
and visit reports counted in the management reports; on every store."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crm_procedures.access.viewer import ActivityScope
from crm_procedures.errors import AccessDenied, InvalidInput
from crm_procedures.ids import UserId
from crm_procedures.model.activity import ActivityKind
from crm_procedures.model.users import User
from crm_procedures.services import activities, visits
from crm_procedures.services.context import resolve_viewer
from crm_procedures.services.record_settings import RecordSettings, standard_dictionaries

from .conftest import T0, World

SETTINGS = RecordSettings(dictionaries=standard_dictionaries())


def _three_kinds(world: World) -> None:
    for i in range(3):
        activities.create_contact(
            world.ctx, "u-anna", relation_id="R-1", contact_ids=["C-1"], subject=f"call {i}"
        )
    activities.create_meeting(
        world.ctx,
        "u-anna",
        relation_id="R-1",
        contact_ids=["C-1"],
        subject="meeting",
        start=T0,
        end=T0 + timedelta(hours=1),
    )
    activities.create_task(world.ctx, "u-anna", relation_id="R-1", subject="task")


def test_lists_filtered_by_kind_keep_their_pages_full(world: World) -> None:
    _three_kinds(world)
    mine = activities.my_activities(world.ctx, "u-anna", kind="contact", limit=2)
    assert [a.kind for a in mine] == [ActivityKind.CONTACT] * 2
    rest = activities.my_activities(world.ctx, "u-anna", kind="contact", limit=2, offset=2)
    assert len(rest) == 1
    of_relation = activities.activities_of_relation(world.ctx, "u-anna", "R-1", kind="meeting")
    assert [a.subject for a in of_relation] == ["meeting"]
    assert len(activities.activities_of_relation(world.ctx, "u-anna", "R-1")) == 5
    tasks = activities.my_activities(world.ctx, "u-anna", kind=ActivityKind.TASK)
    assert [a.subject for a in tasks] == ["task"]
    with pytest.raises(InvalidInput, match="kind"):
        activities.my_activities(world.ctx, "u-anna", kind="phonecall")


def test_an_activity_leads_forward_to_its_follow_ups(world: World) -> None:
    first = activities.create_contact(
        world.ctx, "u-anna", relation_id="R-1", contact_ids=["C-1"], subject="call"
    )
    assert activities.follow_ups_of(world.ctx, "u-anna", first.id) == []
    nxt = activities.schedule_follow_up(world.ctx, "u-anna", first.id, in_days=2)
    later = activities.schedule_follow_up(world.ctx, "u-anna", nxt.id, in_days=2)
    assert [a.id for a in activities.follow_ups_of(world.ctx, "u-anna", first.id)] == [nxt.id]
    assert [a.id for a in activities.follow_ups_of(world.ctx, "u-anna", nxt.id)] == [later.id]
    assert later.follow_up_of == nxt.id  # and back


def test_the_timer_may_start_when_the_activity_is_opened(world: World) -> None:
    running = activities.create_contact(
        world.ctx, "u-anna", relation_id="R-1", contact_ids=["C-1"], start_timer=True
    )
    assert running.timer.running_since == T0
    idle = activities.create_contact(world.ctx, "u-anna", relation_id="R-1", contact_ids=["C-1"])
    assert not idle.timer.running
    world.clock.advance(timedelta(minutes=3))
    stopped = activities.stop_activity_timer(world.ctx, "u-anna", running.id)
    assert stopped.timer.accumulated == 180


def _visit(world: World, manager: str, kind: str | None, days: int) -> None:
    visits.create_visit_report(
        world.ctx,
        "u-boss",
        designation="Visit",
        relation_id="R-1",
        start=T0 + timedelta(days=days),
        end=T0 + timedelta(days=days, hours=1),
        account_manager=manager,
        visit_type=kind,
        settings=SETTINGS,
    )


def test_visit_reports_are_counted_per_manager_type_and_period(world: World) -> None:
    _visit(world, "u-anna", "first", 0)
    _visit(world, "u-anna", "first", 1)
    _visit(world, "u-anna", "revisit", 35)
    _visit(world, "u-bob", None, 2)
    rows = visits.visit_counts(world.ctx, "u-boss")
    assert [(r.account_manager, r.visit_type, r.period, r.count) for r in rows] == [
        ("u-anna", "first", "2026-03", 2),
        ("u-anna", "revisit", "2026-04", 1),
        ("u-bob", "", "2026-03", 1),
    ]
    weekly = visits.visit_counts(world.ctx, "u-boss", period="week", account_manager="u-anna")
    assert [(r.period, r.count) for r in weekly] == [("2026-W10", 2), ("2026-W15", 1)]
    march = visits.visit_counts(world.ctx, "u-boss", period=None, until=T0 + timedelta(days=30))
    assert sum(r.count for r in march) == 3
    # visibility applies: report.read alone shows no visit report (V5)
    assert visits.visit_counts(world.ctx, "u-bi") == []
    with pytest.raises(AccessDenied):
        visits.visit_counts(world.ctx, "u-anna")
    with pytest.raises(InvalidInput, match="period"):
        visits.visit_counts(world.ctx, "u-bi", period="quarter")


def test_group_members_are_read_for_a_group_scope_viewer_and_still_decide_what_it_sees(
    world: World,
) -> None:
    # Resolving a viewer reads every user only for the group members, which
    # only activity_scope "group" uses; the others get the viewer alone.
    with world.store.unit_of_work() as uow:
        uow.users.add(User(UserId("u-carl"), "Carl", groups={"sales"}))
        uow.users.add(User(UserId("u-dora"), "Dora", groups={"office"}))
        uow.commit()
    for employee in ("u-carl", "u-dora"):
        activities.create_contact(
            world.ctx, employee, relation_id="R-1", contact_ids=["C-1"], subject=employee
        )
    with world.store.unit_of_work(read_only=True) as uow:
        bob = resolve_viewer(uow, "u-bob")
        anna = resolve_viewer(uow, "u-anna")
    assert bob.activity_scope is ActivityScope.GROUP
    assert bob.group_members == {"u-bob", "u-carl"}
    assert anna.activity_scope is ActivityScope.OWN
    assert anna.group_members == {"u-anna"}
    # bob sees his group's activities, anna only her own
    seen = activities.my_activities(world.ctx, "u-bob", employee="u-carl")
    assert [a.subject for a in seen] == ["u-carl"]
    assert activities.my_activities(world.ctx, "u-anna", employee="u-dora") == []


def test_defect_01_an_activity_page_as_large_as_a_database_takes_is_listed_on_every_store(
    world: World,
) -> None:
    # The list statements are kept as driver SQL with the page as bound values;
    # PostgreSQL's driver cast them to INTEGER, and a huge page size failed there.
    _three_kinds(world)
    huge = 2**63 - 1
    with world.store.unit_of_work(read_only=True) as uow:
        assert len(uow.activities.for_employee("u-anna", limit=huge)) == 5
        assert len(uow.activities.of_relation("R-1", limit=huge, offset=1)) == 4
        assert uow.activities.for_employee("u-anna", limit=huge, offset=huge) == []

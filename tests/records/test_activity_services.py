"""P2-P7 through the services: defaults, contacts, timer, completion, follow-ups, lists."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from crm_procedures.errors import AccessDenied, ActivityFrozen, InvalidInput, NotFound
from crm_procedures.model.activity import ActivityKind
from crm_procedures.model.money import Money
from crm_procedures.procedures.procedure import Definitions
from crm_procedures.services import activities, projects
from crm_procedures.services.agenda import AppointmentConflict
from crm_procedures.services.record_settings import standard_dictionaries
from records.builders import T0, World


def _contact(world: World, actor: str = "u-anna", **fields: object) -> str:
    base: dict[str, object] = {"relation_id": "R-1", "contact_ids": ["C-1"], "start": T0}
    base.update(fields)
    return activities.create_contact(world.ctx, actor, settings=world.settings, **base).id


def test_employee_defaults_to_the_acting_user(world: World) -> None:
    a = activities.get_activity(world.ctx, "u-anna", _contact(world))
    assert a.employee == "u-anna"
    assert a.created_at == T0


def test_relation_is_filled_in_from_the_project(world: World) -> None:
    pid = projects.create_project(world.ctx, "u-anna", relation_id="R-1", name="Ovens").id
    a = activities.create_meeting(world.ctx, "u-anna", project_id=pid, contact_ids=["C-2"])
    assert (a.relation_id, a.project_id, a.kind) == ("R-1", pid, ActivityKind.MEETING)


def test_relation_other_than_the_projects_is_refused(world: World) -> None:
    pid = projects.create_project(world.ctx, "u-anna", relation_id="R-1", name="Ovens").id
    with pytest.raises(InvalidInput, match="is under relation R-1"):
        activities.create_task(world.ctx, "u-anna", project_id=pid, relation_id="R-2")


def test_one_off_project_contact_can_take_part_in_an_activity(world: World) -> None:
    pid = projects.create_project(world.ctx, "u-anna", relation_id="R-1", name="Ovens").id
    smit = projects.add_one_off_contact(world.ctx, "u-anna", pid, last_name="Smit")
    a = activities.create_contact(world.ctx, "u-anna", project_id=pid, contact_ids=[smit.id])
    assert a.contact_ids == (smit.id,)


def test_contact_of_another_relation_is_refused_and_nothing_is_stored(world: World) -> None:
    before = world.dump()
    with pytest.raises(InvalidInput, match="Pietersen"):
        _contact(world, contact_ids=["C-1", "C-7"])
    assert world.dump() == before


def test_contact_activity_without_a_contact_person_is_refused(world: World) -> None:
    with pytest.raises(InvalidInput, match="contact person"):
        _contact(world, contact_ids=[])


def test_contacts_without_a_relation_are_refused(world: World) -> None:
    with pytest.raises(InvalidInput, match="before the activity's relation is set"):
        activities.create_task(world.ctx, "u-anna", contact_ids=["C-1"])


def test_cost_in_float_is_refused_and_nothing_is_stored(world: World) -> None:
    before = world.dump()
    with pytest.raises(InvalidInput, match="expected_cost"):
        activities.create_meeting(
            world.ctx, "u-anna", relation_id="R-1", contact_ids=["C-1"], expected_cost=99.95
        )
    assert world.dump() == before


def test_meeting_records_expected_and_actual_costs(world: World) -> None:
    m = activities.create_meeting(
        world.ctx,
        "u-anna",
        relation_id="R-1",
        contact_ids=["C-1"],
        place="Utrecht, Dorpsstraat 1",
        category="negotiations",
        expected_cost=Money(Decimal("120.00"), "EUR"),
        settings=world.settings,
    )
    m = activities.update_activity(
        world.ctx, "u-anna", m.id, actual_cost=Money(Decimal("134.50"), "EUR")
    )
    assert m.actual_cost == Money(Decimal("134.50"), "EUR")


def test_unknown_channel_is_refused_and_nothing_is_stored(world: World) -> None:
    before = world.dump()
    with pytest.raises(InvalidInput, match="'fax' is not in the 'activity_channel' list"):
        _contact(world, channel="fax")
    assert world.dump() == before


def test_choice_without_a_configured_dictionary_is_refused(world: World) -> None:
    with pytest.raises(InvalidInput, match="no 'activity_priority' dictionary"):
        activities.create_task(world.ctx, "u-anna", priority="high")


def test_recording_for_another_employee_needs_activity_write(world: World) -> None:
    with pytest.raises(AccessDenied, match=r"activity\.write"):
        _contact(world, actor="u-anna", employee="u-bob")
    a = activities.get_activity(world.ctx, "u-boss", _contact(world, "u-boss", employee="u-bob"))
    assert a.employee == "u-bob"


def test_unknown_employee_is_refused(world: World) -> None:
    with pytest.raises(InvalidInput, match="no user 'u-x'"):
        _contact(world, actor="u-boss", employee="u-x")


def test_timer_runs_on_the_clock_and_sums_its_intervals(world: World) -> None:
    aid = _contact(world)
    activities.start_activity_timer(world.ctx, "u-anna", aid)
    world.clock.advance(minutes=3)
    activities.pause_activity_timer(world.ctx, "u-anna", aid)
    world.clock.advance(minutes=10)
    activities.resume_activity_timer(world.ctx, "u-anna", aid)
    world.clock.advance(minutes=2)
    a = activities.stop_activity_timer(world.ctx, "u-anna", aid)
    assert a.timer.accumulated == 300.0


def test_pausing_a_paused_timer_is_refused_and_nothing_changes(world: World) -> None:
    aid = _contact(world)
    activities.start_activity_timer(world.ctx, "u-anna", aid)
    world.clock.advance(minutes=1)
    activities.pause_activity_timer(world.ctx, "u-anna", aid)
    before = world.dump()
    with pytest.raises(InvalidInput, match="already paused"):
        activities.pause_activity_timer(world.ctx, "u-anna", aid)
    assert world.dump() == before


def test_completed_activity_is_frozen_for_every_service(world: World) -> None:
    aid = _contact(world, note="first")
    done = activities.complete_activity(world.ctx, "u-anna", aid, outcome="quote requested")
    assert (done.completed_at, done.outcome) == (T0, "quote requested")
    before = world.dump()
    with pytest.raises(ActivityFrozen):
        activities.edit_note(world.ctx, "u-anna", aid, "second")
    with pytest.raises(ActivityFrozen):
        activities.update_activity(world.ctx, "u-anna", aid, subject="changed")
    with pytest.raises(ActivityFrozen):
        activities.set_activity_contacts(world.ctx, "u-anna", aid, ["C-2"])
    with pytest.raises(ActivityFrozen):
        activities.start_activity_timer(world.ctx, "u-anna", aid)
    with pytest.raises(ActivityFrozen):
        activities.complete_activity(world.ctx, "u-anna", aid)
    assert world.dump() == before


def test_note_stays_editable_until_completion(world: World) -> None:
    aid = _contact(world)
    activities.edit_note(world.ctx, "u-anna", aid, "left a message")
    a = activities.edit_note(world.ctx, "u-anna", aid, "called back, interested")
    assert (a.note, a.version) == ("called back, interested", 3)


def test_set_contacts_checks_the_relation(world: World) -> None:
    aid = _contact(world)
    a = activities.set_activity_contacts(world.ctx, "u-anna", aid, ["C-1", "C-2"])
    assert a.contact_ids == ("C-1", "C-2")
    with pytest.raises(InvalidInput, match="Pietersen"):
        activities.set_activity_contacts(world.ctx, "u-anna", aid, ["C-7"])
    a = activities.set_activity_contacts(world.ctx, "u-anna", aid, ["C-7"], relation_id="R-2")
    assert (a.relation_id, a.contact_ids) == ("R-2", ("C-7",))


def test_every_change_is_in_the_activity_history(world: World) -> None:
    aid = _contact(world)
    world.clock.advance(minutes=5)
    activities.edit_note(world.ctx, "u-anna", aid, "interested")
    activities.complete_activity(world.ctx, "u-anna", aid)
    history = activities.activity_history(world.ctx, "u-anna", aid)
    assert [c.action for c in history] == ["create", "update", "complete"]
    assert history[1].changes["note"] == ("", "interested")
    assert history[1].at == T0 + timedelta(minutes=5)


def test_follow_up_creates_the_analogous_activity(world: World) -> None:
    aid = _contact(world, subject="Quote", channel="phone")
    nxt = activities.schedule_follow_up(world.ctx, "u-anna", aid, in_days=1, business_days=True)
    assert (nxt.follow_up_of, nxt.subject, nxt.channel) == (aid, "Quote", "phone")
    assert nxt.start == T0 + timedelta(days=1)
    assert [a.id for a in activities.my_activities(world.ctx, "u-anna")] == [nxt.id, aid]


def test_follow_up_in_the_past_is_refused_and_nothing_is_stored(world: World) -> None:
    aid = _contact(world, start=T0 - timedelta(days=20))
    before = world.dump()
    with pytest.raises(InvalidInput, match="in the past"):
        activities.schedule_follow_up(world.ctx, "u-anna", aid, on=date(2026, 2, 20))
    assert world.dump() == before


def test_my_activities_are_paged_newest_first(world: World) -> None:
    ids = [_contact(world, start=T0 + timedelta(hours=h)) for h in range(5)]
    page1 = activities.my_activities(world.ctx, "u-anna", limit=2)
    page2 = activities.my_activities(world.ctx, "u-anna", limit=2, offset=2)
    assert [a.id for a in page1 + page2] == ids[::-1][:4]


def test_open_only_leaves_completed_activities_out(world: World) -> None:
    done = _contact(world)
    activities.complete_activity(world.ctx, "u-anna", done)
    still = _contact(world)
    assert [a.id for a in activities.my_activities(world.ctx, "u-anna", open_only=True)] == [still]


def test_activities_of_a_relation_respect_visibility(world: World) -> None:
    mine = _contact(world, actor="u-anna")
    carlas = _contact(world, actor="u-carla")
    seen_by_bob = activities.activities_of_relation(world.ctx, "u-bob", "R-1")
    assert [a.id for a in seen_by_bob] == [mine]  # Anna shares a group with Bob
    seen_by_boss = {a.id for a in activities.activities_of_relation(world.ctx, "u-boss", "R-1")}
    assert seen_by_boss == {mine, carlas}
    with pytest.raises(NotFound):
        activities.get_activity(world.ctx, "u-bob", carlas)


def test_activities_of_a_project_are_listed(world: World) -> None:
    pid = projects.create_project(world.ctx, "u-anna", relation_id="R-1", name="Ovens").id
    a = activities.create_task(world.ctx, "u-anna", project_id=pid)
    _contact(world)
    assert [x.id for x in activities.activities_of_project(world.ctx, "u-anna", pid)] == [a.id]


def test_page_size_out_of_range_is_refused(world: World) -> None:
    with pytest.raises(InvalidInput, match="limit"):
        activities.my_activities(world.ctx, "u-anna", limit=0)


def test_add_to_agenda_books_an_appointment_and_links_it(world: World) -> None:
    aid = _contact(world, subject="Quote", start=T0 + timedelta(days=1))
    entry = activities.add_to_agenda(world.ctx, "u-anna", aid)
    assert entry.activity.appointment_id == entry.appointment.id
    assert entry.appointment.employee == "u-anna"
    assert entry.appointment.start == T0 + timedelta(days=1)
    assert entry.appointment.end == T0 + timedelta(days=1, hours=1)
    assert entry.appointment.title == "Quote"
    with world.store.unit_of_work() as uow:
        assert uow.appointments.find(entry.appointment.id) == entry.appointment


def test_adding_to_the_agenda_twice_is_refused(world: World) -> None:
    aid = _contact(world, start=T0 + timedelta(days=1))
    activities.add_to_agenda(world.ctx, "u-anna", aid)
    with pytest.raises(InvalidInput, match="in the agenda already"):
        activities.add_to_agenda(world.ctx, "u-anna", aid)


def test_agenda_conflict_leaves_the_activity_unlinked(world: World) -> None:
    first = _contact(world, start=T0 + timedelta(days=1))
    second = _contact(world, start=T0 + timedelta(days=1, minutes=30))
    activities.add_to_agenda(world.ctx, "u-anna", first)
    before = world.dump()
    with pytest.raises(AppointmentConflict):
        activities.add_to_agenda(world.ctx, "u-anna", second)
    assert world.dump() == before
    entry = activities.add_to_agenda(world.ctx, "u-anna", second, allow_conflicts=True)
    assert [c.appointment.id for c in entry.conflicts] != []


def test_task_without_a_time_cannot_go_in_the_agenda(world: World) -> None:
    task = activities.create_task(world.ctx, "u-anna")
    with pytest.raises(InvalidInput, match="start or due time"):
        activities.add_to_agenda(world.ctx, "u-anna", task.id)


def test_dictionaries_come_from_the_installation_definitions(world: World) -> None:
    world.ctx.definitions = Definitions(dictionaries=tuple(standard_dictionaries().values()))
    a = activities.create_task(world.ctx, "u-anna", priority="high", category="retention")
    assert (a.priority, a.category) == ("high", "retention")
    with pytest.raises(InvalidInput, match="'urgent' is not in the 'activity_priority' list"):
        activities.create_task(world.ctx, "u-anna", priority="urgent")

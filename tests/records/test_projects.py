"""L1-L6: the project record, its contacts, choices, notepad, links and summary."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import attrs
import pytest

from crm_procedures.errors import AccessDenied, InvalidInput, NotFound
from crm_procedures.model.money import Money
from crm_procedures.services import activities, projects
from crm_procedures.services.record_settings import chance_fraction
from records.builders import T0, World


def _project(world: World, **fields: object) -> str:
    base: dict[str, object] = {"relation_id": "R-1", "name": "Bread ovens 2026"}
    base.update(fields)
    return projects.create_project(
        world.ctx,
        "u-anna",
        settings=world.settings,
        **base,  # type: ignore[arg-type]
    ).id


def test_project_appears_under_its_relation(world: World) -> None:
    pid = _project(world, kind="new-business", stage="lead", chance="50%")
    found = projects.projects_of_relation(world.ctx, "u-bob", "R-1")
    assert [p.id for p in found] == [pid]
    assert found[0].version == 1


def test_project_creation_is_recorded_in_the_audit_log(world: World) -> None:
    pid = _project(world, description="Two ovens")
    with world.store.unit_of_work() as uow:
        (change,) = uow.audit.of_record("project", pid)
    assert (change.actor, change.action, change.at) == ("u-anna", "create", T0)
    assert change.changes["description"] == ("", "Two ovens")


def test_contacts_are_picked_from_the_relation(world: World) -> None:
    pid = _project(world, contact_ids=["C-1", "C-2"])
    assert projects.get_project(world.ctx, "u-anna", pid).contact_ids == ("C-1", "C-2")


def test_project_refuses_a_contact_of_another_relation(world: World) -> None:
    before = world.dump()
    with pytest.raises(InvalidInput, match="Pietersen"):
        _project(world, contact_ids=["C-1", "C-7"])
    assert world.dump() == before


def test_one_off_contact_is_kept_on_the_project_only(world: World) -> None:
    pid = _project(world)
    one_off = projects.add_one_off_contact(
        world.ctx, "u-anna", pid, last_name="Smit", email="smit@example.com"
    )
    project = projects.get_project(world.ctx, "u-anna", pid)
    assert project.one_off_contacts == (one_off,)
    with world.store.unit_of_work() as uow:
        assert uow.contacts.find(one_off.id) is None
        assert [c.id for c in uow.contacts.of_relation("R-1")] == ["C-2", "C-1"]


def test_unknown_dictionary_value_is_refused_and_nothing_changes(world: World) -> None:
    before = world.dump()
    with pytest.raises(InvalidInput, match="'won' is not in the 'project_stage' list"):
        _project(world, stage="won")
    assert world.dump() == before


def test_deactivated_choice_cannot_be_chosen_for_a_new_project(world: World) -> None:
    with pytest.raises(InvalidInput, match="deactivated"):
        _project(world, stage="legacy")


def test_deactivated_choice_stays_valid_on_an_existing_project(world: World) -> None:
    pid = _project(world, stage="lead")
    # An older record holding the now deactivated "legacy" stage.
    with world.store.unit_of_work() as uow:
        uow.projects.save(attrs.evolve(uow.projects.get(pid), stage="legacy"))
        uow.commit()
    updated = projects.update_project(
        world.ctx, "u-anna", pid, settings=world.settings, name="Ovens"
    )
    assert (updated.stage, updated.name) == ("legacy", "Ovens")
    projects.update_project(world.ctx, "u-anna", pid, settings=world.settings, stage="offer")
    with pytest.raises(InvalidInput, match="deactivated"):
        projects.update_project(world.ctx, "u-anna", pid, settings=world.settings, stage="legacy")


def test_free_choice_field_is_checked_against_its_own_list(world: World) -> None:
    pid = _project(world)
    p = projects.update_project(
        world.ctx, "u-anna", pid, settings=world.settings, custom_choice_1="north"
    )
    assert p.custom_choices[0] == "north"
    with pytest.raises(InvalidInput, match="custom_choices\\[1\\]"):
        projects.update_project(
            world.ctx, "u-anna", pid, settings=world.settings, custom_choice_2="north"
        )


def test_free_text_fields_change_one_at_a_time(world: World) -> None:
    pid = _project(world, custom_text=["a", "b"])
    p = projects.update_project(world.ctx, "u-anna", pid, custom_text_3="c")
    assert p.custom_text == ("a", "b", "c", "")


def test_update_records_who_changed_what(world: World) -> None:
    pid = _project(world)
    world.clock.advance(hours=1)
    projects.update_project(world.ctx, "u-bob", pid, end_date=date(2026, 6, 30))
    with world.store.unit_of_work() as uow:
        last = uow.audit.of_record("project", pid)[-1]
    assert (last.actor, last.at, last.version) == ("u-bob", T0 + timedelta(hours=1), 2)
    assert last.changes == {"end_date": ("", "2026-06-30")}


def test_update_refuses_an_unknown_field(world: World) -> None:
    pid = _project(world)
    with pytest.raises(InvalidInput, match="not a changeable project field"):
        projects.update_project(world.ctx, "u-anna", pid, colour="red")


def test_value_as_float_is_refused(world: World) -> None:
    before = world.dump()
    with pytest.raises(InvalidInput, match="value"):
        _project(world, value=2500.0)
    assert world.dump() == before


def test_user_without_project_write_cannot_create_a_project(world: World) -> None:
    with pytest.raises(AccessDenied, match=r"project\.write"):
        projects.create_project(world.ctx, "u-carla", relation_id="R-1", name="X")


def test_notepad_is_one_text_that_can_be_replaced(world: World) -> None:
    pid = _project(world)
    projects.set_notepad(world.ctx, "u-anna", pid, "call after the fair\nask for Piet")
    assert projects.get_project(world.ctx, "u-bob", pid).notepad.endswith("ask for Piet")


def test_linked_users_alone_see_a_restricted_project(world: World) -> None:
    pid = _project(world)
    projects.link_project(world.ctx, "u-anna", pid, users=["u-anna"])
    assert projects.get_project(world.ctx, "u-anna", pid).restricted
    with pytest.raises(NotFound):
        projects.get_project(world.ctx, "u-bob", pid)
    assert projects.get_project(world.ctx, "u-boss", pid).id == pid  # project.read_all


def test_linked_group_members_see_the_project(world: World) -> None:
    pid = _project(world)
    projects.link_project(world.ctx, "u-anna", pid, groups=["sales"])
    assert projects.get_project(world.ctx, "u-bob", pid).id == pid
    with pytest.raises(NotFound):
        projects.get_project(world.ctx, "u-carla", pid)


def test_linking_an_unknown_user_is_refused(world: World) -> None:
    pid = _project(world)
    with pytest.raises(InvalidInput, match="no user 'u-nobody'"):
        projects.link_project(world.ctx, "u-anna", pid, users=["u-nobody"])


def test_chance_percentage_reads_as_a_fraction() -> None:
    assert chance_fraction("50%") == Decimal("0.5")
    assert chance_fraction("12,5 %") == Decimal("0.125")
    assert chance_fraction("likely") is None


def test_summary_counts_activities_and_weighs_the_value(world: World) -> None:
    pid = _project(world, value=Money(Decimal("10000.00"), "EUR"), chance="30%")
    first = activities.create_contact(
        world.ctx, "u-anna", project_id=pid, contact_ids=["C-1"], start=T0
    )
    activities.complete_activity(world.ctx, "u-anna", first.id)
    world.clock.advance(hours=1)
    nxt = activities.create_meeting(
        world.ctx,
        "u-anna",
        project_id=pid,
        contact_ids=["C-2"],
        start=T0 + timedelta(days=2),
    )
    activities.create_task(world.ctx, "u-bob", project_id=pid, due=T0 + timedelta(days=5))
    summary = projects.project_summary(world.ctx, "u-boss", pid, settings=world.settings)
    assert summary.activity_counts == {"contact": 1, "meeting": 1, "task": 1}
    assert summary.open_activities == 2
    assert summary.last_activity is not None
    assert summary.last_activity.id == first.id
    assert summary.next_activity is not None
    assert summary.next_activity.id == nxt.id
    assert summary.weighted_value == Money(Decimal("3000.00"), "EUR")


def test_summary_counts_only_what_the_viewer_may_see(world: World) -> None:
    pid = _project(world)
    activities.create_task(world.ctx, "u-bob", project_id=pid, due=T0 + timedelta(days=1))
    activities.create_task(world.ctx, "u-carla", project_id=pid, due=T0 + timedelta(days=1))
    assert projects.project_summary(world.ctx, "u-anna", pid).activity_counts["task"] == 1
    assert projects.project_summary(world.ctx, "u-boss", pid).activity_counts["task"] == 2

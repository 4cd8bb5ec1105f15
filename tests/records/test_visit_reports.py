"""V1-V5: visit reports recorded, searched on their own, followed up and handed over."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crm_procedures.errors import AccessDenied, InvalidInput
from crm_procedures.model.activity import ActivityKind
from crm_procedures.services import activities, projects, visits
from records.builders import T0, World


def _report(world: World, actor: str = "u-anna", **fields: object) -> str:
    base: dict[str, object] = {
        "designation": "Visit Bakkerij de Vries",
        "relation_id": "R-1",
        "start": T0,
        "end": T0 + timedelta(hours=1),
        "contact_ids": ["C-1", "C-2"],
        "subject": "New ovens",
        "visit_type": "first",
        "keywords": ["ovens", "financiële lease"],
        "text": "Interested in two ovens; asks about leasing.",
        "action": "Send a lease offer\nand call back in a week",
    }
    base.update(fields)
    return visits.create_visit_report(world.ctx, actor, settings=world.settings, **base).id  # type: ignore[arg-type]


def test_report_records_every_v1_field(world: World) -> None:
    rid = _report(
        world,
        attachments=[visits.Attachment("notes.jpg", b"\xff\xd8 photo", "image/jpeg")],
    )
    r = visits.get_report(world.ctx, "u-bob", rid)
    assert (r.designation, r.relation_id, r.account_manager) == (
        "Visit Bakkerij de Vries",
        "R-1",
        "u-anna",
    )
    assert r.contact_ids == ("C-1", "C-2")
    assert (r.start, r.end, r.subject, r.visit_type) == (
        T0,
        T0 + timedelta(hours=1),
        "New ovens",
        "first",
    )
    assert r.keywords == ("ovens", "financiële lease")
    assert r.action.startswith("Send a lease offer")
    # The visit address defaults to the relation's.
    assert (r.address, r.postcode, r.city) == ("Dorpsstraat 1", "1234 AB", "Utrecht")
    (doc,) = projects.documents_of(world.ctx, "u-anna", "visit_report", rid)
    assert r.attachments == (doc.id,)
    assert projects.document_content(world.ctx, "u-anna", doc.id) == b"\xff\xd8 photo"


def test_visit_type_must_be_in_the_dictionary_and_nothing_is_stored(world: World) -> None:
    before = world.dump()
    with pytest.raises(InvalidInput, match="'courtesy' is not in the 'visit_type' list"):
        _report(world, visit_type="courtesy")
    assert world.dump() == before


def test_report_refuses_a_contact_of_another_relation(world: World) -> None:
    before = world.dump()
    with pytest.raises(InvalidInput, match="Pietersen"):
        _report(world, contact_ids=["C-1", "C-7"])
    assert world.dump() == before


def test_report_attachment_over_the_limit_stores_nothing(world: World) -> None:
    before = world.dump()
    with pytest.raises(InvalidInput, match="over the limit"):
        _report(world, attachments=[visits.Attachment("scan.pdf", b"x" * 5000)])
    assert world.dump() == before


def test_writing_reports_needs_visit_report_write(world: World) -> None:
    with pytest.raises(AccessDenied, match=r"visit_report\.write"):
        _report(world, actor="u-carla")


def test_reports_of_one_account_manager_without_going_through_relations(world: World) -> None:
    mine = _report(world)
    _report(world, actor="u-bob", relation_id="R-2", contact_ids=["C-7"])
    found = visits.search_reports(world.ctx, "u-bob", account_manager="u-anna")
    assert [r.id for r in found] == [mine]


def test_reports_are_found_by_keyword_ignoring_case_and_accents(world: World) -> None:
    rid = _report(world)
    _report(world, keywords=["koffie"], text="Coffee machine", subject="Coffee")
    assert [r.id for r in visits.search_reports(world.ctx, "u-anna", keyword="FINANCIELE")] == [rid]


def test_reports_are_filtered_by_period_and_type(world: World) -> None:
    early = _report(world)
    late = _report(
        world,
        start=T0 + timedelta(days=7),
        end=T0 + timedelta(days=7, hours=1),
        visit_type="revisit",
    )
    week = visits.search_reports(
        world.ctx, "u-anna", since=T0 + timedelta(days=1), until=T0 + timedelta(days=8)
    )
    assert [r.id for r in week] == [late]
    assert [r.id for r in visits.search_reports(world.ctx, "u-anna", visit_type="first")] == [early]


def test_search_refuses_a_naive_date(world: World) -> None:
    with pytest.raises(InvalidInput, match="timezone-aware"):
        visits.search_reports(world.ctx, "u-anna", since=T0.replace(tzinfo=None))


def test_action_becomes_a_follow_up_task_linked_on_the_report(world: World) -> None:
    rid = _report(world)
    due = T0 + timedelta(days=2)
    result = visits.action_to_follow_up(world.ctx, "u-anna", rid, due)
    task = result.activity
    assert (task.kind, task.employee, task.relation_id, task.due) == (
        ActivityKind.TASK,
        "u-anna",
        "R-1",
        due,
    )
    assert task.subject == "Send a lease offer"
    assert task.contact_ids == ("C-1", "C-2")
    assert result.report.follow_up_activity_id == task.id
    assert activities.get_activity(world.ctx, "u-anna", task.id) == task
    assert [c.action for c in visits.report_history(world.ctx, "u-anna", rid)] == [
        "create",
        "follow-up",
    ]


def test_action_is_followed_up_once(world: World) -> None:
    rid = _report(world)
    visits.action_to_follow_up(world.ctx, "u-anna", rid, T0 + timedelta(days=2))
    with pytest.raises(InvalidInput, match="has a follow-up already"):
        visits.action_to_follow_up(world.ctx, "u-anna", rid, T0 + timedelta(days=3))


def test_follow_up_due_in_the_past_is_refused_and_nothing_is_stored(world: World) -> None:
    rid = _report(world)
    before = world.dump()
    with pytest.raises(InvalidInput, match="in the past"):
        visits.action_to_follow_up(world.ctx, "u-anna", rid, T0 - timedelta(days=1))
    assert world.dump() == before


def test_report_without_action_has_nothing_to_follow_up(world: World) -> None:
    rid = _report(world, action="")
    with pytest.raises(InvalidInput, match="no action"):
        visits.action_to_follow_up(world.ctx, "u-anna", rid, T0 + timedelta(days=1))


def test_update_changes_a_report_and_keeps_history(world: World) -> None:
    rid = _report(world)
    world.clock.advance(hours=2)
    r = visits.update_visit_report(world.ctx, "u-bob", rid, keywords=["ovens", "demo"])
    assert r.keywords == ("ovens", "demo")
    last = visits.report_history(world.ctx, "u-anna", rid)[-1]
    assert (last.actor, last.at) == ("u-bob", T0 + timedelta(hours=2))
    assert last.changes["keywords"] == ("financiële lease, ovens", "demo, ovens")


def test_leaving_account_manager_hands_relations_and_reports_over(world: World) -> None:
    first = _report(world)
    second = _report(world, start=T0 + timedelta(days=1), end=T0 + timedelta(days=1, hours=1))
    _report(world, actor="u-bob", relation_id="R-2", contact_ids=["C-7"])
    moved = visits.reassign(world.ctx, "u-boss", "u-anna", "u-bob")
    assert moved.relations == ("R-1",)
    assert set(moved.reports) == {first, second}
    assert visits.search_reports(world.ctx, "u-bob", account_manager="u-anna") == []
    assert len(visits.search_reports(world.ctx, "u-bob", account_manager="u-bob")) == 3
    last = visits.report_history(world.ctx, "u-bob", first)[-1]
    assert (last.action, last.actor) == ("reassign", "u-boss")
    assert last.changes["account_manager"] == ("u-anna", "u-bob")
    with world.store.unit_of_work() as uow:
        (relation_change,) = uow.audit.of_record("relation", "R-1")
        assert relation_change.changes["account_manager"] == ("u-anna", "u-bob")
        assert uow.relations.get("R-1").account_manager == "u-bob"


def test_reassigning_to_a_deactivated_user_is_refused_and_nothing_moves(world: World) -> None:
    _report(world)
    before = world.dump()
    with pytest.raises(InvalidInput, match="deactivated"):
        visits.reassign(world.ctx, "u-boss", "u-anna", "u-gone")
    assert world.dump() == before


def test_reassigning_needs_visit_report_write(world: World) -> None:
    with pytest.raises(AccessDenied):
        visits.reassign(world.ctx, "u-carla", "u-anna", "u-bob")

"""A3 on procedure steps: the installation's note rule holds for the contact a step records.

"A short note of every customer contact" is enforced when a contact activity
is completed through the activity services; a step performed through a
procedure records such a contact too, so the same rule holds there: a
blocking rule refuses the step and leaves the store exactly as it was, a
warning comes back with the step's result. On memory, SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from contract.conftest import dump
from crm_procedures.errors import RuleViolation
from crm_procedures.model.activity import ActivityKind
from crm_procedures.model.prospect import EntryKind
from crm_procedures.model.users import Group, User
from crm_procedures.policies.rules import DEFAULT_RULES, RecordKind, Rule, RuleSet
from crm_procedures.ports import Store
from crm_procedures.services import campaigns, scheduler
from crm_procedures.services.mandatory_rules import adopt_rules
from crm_procedures.testing.clock import FrozenClock
from integration.campaign import Campaign, make_campaign


def _campaign(store: Store) -> Campaign:
    c = make_campaign(store)
    with store.unit_of_work() as uow:
        uow.groups.add(Group("admins", "Administrators", permissions={"admin"}))
        uow.users.add(User("root", "Root", groups={"admins"}))
        uow.commit()
    return c


def _note_rule(*, blocking: bool, min_length: int = 1, version: int = 1) -> RuleSet:
    condition = {"check": "note_required", "kinds": ["contact"], "min_length": min_length}
    rule = Rule(
        "activity-note",
        "Every customer contact gets a short note",
        RecordKind.ACTIVITY,
        condition,
        blocking=blocking,
    )
    return RuleSet(version, (rule,))


def _step_activities(c: Campaign) -> list[tuple[str, str | None, str]]:
    with c.store.unit_of_work(read_only=True) as uow:
        found = uow.activities.of_project(c.project.id, None, limit=100)
    return [(a.kind.value, a.outcome, a.note) for a in found]


def test_defect_a3_a_step_without_a_note_is_refused_when_the_rules_say_so(store: Store) -> None:
    c = _campaign(store)
    adopt_rules(c.ctx, "root", DEFAULT_RULES)
    before = dump(store)
    with pytest.raises(RuleViolation, match="short note") as refused:
        campaigns.perform_step(c.ctx, "ann", c.acme, "call", role="marketeer")
    assert [v.rule for v in refused.value.violations] == ["activity-note"]
    assert dump(store) == before
    done = campaigns.perform_step(
        c.ctx, "ann", c.acme, "call", role="marketeer", note="Wants an offer in May"
    )
    assert done.warnings == ()
    steps = [e for e in done.prospect.history if e.kind is EntryKind.STEP]
    assert [(e.step, e.note) for e in steps] == [("call", "Wants an offer in May")]
    assert _step_activities(c) == [("contact", "call", "Wants an offer in May")]


def test_a_refused_email_step_stores_neither_its_message_nor_anything_else(
    store: Store,
) -> None:
    c = _campaign(store)
    campaigns.perform_step(c.ctx, "ann", c.acme, "call", role="marketeer")
    adopt_rules(c.ctx, "root", _note_rule(blocking=True))
    before = dump(store)
    with pytest.raises(RuleViolation):
        campaigns.perform_step(c.ctx, "ann", c.acme, "send_info", role="marketeer", note="  \n")
    assert dump(store) == before
    sent = campaigns.perform_step(
        c.ctx, "ann", c.acme, "send_info", role="marketeer", note="Sent the brochure"
    )
    assert len(sent.message_keys) == 1


def test_a_note_shorter_than_the_rule_asks_is_refused(store: Store) -> None:
    c = _campaign(store)
    adopt_rules(c.ctx, "root", _note_rule(blocking=True, min_length=10))
    with pytest.raises(RuleViolation):
        campaigns.perform_step(c.ctx, "ann", c.acme, "call", role="marketeer", note="ok")
    campaigns.perform_step(c.ctx, "ann", c.acme, "call", role="marketeer", note="Call in June")


def test_a_warning_rule_lets_the_step_through_and_reports_it(store: Store) -> None:
    c = _campaign(store)
    adopt_rules(c.ctx, "root", _note_rule(blocking=False))
    done = campaigns.perform_step(c.ctx, "ann", c.acme, "call", role="marketeer")
    assert [(w.rule, w.record_kind, w.field, w.blocking) for w in done.warnings] == [
        ("activity-note", RecordKind.ACTIVITY, "note", False)
    ]
    assert done.prospect.last_step == "call"
    assert _step_activities(c) == [("contact", "call", "")]


def test_the_rule_in_force_is_the_one_adopted_last(store: Store) -> None:
    c = _campaign(store)
    adopt_rules(c.ctx, "root", _note_rule(blocking=True))
    with pytest.raises(RuleViolation):
        campaigns.perform_step(c.ctx, "ann", c.acme, "call", role="marketeer")
    without = RuleSet(2, tuple(r for r in DEFAULT_RULES.rules if r.applies_to != "activity"))
    adopt_rules(c.ctx, "root", without)
    assert campaigns.perform_step(c.ctx, "ann", c.acme, "call", role="marketeer").warnings == ()
    adopt_rules(c.ctx, "root", _note_rule(blocking=True, version=3))
    with pytest.raises(RuleViolation):
        campaigns.perform_step(c.ctx, "ann", c.acme, "call_back", role="marketeer")


def test_without_rules_or_without_a_recorded_contact_no_note_is_asked(store: Store) -> None:
    c = _campaign(store)
    campaigns.perform_step(c.ctx, "ann", c.acme, "call", role="marketeer")
    adopt_rules(c.ctx, "root", _note_rule(blocking=True))
    # A step that records no activity records no contact: the rule has nothing to hold.
    campaigns.perform_step(
        c.ctx, "ann", c.acme, "call_back", role="marketeer", record_activity=False
    )
    assert [kind for kind, _step, _note in _step_activities(c)] == [ActivityKind.CONTACT.value]


def test_other_activity_rules_do_not_stop_a_step(store: Store) -> None:
    # The step fills its activity itself; only the note rules are asked of it.
    c = _campaign(store)
    category = Rule(
        "activity-category",
        "Every activity has a category",
        RecordKind.ACTIVITY,
        {"check": "required", "field": "category"},
    )
    adopt_rules(c.ctx, "root", RuleSet(1, (category,)))
    done = campaigns.perform_step(c.ctx, "ann", c.acme, "call", role="marketeer")
    assert done.warnings == ()


def test_the_schedulers_automatic_steps_are_not_held_to_the_note_rule(store: Store) -> None:
    # No person made the automatic e-mail, so nobody can write its note; the
    # person's call before it is held to the rule.
    from contract.test_cadence import AMS, CALL, _world

    ctx, pid = _world(store)
    adopt_rules(ctx, "boss", _note_rule(blocking=True))
    assert isinstance(ctx.clock, FrozenClock)
    ctx.clock.advance(CALL - ctx.clock.now())
    with pytest.raises(RuleViolation):
        campaigns.perform_step(ctx, "ann", pid, "call", role="marketeer")
    campaigns.perform_step(ctx, "ann", pid, "call", role="marketeer", note="Interested")
    run = scheduler.run_due(ctx, datetime(2026, 4, 7, 10, 5, tzinfo=AMS), worker="w1")
    assert run.performed == ((pid, "send_info"),)
    assert run.failed == ()

"""P5-P7: frozen completed activities, required fields, the P6 contact rule, costs."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_procedures.errors import ActivityFrozen, InvalidInput
from crm_procedures.model.activity import ActivityKind
from crm_procedures.model.activity_rules import (
    change,
    check_required,
    complete,
    set_contacts,
    set_note,
)
from crm_procedures.model.money import Money
from records.builders import T0, an_activity, contact

# --- freezing ------------------------------------------------------------------------


def test_note_stays_editable_while_the_activity_is_open() -> None:
    a = set_note(an_activity(), "called, will send a quote")
    assert set_note(a, "quote sent").note == "quote sent"


def test_completed_activity_refuses_a_new_note() -> None:
    done = complete(an_activity(note="first"), T0)
    with pytest.raises(ActivityFrozen) as exc:
        set_note(done, "second")
    assert exc.value.field == "note"
    assert done.note == "first"


def test_completing_twice_is_refused() -> None:
    done = complete(an_activity(), T0)
    with pytest.raises(ActivityFrozen):
        complete(done, T0 + timedelta(hours=1))


def test_unchanged_values_on_a_completed_activity_are_not_a_change() -> None:
    done = complete(an_activity(subject="Intro"), T0)
    assert change(done, subject="Intro") is done


_changes: dict[str, st.SearchStrategy[Any]] = {
    "subject": st.text(st.characters(categories=("L", "N")), min_size=1, max_size=20),
    "note": st.text(st.characters(categories=("L", "N", "Zs")), min_size=1, max_size=40),
    "place": st.text(st.characters(categories=("L", "N")), min_size=1, max_size=20),
    "priority": st.sampled_from(["high", "low"]),
    "employee": st.sampled_from(["u-bob", "u-carla"]),
    "start": st.integers(1, 10_000).map(lambda m: T0 + timedelta(minutes=m)),
    "expected_cost": st.integers(1, 10_000).map(lambda n: Money(Decimal(n), "EUR")),
}


@given(data=st.data(), field=st.sampled_from(sorted(_changes)))
def test_no_field_of_a_completed_activity_can_change(data: st.DataObject, field: str) -> None:
    done = complete(an_activity(), T0)
    value = data.draw(_changes[field])
    with pytest.raises(ActivityFrozen) as exc:
        change(done, **{field: value})
    assert exc.value.activity_id == done.id
    assert exc.value.field == field


@given(data=st.data(), field=st.sampled_from(sorted(_changes)))
def test_any_field_of_an_open_activity_can_change(data: st.DataObject, field: str) -> None:
    value = data.draw(_changes[field])
    assert getattr(change(an_activity(), **{field: value}), field) == value


def test_change_refuses_an_unknown_field() -> None:
    with pytest.raises(InvalidInput, match="not a field of an activity"):
        change(an_activity(), colour="red")


def test_change_refuses_fields_with_their_own_rule() -> None:
    with pytest.raises(InvalidInput, match="set_contacts"):
        change(an_activity(), contact_ids=("C-9",))
    with pytest.raises(InvalidInput, match="complete"):
        change(an_activity(), completed_at=T0)


def test_cost_given_as_a_float_is_refused() -> None:
    meeting = an_activity(ActivityKind.MEETING)
    with pytest.raises(InvalidInput, match="expected_cost"):
        change(meeting, expected_cost=12.5)
    with pytest.raises(InvalidInput, match="float"):
        Money(12.5, "EUR")


def test_meeting_costs_carry_their_currency() -> None:
    meeting = change(
        an_activity(ActivityKind.MEETING),
        expected_cost=Money(Decimal("150.00"), "PLN"),
        actual_cost=Money(Decimal("162.40"), "PLN"),
    )
    assert meeting.actual_cost == Money(Decimal("162.40"), "PLN")


# --- required fields (P5, P7) ----------------------------------------------------------


def test_contact_activity_needs_a_contact_person() -> None:
    with pytest.raises(InvalidInput, match="contact person") as exc:
        check_required(an_activity(ActivityKind.CONTACT, contacts=()))
    assert exc.value.field == "contact_ids"


def test_meeting_needs_a_relation() -> None:
    with pytest.raises(InvalidInput, match="relation"):
        check_required(an_activity(ActivityKind.MEETING, relation=None, contacts=()))


def test_task_needs_only_an_employee() -> None:
    task = an_activity(ActivityKind.TASK, relation=None, contacts=())
    assert check_required(task) is task


def test_relation_cannot_be_removed_from_a_contact_activity() -> None:
    with pytest.raises(InvalidInput):
        change(an_activity(contacts=()), relation_id=None)


# --- P6: contacts belong to the activity's relation -------------------------------------


def test_contacts_of_the_relation_can_be_set() -> None:
    a = set_contacts(an_activity(), [contact("C-1", "R-1"), contact("C-2", "R-1")])
    assert a.contact_ids == ("C-1", "C-2")


def test_contact_of_another_relation_is_refused_by_name() -> None:
    with pytest.raises(InvalidInput, match=r"'Pietersen'.*belongs to relation R-2") as exc:
        set_contacts(an_activity(), [contact("C-1", "R-1"), contact("C-7", "R-2", "Pietersen")])
    assert exc.value.field == "contact_ids[1]"


def test_no_contact_can_be_set_before_the_relation() -> None:
    task = an_activity(ActivityKind.TASK, relation=None, contacts=())
    with pytest.raises(InvalidInput, match="before the activity's relation is set"):
        set_contacts(task, [contact("C-1", "R-1")])


def test_relation_and_contacts_can_be_set_together() -> None:
    task = an_activity(ActivityKind.TASK, relation=None, contacts=())
    a = set_contacts(task, [contact("C-5", "R-5")], relation_id="R-5")
    assert (a.relation_id, a.contact_ids) == ("R-5", ("C-5",))


def test_changing_the_relation_alone_would_strand_contacts_and_is_refused() -> None:
    with pytest.raises(InvalidInput, match="set_contacts"):
        change(an_activity(), relation_id="R-2")


def test_contacts_of_a_completed_activity_cannot_change() -> None:
    done = complete(an_activity(), T0)
    with pytest.raises(ActivityFrozen):
        set_contacts(done, [contact("C-2", "R-1")])


_relations = st.sampled_from(["R-1", "R-2", "R-3"])
_contacts = st.lists(
    st.tuples(st.sampled_from(["C-1", "C-2", "C-3", "C-4"]), _relations).map(
        lambda t: contact(t[0] + "@" + t[1], t[1])
    ),
    max_size=6,
)


@given(relation=st.one_of(st.none(), _relations), contacts=_contacts)
def test_contacts_are_accepted_exactly_when_all_belong_to_the_set_relation(
    relation: str | None, contacts: list[Any]
) -> None:
    task = an_activity(ActivityKind.TASK, relation=relation, contacts=())
    acceptable = not contacts or (
        relation is not None and all(c.relation_id == relation for c in contacts)
    )
    if acceptable:
        result = set_contacts(task, contacts)
        assert set(result.contact_ids) == {c.id for c in contacts}
        assert result.relation_id == relation
    else:
        with pytest.raises(InvalidInput) as exc:
            set_contacts(task, contacts)
        offender = next(c for c in contacts if relation is None or c.relation_id != relation)
        assert offender.id in str(exc.value)

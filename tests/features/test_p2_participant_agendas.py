"""P2 / issue 21: a meeting's participants have the appointment in their own agendas.

Through the agenda services on memory, SQLite and PostgreSQL: booked with
participants, the appointment is in each participant's agenda as in the
employee's; cancelled, it leaves them all; participants changed, it moves from
the agendas of those taken off to those added. A participant who is busy then
is a conflict, as the employee is. Who may read whose agenda is unchanged.
"""

from __future__ import annotations

import email
from datetime import datetime, timedelta
from email import policy
from typing import Any

import pytest

from crm_procedures.errors import AccessDenied, InvalidInput, NotFound
from crm_procedures.services.agenda import (
    AppointmentConflict,
    agenda,
    book_appointment,
    cancel,
    conflicts,
    reschedule,
)
from crm_procedures.services.context import Context
from crm_procedures.testing.clock import FrozenClock
from mail.conftest import AMS, NOW, seed

DAY = (datetime(2026, 3, 10, 0, 0, tzinfo=AMS), datetime(2026, 3, 11, 0, 0, tzinfo=AMS))


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, 10, hour, minute, tzinfo=AMS)


@pytest.fixture
def ctx(store: Any) -> Context:
    seed(store)
    counter = iter(range(1, 1_000_000))
    return Context(
        store=store,
        clock=FrozenClock(NOW),
        new_id=lambda: f"id{next(counter):05d}",
        sender_email="crm@crm.example.com",
        sender_name="Acme CRM",
    )


def titles(ctx: Context, reader: str, employee: str) -> list[str]:
    return [o.appointment.title for o in agenda(ctx, reader, employee, *DAY)]


def meeting(ctx: Context, **fields: Any) -> Any:
    values: dict[str, Any] = {
        "employee": "anna",
        "start": at(10),
        "end": at(11),
        "title": "Demo at Acme",
        "participants": ["piotr", "olga"],
    }
    values.update(fields)
    return book_appointment(ctx, "anna", **values).appointment


def recipients_of(message: Any) -> set[str]:
    parsed = email.message_from_string(message.payload["message"], policy=policy.default)
    return {a.addr_spec for a in parsed["To"].addresses}


def test_defect_participants_do_not_see_the_meeting_in_their_agenda(ctx: Context) -> None:
    booked = meeting(ctx)
    for person in ("anna", "piotr", "olga"):
        found = agenda(ctx, person, person, *DAY)
        assert [o.appointment.id for o in found] == [booked.id], person
        assert (found[0].start, found[0].end) == (at(10), at(11))
    assert titles(ctx, "bram", "bram") == []


def test_a_participants_agenda_holds_their_own_and_their_meetings_by_start(
    ctx: Context,
) -> None:
    meeting(ctx, start=at(14), end=at(15), title="Review")
    book_appointment(ctx, "piotr", employee="piotr", start=at(9), end=at(10), title="Own call")
    # a weekly series that began a week before, with piotr taking part
    meeting(
        ctx,
        start=at(11) - timedelta(days=7),
        end=at(12) - timedelta(days=7),
        title="Weekly",
        participants=["piotr"],
        rrule="FREQ=WEEKLY;COUNT=4",
    )
    assert titles(ctx, "piotr", "piotr") == ["Own call", "Weekly", "Review"]
    assert titles(ctx, "olga", "olga") == ["Review"]


def test_cancelling_takes_the_meeting_out_of_every_agenda(ctx: Context) -> None:
    booked = meeting(ctx)
    cancel(ctx, "anna", booked.id)
    for person in ("anna", "piotr", "olga"):
        assert titles(ctx, person, person) == [], person


def test_changing_participants_moves_the_meeting_between_agendas(ctx: Context) -> None:
    booked = meeting(ctx, participants=["piotr"])
    moved = reschedule(
        ctx, "anna", booked.id, booked.start, booked.end, participants=["olga"]
    ).appointment
    assert moved.participants == ("olga",)
    assert moved.sequence == 1
    assert titles(ctx, "piotr", "piotr") == []
    assert titles(ctx, "olga", "olga") == ["Demo at Acme"]
    assert titles(ctx, "anna", "anna") == ["Demo at Acme"]
    addresses = {a.email for a in moved.attendees}
    assert "olga@crm.example.com" in addresses
    assert "piotr@crm.example.com" not in addresses
    with ctx.store.unit_of_work(read_only=True) as uow:
        sent = {m.key: m for m in uow.outbox.list()}
    # the one taken off is told it is off; the others get the update
    assert recipients_of(sent[f"invite:{moved.uid}:1:cancel"]) == {"piotr@crm.example.com"}
    assert "olga@crm.example.com" in recipients_of(sent[f"invite:{moved.uid}:1"])
    # unchanged when rescheduled without naming participants
    again = reschedule(ctx, "anna", booked.id, at(12), at(13)).appointment
    assert again.participants == ("olga",)
    assert titles(ctx, "olga", "olga") == ["Demo at Acme"]


def test_a_busy_participant_is_a_conflict_unless_allowed(ctx: Context) -> None:
    own = book_appointment(
        ctx, "piotr", employee="piotr", start=at(10, 30), end=at(11, 30), title="Own call"
    ).appointment
    with pytest.raises(AppointmentConflict) as refused:
        meeting(ctx)
    assert [o.appointment.id for o in refused.value.conflicts] == [own.id]
    assert refused.value.busy == ("piotr",)
    assert "participant piotr already has an appointment then" in str(refused.value)
    assert titles(ctx, "anna", "anna") == []  # nothing was stored
    booked = book_appointment(
        ctx,
        "anna",
        employee="anna",
        start=at(10),
        end=at(11),
        title="Demo at Acme",
        participants=["piotr"],
        allow_conflicts=True,
    )
    assert [o.appointment.id for o in booked.conflicts] == [own.id]
    assert titles(ctx, "piotr", "piotr") == ["Demo at Acme", "Own call"]
    # the planning aid sees it too
    found = conflicts(ctx, "bram", at(10), at(10, 45), participants=["piotr"])
    assert {o.appointment.id for o in found} == {own.id, booked.appointment.id}
    assert conflicts(ctx, "bram", at(10), at(10, 45)) == []


def test_a_participants_own_booking_conflicts_with_a_meeting_they_take_part_in(
    ctx: Context,
) -> None:
    booked = meeting(ctx, participants=["piotr"])
    with pytest.raises(AppointmentConflict) as refused:
        book_appointment(
            ctx, "piotr", employee="piotr", start=at(10, 30), end=at(11, 30), title="Call"
        )
    assert [o.appointment.id for o in refused.value.conflicts] == [booked.id]
    assert refused.value.busy == ("piotr",)
    assert "employee piotr already has an appointment then" in str(refused.value)


def test_a_participant_added_on_a_move_is_checked_for_conflicts(ctx: Context) -> None:
    booked = meeting(ctx, participants=["piotr"])
    book_appointment(ctx, "olga", employee="olga", start=at(12), end=at(13), title="Olga's")
    with pytest.raises(AppointmentConflict) as refused:
        reschedule(ctx, "anna", booked.id, at(12), at(13), participants=["piotr", "olga"])
    assert refused.value.busy == ("olga",)
    # nothing changed
    assert titles(ctx, "olga", "olga") == ["Olga's"]
    assert titles(ctx, "piotr", "piotr") == ["Demo at Acme"]


def test_participants_that_are_no_users_are_refused_and_nothing_changes(ctx: Context) -> None:
    booked = meeting(ctx, participants=["piotr"])
    with pytest.raises(NotFound):
        reschedule(ctx, "anna", booked.id, at(10), at(11), participants=["nobody"])
    bad: Any
    for bad in ("piotr", [""], [3], 7):
        with pytest.raises(InvalidInput):
            reschedule(ctx, "anna", booked.id, at(10), at(11), participants=bad)
    with pytest.raises(InvalidInput):
        conflicts(ctx, "anna", at(10), at(11), participants="piotr")
    with ctx.store.unit_of_work(read_only=True) as uow:
        assert uow.appointments.get(booked.id) == booked
    assert titles(ctx, "piotr", "piotr") == ["Demo at Acme"]


def test_who_may_read_a_participants_agenda_is_unchanged(ctx: Context) -> None:
    meeting(ctx, participants=["piotr", "bram"])
    # olga shares the office group with bram (activity.read_group), not with piotr
    assert titles(ctx, "olga", "bram") == ["Demo at Acme"]
    with pytest.raises(AccessDenied):
        agenda(ctx, "olga", "piotr", *DAY)
    with pytest.raises(AccessDenied):
        agenda(ctx, "piotr", "anna", *DAY)

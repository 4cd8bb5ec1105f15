"""Booking, rescheduling, cancelling and listing appointments (W10, P5)."""

from __future__ import annotations

import email
import time
from datetime import datetime, timedelta
from email import policy
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from crm_procedures.errors import AccessDenied, InvalidInput, NotFound
from crm_procedures.model.appointment import Attendee
from crm_procedures.services.agenda import (
    AppointmentConflict,
    agenda,
    book_appointment,
    cancel,
    conflicts,
    occurrences,
    reschedule,
)
from crm_procedures.services.context import Context

from .conftest import AMS, WAW


def at(day: int, hour: int, minute: int = 0, month: int = 3, zone: Any = AMS) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=zone)


def outbox(ctx: Context) -> list[Any]:
    with ctx.store.unit_of_work() as uow:
        return list(uow.outbox.list())


def calendar_of(message: Any) -> bytes:
    parsed = email.message_from_string(message.payload["message"], policy=policy.default)
    part = next(p for p in parsed.walk() if p.get_content_type() == "text/calendar")
    data = part.get_payload(decode=True)
    assert isinstance(data, bytes)
    return data


def book(ctx: Context, **fields: Any) -> Any:
    values: dict[str, Any] = {
        "employee": "anna",
        "start": at(10, 10),
        "end": at(10, 11),
        "title": "Demo at Acme",
        "contact_id": "c-jan",
    }
    values.update(fields)
    return book_appointment(ctx, "anna", **values)


def test_booking_stores_the_appointment_and_its_invitation_together(ctx: Context) -> None:
    result = book(ctx, location="Acme HQ")
    appt = result.appointment
    assert appt.sequence == 0
    assert appt.uid.endswith("@crm.example.com")
    assert appt.relation_id == "r-acme"
    assert appt.organizer_email == "anna@crm.example.com"
    # The contact and the employee whose agenda holds it are both invited.
    assert [a.email for a in appt.attendees] == ["jan@acme.example.nl", "anna@crm.example.com"]
    (message,) = outbox(ctx)
    assert message.key == f"invite:{appt.uid}:0"
    assert message.channel == "mail"
    ics = calendar_of(message)
    assert f"UID:{appt.uid}\r\n".encode() in ics
    assert b'ATTENDEE;CN="Jan de Vries"' in ics
    parsed = email.message_from_string(message.payload["message"], policy=policy.default)
    assert parsed["Reply-To"] == "anna@crm.example.com"
    with ctx.store.unit_of_work() as uow:
        assert uow.appointments.get(appt.id) == appt
        assert [c.action for c in uow.audit.of_record("appointment", appt.id)] == ["create"]


def test_overlapping_booking_is_refused_unless_allowed(ctx: Context) -> None:
    first = book(ctx).appointment
    with pytest.raises(AppointmentConflict) as info:
        book(ctx, start=at(10, 10, 30), end=at(10, 11, 30), title="Second")
    assert [o.appointment.id for o in info.value.conflicts] == [first.id]
    assert len(outbox(ctx)) == 1  # nothing recorded for the refused booking
    allowed = book(
        ctx, start=at(10, 10, 30), end=at(10, 11, 30), title="Second", allow_conflicts=True
    )
    assert [o.appointment.id for o in allowed.conflicts] == [first.id]
    assert len(outbox(ctx)) == 2


def test_back_to_back_and_other_employees_do_not_conflict(ctx: Context) -> None:
    book(ctx)
    assert book(ctx, start=at(10, 11), end=at(10, 12)).conflicts == ()
    other = book_appointment(
        ctx, "piotr", employee="piotr", start=at(10, 10), end=at(10, 11), title="Piotr's own"
    )
    assert other.conflicts == ()
    assert other.invitation is not None  # the employee's own calendar gets it
    assert [a.email for a in other.appointment.attendees] == ["piotr@crm.example.com"]
    unaddressed = book_appointment(
        ctx, "bram", employee="bram", start=at(10, 10), end=at(10, 11), title="Bram's own"
    )
    assert unaddressed.invitation is None  # nobody with an address to invite


def test_weekly_series_conflicts_with_a_later_one_off(ctx: Context) -> None:
    book(ctx, rrule="FREQ=WEEKLY;COUNT=10", title="Weekly check-in")
    found = conflicts(ctx, "anna", at(24, 10, 30), at(24, 10, 45))
    assert [(o.start, o.appointment.title) for o in found] == [(at(24, 10), "Weekly check-in")]
    assert conflicts(ctx, "anna", at(25, 10, 30), at(25, 10, 45)) == []


def test_reschedule_keeps_uid_raises_sequence_and_sends_an_update(ctx: Context) -> None:
    appt = book(ctx).appointment
    moved = reschedule(ctx, "anna", appt.id, at(12, 14), at(12, 15), location="Online").appointment
    assert moved.uid == appt.uid
    assert moved.sequence == 1
    assert moved.location == "Online"
    first, update = outbox(ctx)
    assert update.key == f"invite:{appt.uid}:1"
    ics = calendar_of(update)
    assert b"SEQUENCE:1\r\n" in ics
    assert b"METHOD:REQUEST\r\n" in ics
    assert b"DTSTART;TZID=Europe/Amsterdam:20260312T140000\r\n" in ics
    assert first.payload["message"] != update.payload["message"]


def test_removed_attendee_gets_a_cancellation(ctx: Context) -> None:
    appt = book(ctx, attendees=["piet@acme.example.nl"]).appointment
    reschedule(ctx, "anna", appt.id, appt.start, appt.end, attendees=["piet@acme.example.nl"])
    cancel_msg = outbox(ctx)[-1]
    parsed = email.message_from_string(cancel_msg.payload["message"], policy=policy.default)
    assert parsed["To"] == "Jan de Vries <jan@acme.example.nl>"
    assert b"METHOD:CANCEL\r\n" in calendar_of(cancel_msg)


def test_reschedule_into_a_conflict_is_refused(ctx: Context) -> None:
    book(ctx)
    second = book(ctx, start=at(10, 14), end=at(10, 15)).appointment
    with pytest.raises(AppointmentConflict):
        reschedule(ctx, "anna", second.id, at(10, 10, 30), at(10, 11, 30))
    # Moving within its own slot is not a conflict with itself.
    assert reschedule(ctx, "anna", second.id, at(10, 14, 30), at(10, 15, 30)).conflicts == ()


def test_cancel_sends_method_cancel_with_the_same_uid_once(ctx: Context) -> None:
    appt = book(ctx).appointment
    cancelled = cancel(ctx, "anna", appt.id)
    assert cancelled.cancelled
    assert cancelled.sequence == 1
    again = cancel(ctx, "anna", appt.id)
    assert again.sequence == 1
    messages = outbox(ctx)
    assert len(messages) == 2
    ics = calendar_of(messages[-1])
    assert b"METHOD:CANCEL\r\n" in ics
    assert b"STATUS:CANCELLED\r\n" in ics
    assert f"UID:{appt.uid}\r\n".encode() in ics
    assert agenda(ctx, "anna", "anna", at(10, 0), at(11, 0)) == []
    with pytest.raises(InvalidInput):
        reschedule(ctx, "anna", appt.id, at(12, 10), at(12, 11))


def test_agenda_expands_a_series_with_an_exception_across_dst(ctx: Context) -> None:
    # Mondays 16, 23, 30 March and 6 April; DST starts on Sunday 29 March.
    book(
        ctx,
        start=at(16, 9),
        end=at(16, 10),
        title="Weekly",
        rrule="FREQ=WEEKLY;COUNT=4",
        exdates=[at(23, 9)],
    )
    book(ctx, start=at(30, 12), end=at(30, 13), title="Lunch")
    items = agenda(ctx, "anna", "anna", at(1, 0), at(30, 0, month=4))
    assert [(o.start, o.appointment.title) for o in items] == [
        (at(16, 9), "Weekly"),
        (at(30, 9), "Weekly"),
        (at(30, 12), "Lunch"),
        (at(6, 9, month=4), "Weekly"),
    ]
    assert all(o.start.hour == 9 for o in items if o.appointment.title == "Weekly")
    assert items[0].start.utcoffset() == timedelta(hours=1)
    assert items[1].start.utcoffset() == timedelta(hours=2)


def test_series_in_warsaw_keeps_wall_time_after_fall_back() -> None:
    from crm_procedures.ids import AppointmentId, UserId
    from crm_procedures.model.appointment import Appointment

    series = Appointment(
        id=AppointmentId("w"),
        employee=UserId("piotr"),
        start=datetime(2026, 10, 21, 8, 30, tzinfo=WAW),
        end=datetime(2026, 10, 21, 9, tzinfo=WAW),
        title="Standup",
        uid="w@x.example",
        rrule="FREQ=DAILY;UNTIL=20261030T000000Z",
    )
    found = occurrences(
        series, datetime(2026, 10, 24, tzinfo=WAW), datetime(2026, 10, 27, tzinfo=WAW)
    )
    assert [(o.start.day, o.start.hour, o.start.minute) for o in found] == [
        (24, 8, 30),
        (25, 8, 30),
        (26, 8, 30),
    ]
    assert [o.start.utcoffset() for o in found] == [timedelta(hours=h) for h in (2, 1, 1)]


def test_agenda_includes_a_series_that_started_before_the_window(ctx: Context) -> None:
    book(ctx, start=at(2, 9), end=at(2, 10), title="Weekly", rrule="FREQ=WEEKLY")
    items = agenda(ctx, "anna", "anna", at(1, 0, month=6), at(8, 0, month=6))
    assert [(o.start.month, o.start.day, o.start.hour) for o in items] == [(6, 1, 9)]


def test_agenda_of_someone_else_needs_the_right_scope(ctx: Context) -> None:
    book_appointment(ctx, "olga", employee="olga", start=at(10, 10), end=at(10, 11), title="Olga's")
    assert len(agenda(ctx, "bram", "olga", at(10, 0), at(11, 0))) == 1  # same group
    with pytest.raises(AccessDenied):
        agenda(ctx, "anna", "olga", at(10, 0), at(11, 0))
    with pytest.raises(AccessDenied):
        book_appointment(ctx, "anna", employee="olga", start=at(11, 10), end=at(11, 11), title="x")
    booked = book_appointment(
        ctx, "bram", employee="olga", start=at(11, 10), end=at(11, 11), title="By Bram"
    )
    assert booked.appointment.employee == "olga"


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"start": datetime(2026, 3, 10, 10)}, InvalidInput),
        ({"end": at(10, 9)}, InvalidInput),
        ({"title": "Demo\r\nBcc: x@y.example"}, InvalidInput),
        ({"location": "Room\nATTENDEE:mailto:evil@x.example"}, InvalidInput),
        ({"rrule": "FREQ=MINUTELY"}, InvalidInput),
        ({"rrule": "FREQ=WEEKLY\nATTENDEE:mailto:evil@x.example"}, InvalidInput),
        ({"attendees": ["not an address"]}, InvalidInput),
        ({"attendees": [("Evil\r\nBcc: x@y.example", "e@x.example")]}, InvalidInput),
        ({"employee": "nobody"}, NotFound),
        ({"contact_id": "c-missing"}, NotFound),
    ],
)
def test_bad_bookings_are_refused_and_store_nothing(
    ctx: Context, fields: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        book(ctx, **fields)
    assert outbox(ctx) == []
    with ctx.store.unit_of_work() as uow:
        assert uow.appointments.count() == 0


def test_description_with_property_injection_is_escaped_on_the_wire(ctx: Context) -> None:
    result = book(ctx, description="Agenda:\nATTENDEE:mailto:evil@x.example\r\nEND:VEVENT")
    ics = calendar_of(result.invitation)
    assert b"\r\nATTENDEE:mailto:evil" not in ics
    assert b"\r\nEND:VEVENT\r\nEND:VEVENT" not in ics
    assert ics.count(b"\r\nATTENDEE") == 2  # the contact and the employee


def test_attendees_are_deduplicated_and_contact_can_be_left_out(ctx: Context) -> None:
    result = book(
        ctx,
        attendees=[Attendee("JAN@acme.example.nl", "Jan"), ("Piet", "piet@acme.example.nl")],
    )
    assert [a.email for a in result.appointment.attendees] == [
        "jan@acme.example.nl",
        "piet@acme.example.nl",
        "anna@crm.example.com",
    ]
    quiet = book(ctx, start=at(11, 10), end=at(11, 11), invite_contact=False)
    assert [a.email for a in quiet.appointment.attendees] == ["anna@crm.example.com"]
    assert quiet.invitation is not None  # only the employee's own calendar


# --- defects of issue 16 ------------------------------------------------------------------


def test_defect_09_a_booking_overlapping_a_gap_occurrence_is_a_conflict(ctx: Context) -> None:
    """Weekly Sunday 02:30-03:30; on 2026-03-29 that reads 03:30-04:30 CEST (RFC 5545)."""
    sunday = datetime(2026, 3, 22, 2, 30, tzinfo=AMS)
    series = book(
        ctx, start=sunday, end=sunday + timedelta(hours=1), title="Night", rrule="FREQ=WEEKLY"
    ).appointment
    (gap,) = occurrences(
        series, datetime(2026, 3, 29, tzinfo=AMS), datetime(2026, 3, 30, tzinfo=AMS)
    )
    assert gap.start == datetime(2026, 3, 29, 3, 30, tzinfo=AMS)
    assert gap.end == datetime(2026, 3, 29, 4, 30, tzinfo=AMS)
    with pytest.raises(AppointmentConflict):
        book(
            ctx,
            start=datetime(2026, 3, 29, 4, 0, tzinfo=AMS),
            end=datetime(2026, 3, 29, 4, 15, tzinfo=AMS),
        )
    found = conflicts(
        ctx,
        "anna",
        datetime(2026, 3, 29, 4, 0, tzinfo=AMS),
        datetime(2026, 3, 29, 4, 15, tzinfo=AMS),
    )
    assert [o.appointment.id for o in found] == [series.id]


def test_defect_08_conflicts_compare_instants_across_the_repeated_hour(ctx: Context) -> None:
    # 02:10-02:50 in the second (fold=1) hour is 01:10Z-01:50Z; an appointment
    # 02:20-02:40 in the first hour (00:20Z-00:40Z) does not overlap it.
    second = datetime(2026, 10, 25, 2, 10, tzinfo=AMS, fold=1)
    # (Python's wall-clock "+ timedelta" drops fold, so the end is built explicitly.)
    book(ctx, start=second, end=second.replace(minute=50), contact_id=None)
    first = datetime(2026, 10, 25, 2, 20, tzinfo=AMS)
    assert conflicts(ctx, "anna", first, first + timedelta(minutes=20)) == []
    later = datetime(2026, 10, 25, 2, 20, tzinfo=AMS, fold=1)
    assert len(conflicts(ctx, "anna", later, later.replace(minute=25))) == 1


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
        "FREQ=WEEKLY;INTERVAL=0",
        "FREQ=MONTHLY;BYMONTHDAY=-40",
        "FREQ=YEARLY;BYWEEKNO=60",
    ],
)
def test_defect_10_unbounded_or_out_of_range_rules_are_refused_quickly(
    ctx: Context, rule: str
) -> None:
    began = time.thread_time()
    with pytest.raises(InvalidInput) as info:
        book(ctx, rrule=rule)
    assert info.value.field == "rrule"
    assert time.thread_time() - began < 2.0
    assert outbox(ctx) == []


def test_defect_10_agenda_with_many_series_stays_cheap(ctx: Context) -> None:
    for i in range(20):
        book(
            ctx,
            start=at(2, 9) + timedelta(minutes=i),
            end=at(2, 9) + timedelta(minutes=i + 1),
            rrule="FREQ=MONTHLY;BYDAY=-1FR;BYMONTH=2,5,8,11",
            contact_id=None,
            allow_conflicts=True,
        )
    began = time.thread_time()
    found = agenda(ctx, "anna", "anna", at(1, 0, month=1), at(1, 0, month=1) + timedelta(days=3650))
    assert time.thread_time() - began < 5.0
    assert len(found) == 20 * (3 + 9 * 4)  # May, Aug, Nov 2026, then four a year


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (datetime(1, 1, 1, 0, 5, tzinfo=AMS), datetime(1, 1, 1, 1, 5, tzinfo=AMS)),
        (
            datetime(9999, 12, 31, 22, tzinfo=ZoneInfo("America/New_York")),
            datetime(9999, 12, 31, 23, tzinfo=ZoneInfo("America/New_York")),
        ),
    ],
)
def test_defect_11_bookings_at_date_extremes_are_refused(
    ctx: Context, start: datetime, end: datetime
) -> None:
    with pytest.raises(InvalidInput):
        book(ctx, start=start, end=end)
    with pytest.raises(InvalidInput):
        conflicts(ctx, "anna", start, end)
    assert outbox(ctx) == []


def test_defect_11_agenda_windows_at_date_extremes_read_everything(ctx: Context) -> None:
    booked = book(ctx).appointment
    found = agenda(
        ctx,
        "anna",
        "anna",
        datetime(1, 1, 1, 0, 5, tzinfo=AMS),
        datetime(9999, 12, 31, 22, tzinfo=ZoneInfo("America/New_York")),
    )
    assert [o.appointment.id for o in found] == [booked.id]

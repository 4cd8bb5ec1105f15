"""Invitations to every attendee and their answers (issue 19, "the agenda, both ways")."""

from __future__ import annotations

import email
from email import policy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_procedures.errors import CrmError, InvalidInput, NotFound, StaleCalendarReply
from crm_procedures.formats.ical import invitation_ics
from crm_procedures.inbound.kinds import PartStat as InboundPartStat
from crm_procedures.model.appointment import Appointment, PartStat
from crm_procedures.serialization import structure, unstructure
from crm_procedures.services.agenda import (
    book_appointment,
    cancel,
    record_attendee_reply,
    reschedule,
)
from crm_procedures.services.context import Context

from .helpers import at, seeded_context


def outbox(ctx: Context) -> list[Any]:
    with ctx.store.unit_of_work(read_only=True) as uow:
        return list(uow.outbox.list())


def recipients(message: Any) -> list[str]:
    parsed = email.message_from_string(message.payload["message"], policy=policy.default)
    return sorted(a.addr_spec for a in parsed["To"].addresses)


def ics_of(message: Any) -> bytes:
    parsed = email.message_from_string(message.payload["message"], policy=policy.default)
    part = next(p for p in parsed.walk() if p.get_content_type() == "text/calendar")
    data = part.get_payload(decode=True)
    assert isinstance(data, bytes)
    return data


def meeting(ctx: Context, **fields: Any) -> Appointment:
    values: dict[str, Any] = {
        "employee": "anna",
        "start": at(10, 10),
        "end": at(10, 11),
        "title": "Meeting at Acme",
        "contact_id": "c-jan",
        "participants": ["piotr", "bram"],
    }
    values.update(fields)
    return book_appointment(ctx, "anna", **values).appointment


EVERYONE = ["anna@crm.example.com", "jan@acme.example.nl", "piotr@crm.example.com"]


def test_contact_employee_and_participants_get_request_update_and_cancel() -> None:
    ctx = seeded_context()
    appt = meeting(ctx)
    assert appt.participants == ("piotr", "bram")
    # Bram has no address: he is named but cannot be sent anything.
    assert sorted(a.email for a in appt.attendees) == EVERYONE
    reschedule(ctx, "anna", appt.id, at(11, 10), at(11, 11))
    cancel(ctx, "anna", appt.id)
    request, update, cancellation = outbox(ctx)
    for message in (request, update, cancellation):
        assert recipients(message) == EVERYONE
    assert b"METHOD:REQUEST\r\n" in ics_of(request)
    assert b"SEQUENCE:0\r\n" in ics_of(request)
    assert b"METHOD:REQUEST\r\n" in ics_of(update)
    assert b"SEQUENCE:1\r\n" in ics_of(update)
    assert b"METHOD:CANCEL\r\n" in ics_of(cancellation)
    assert b"SEQUENCE:2\r\n" in ics_of(cancellation)
    for address in EVERYONE:
        assert f"mailto:{address}".encode() in ics_of(request)


def test_the_organizer_is_listed_as_taking_part_and_not_asked_to_answer() -> None:
    ctx = seeded_context()
    appt = meeting(ctx)
    text = invitation_ics(appt, "REQUEST").decode().replace("\r\n ", "")
    assert "ORGANIZER;CN=" in text or "ORGANIZER:mailto:anna@crm.example.com" in text
    anna = [line for line in text.split("\r\n") if line.startswith("ATTENDEE") and "anna@" in line]
    assert anna
    assert "PARTSTAT=ACCEPTED;RSVP=FALSE" in anna[0]
    jan = [line for line in text.split("\r\n") if line.startswith("ATTENDEE") and "jan@" in line]
    assert jan
    assert "PARTSTAT=NEEDS-ACTION;RSVP=TRUE" in jan[0]


def test_a_new_attendee_list_keeps_the_employee_and_participants_invited() -> None:
    ctx = seeded_context()
    appt = meeting(ctx)
    moved = reschedule(
        ctx, "anna", appt.id, appt.start, appt.end, attendees=["piet@acme.example.nl"]
    ).appointment
    assert sorted(a.email for a in moved.attendees) == [
        "anna@crm.example.com",
        "piet@acme.example.nl",
        "piotr@crm.example.com",
    ]
    # Only the contact was dropped, so only the contact is told it is off.
    assert recipients(outbox(ctx)[-1]) == ["jan@acme.example.nl"]


def test_an_unknown_participant_is_refused_and_nothing_is_stored() -> None:
    ctx = seeded_context()
    with pytest.raises(NotFound):
        meeting(ctx, participants=["nobody"])
    with pytest.raises(InvalidInput):
        meeting(ctx, participants="piotr")
    with ctx.store.unit_of_work(read_only=True) as uow:
        assert uow.appointments.count() == 0
    assert outbox(ctx) == []


def test_answers_are_stored_per_attendee_and_shown_in_the_next_invitation() -> None:
    ctx = seeded_context()
    appt = meeting(ctx)
    record_attendee_reply(ctx, appt.uid, 0, "JAN@acme.example.nl", "ACCEPTED")
    stored = record_attendee_reply(ctx, appt.uid, 0, "piotr@crm.example.com", "tentative")
    assert stored.partstat("jan@acme.example.nl") is PartStat.ACCEPTED
    assert stored.partstat("piotr@crm.example.com") is PartStat.TENTATIVE
    assert stored.partstat("anna@crm.example.com") is PartStat.NEEDS_ACTION
    text = invitation_ics(stored, "REQUEST").decode().replace("\r\n ", "")
    jan = next(
        line for line in text.split("\r\n") if line.startswith("ATTENDEE") and "jan@" in line
    )
    assert "PARTSTAT=ACCEPTED;RSVP=FALSE" in jan
    # A changed mind replaces the answer to the same version.
    changed = record_attendee_reply(ctx, appt.uid, 0, "jan@acme.example.nl", PartStat.DECLINED)
    assert changed.partstat("jan@acme.example.nl") is PartStat.DECLINED
    assert len(changed.replies) == 2


def test_recording_the_same_answer_twice_changes_nothing() -> None:
    ctx = seeded_context()
    appt = meeting(ctx)
    first = record_attendee_reply(ctx, appt.uid, 0, "jan@acme.example.nl", InboundPartStat.ACCEPTED)
    again = record_attendee_reply(ctx, appt.uid, 0, "jan@acme.example.nl", "accepted")
    assert again == first
    with ctx.store.unit_of_work(read_only=True) as uow:
        actions = [c.action for c in uow.audit.of_record("appointment", appt.id)]
    assert actions == ["create", "reply:accepted"]


def test_an_answer_to_an_older_version_is_refused_after_a_move() -> None:
    ctx = seeded_context()
    appt = meeting(ctx)
    record_attendee_reply(ctx, appt.uid, 0, "jan@acme.example.nl", "accepted")
    moved = reschedule(ctx, "anna", appt.id, at(12, 10), at(12, 11)).appointment
    # A move asks everyone again.
    assert moved.replies == ()
    with pytest.raises(StaleCalendarReply) as info:
        record_attendee_reply(ctx, appt.uid, 0, "jan@acme.example.nl", "declined")
    assert (info.value.sequence, info.value.current) == (0, 1)
    with ctx.store.unit_of_work(read_only=True) as uow:
        assert uow.appointments.get(appt.id) == moved


@pytest.mark.parametrize(
    ("uid", "sequence", "attendee", "partstat", "error"),
    [
        ("unknown@crm.example.com", 0, "jan@acme.example.nl", "accepted", NotFound),
        (None, 0, "jan@acme.example.nl", "accepted", InvalidInput),
        ("{uid}", 1, "jan@acme.example.nl", "accepted", InvalidInput),
        ("{uid}", -1, "jan@acme.example.nl", "accepted", InvalidInput),
        ("{uid}", True, "jan@acme.example.nl", "accepted", InvalidInput),
        ("{uid}", 0, "stranger@example.com", "accepted", InvalidInput),
        ("{uid}", 0, "not an address", "accepted", InvalidInput),
        ("{uid}", 0, "jan@acme.example.nl", "needs-action", InvalidInput),
        ("{uid}", 0, "jan@acme.example.nl", "maybe", InvalidInput),
    ],
)
def test_a_bad_answer_is_refused_with_a_named_error_and_changes_nothing(
    uid: Any, sequence: Any, attendee: Any, partstat: Any, error: type[Exception]
) -> None:
    ctx = seeded_context()
    appt = meeting(ctx)
    with pytest.raises(error):
        record_attendee_reply(
            ctx, appt.uid if uid == "{uid}" else uid, sequence, attendee, partstat
        )
    with ctx.store.unit_of_work(read_only=True) as uow:
        assert uow.appointments.get(appt.id) == appt


_text = st.one_of(st.none(), st.integers(), st.text(max_size=40))


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(sequence=st.one_of(st.integers(-5, 5), _text), attendee=_text, partstat=_text)
def test_any_answer_either_records_or_raises_a_named_error(
    sequence: Any, attendee: Any, partstat: Any
) -> None:
    ctx = seeded_context()
    appt = meeting(ctx)
    try:
        stored = record_attendee_reply(ctx, appt.uid, sequence, attendee, partstat)
    except CrmError:
        with ctx.store.unit_of_work(read_only=True) as uow:
            assert uow.appointments.get(appt.id) == appt
    else:
        assert stored.partstat(attendee) is not PartStat.NEEDS_ACTION


def test_appointments_stored_before_answers_existed_still_load() -> None:
    ctx = seeded_context()
    appt = meeting(ctx)
    data = unstructure(appt)
    del data["participants"], data["replies"]
    old = structure(data, Appointment)
    assert old.participants == ()
    assert old.replies == ()
    assert old.partstat("jan@acme.example.nl") is PartStat.NEEDS_ACTION

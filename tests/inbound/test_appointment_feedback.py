"""Calendar answers stored on the appointment, and lost appointments fed back to the procedure.

Issue 19: ``process_inbox`` stores an attendee's PARTSTAT on the appointment
inside its unit of work; cancelling raises ``appointment_cancelled``; a
cancelled or declined appointment makes the procedure's
``on_appointment_lost`` step available again, and the history says why.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

import integration.campaign
from crm_procedures.adapters.inbox_folder import FolderInbox
from crm_procedures.errors import DefinitionError, TransitionNotAllowed
from crm_procedures.inbound.samples import calendar_reply_to
from crm_procedures.model.appointment import PartStat
from crm_procedures.model.prospect import EntryKind
from crm_procedures.procedures.definitions import dump_definitions, load_definitions
from crm_procedures.procedures.events import APPOINTMENT_CANCELLED, APPOINTMENT_DECLINED, Event
from crm_procedures.procedures.standard import standard_definitions
from crm_procedures.services import agenda, campaigns
from crm_procedures.services.inbound import inbound_of, process_inbox
from integration.campaign import Campaign, make_campaign, open_test_store

CONTACT = "jan@acme.example.nl"


@pytest.fixture(params=["memory", "sqlite"])
def c(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    store = open_test_store(request.param, tmp_path)
    campaign = make_campaign(store)
    events: list[Event] = []
    campaign.ctx.on_event = events.append
    try:
        yield campaign, events
    finally:
        store.close()


def step(c: Campaign, name: str, actor: str = "ann", role: str = "marketeer") -> Any:
    c.clock.advance(minutes=1)
    return campaigns.perform_step(
        c.ctx, actor, c.acme, name, role=role, appointment_start=c.clock.now() + timedelta(days=2)
    )


def booked(c: Campaign) -> Any:
    step(c, "call")
    appointment = step(c, "make_appointment").appointment
    assert appointment is not None
    return appointment


def answer(c: Campaign, folder: Path, appointment: Any, partstat: str, n: int, **kw: Any) -> Any:
    folder.mkdir(exist_ok=True)
    raw = calendar_reply_to(
        appointment.uid,
        sequence=kw.get("sequence", appointment.sequence),
        attendee=kw.get("attendee", CONTACT),
        organizer="campaigns@example.com",
        partstat=partstat,
        message_id=f"<cal{n}@acme.example.nl>",
        date=c.clock.now(),
    )
    (folder / f"{n:03d}.eml").write_bytes(raw)
    return process_inbox(c.ctx, FolderInbox(folder))


def prospect(c: Campaign) -> Any:
    with c.store.unit_of_work() as uow:
        return uow.prospects.find(c.acme)


def test_process_inbox_stores_the_partstat_on_the_appointment(c: Any, tmp_path: Path) -> None:
    campaign, _ = c
    appointment = booked(campaign)
    run = answer(campaign, tmp_path / "in", appointment, "ACCEPTED", 1)
    assert run.applied == 1
    with campaign.store.unit_of_work() as uow:
        stored = uow.appointments.get(appointment.id)
    reply = stored.reply_of(CONTACT)
    assert reply is not None
    assert (reply.partstat, reply.sequence) == (PartStat.ACCEPTED, appointment.sequence)
    # An accepted invitation leaves the procedure where it was.
    assert prospect(campaign).last_step == "make_appointment"


def test_a_stale_answer_is_recorded_as_activity_but_not_stored(c: Any, tmp_path: Path) -> None:
    campaign, events = c
    appointment = booked(campaign)
    moved = agenda.reschedule(
        campaign.ctx,
        "cor",
        appointment.id,
        appointment.start + timedelta(hours=1),
        appointment.end + timedelta(hours=1),
    ).appointment
    run = answer(campaign, tmp_path / "in", appointment, "DECLINED", 1, sequence=0)
    assert run.applied == 1
    with campaign.store.unit_of_work() as uow:
        stored = uow.appointments.get(appointment.id)
    assert stored.sequence == moved.sequence == 1
    assert stored.reply_of(CONTACT) is None
    # A decline of an older version does not take the booking back.
    assert prospect(campaign).last_step == "make_appointment"
    assert [e.name for e in events] == [APPOINTMENT_DECLINED]


def test_contact_declining_makes_the_appointment_step_available_again(
    c: Any, tmp_path: Path
) -> None:
    campaign, events = c
    appointment = booked(campaign)
    with pytest.raises(TransitionNotAllowed):
        step(campaign, "make_appointment")
    answer(campaign, tmp_path / "in", appointment, "DECLINED", 1)
    assert [e.name for e in events] == [APPOINTMENT_DECLINED]
    found = prospect(campaign)
    assert found.last_step == "call"
    last = found.history[-1]
    assert last.kind is EntryKind.CORRECTION
    assert last.step is None
    assert last.detail == APPOINTMENT_DECLINED
    assert CONTACT in last.note
    booking = next(e for e in found.history if e.seq == last.supersedes)
    assert booking.step == "make_appointment"
    again = step(campaign, "make_appointment")
    assert again.appointment is not None
    assert again.appointment.uid != appointment.uid


def test_a_staff_decline_does_not_take_the_booking_back(c: Any, tmp_path: Path) -> None:
    campaign, _ = c
    appointment = booked(campaign)
    staff = next(a.email for a in appointment.attendees if a.email != CONTACT)
    answer(campaign, tmp_path / "in", appointment, "DECLINED", 1, attendee=staff)
    assert prospect(campaign).last_step == "make_appointment"


def test_cancelling_raises_the_event_and_reopens_the_step(c: Any) -> None:
    campaign, events = c
    appointment = booked(campaign)
    agenda.cancel(campaign.ctx, "cor", appointment.id)
    assert [(e.name, e.prospect_id) for e in events] == [(APPOINTMENT_CANCELLED, campaign.acme)]
    assert events[0].detail["uid"] == appointment.uid
    with campaign.store.unit_of_work() as uow:
        stored = inbound_of(uow).events.of_prospect(campaign.acme)
    assert [e.name for e in stored] == [APPOINTMENT_CANCELLED]
    found = prospect(campaign)
    assert found.last_step == "call"
    assert found.history[-1].detail == APPOINTMENT_CANCELLED
    assert "cancelled by cor" in found.history[-1].note
    # Cancelling again changes nothing: no second event, no second correction.
    agenda.cancel(campaign.ctx, "cor", appointment.id)
    assert len(events) == 1
    assert len(prospect(campaign).history) == len(found.history)
    assert step(campaign, "make_appointment").appointment is not None


def test_a_lost_appointment_after_the_prospect_moved_on_changes_no_step(c: Any) -> None:
    campaign, _ = c
    appointment = booked(campaign)
    step(campaign, "client_call", actor="cor", role="client")
    before = prospect(campaign)
    agenda.cancel(campaign.ctx, "cor", appointment.id)
    after = prospect(campaign)
    assert after.last_step == "client_call"
    assert after.history == before.history


def test_without_on_appointment_lost_the_procedure_is_unaffected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    defs = standard_definitions()
    proc = attrs.evolve(defs.procedures["standard"], on_appointment_lost=None)
    plain = attrs.evolve(defs, procedures={"standard": proc})
    monkeypatch.setattr(integration.campaign, "standard_definitions", lambda: plain)
    store = open_test_store("memory", tmp_path)
    campaign = make_campaign(store)
    appointment = booked(campaign)
    agenda.cancel(campaign.ctx, "cor", appointment.id)
    assert prospect(campaign).last_step == "make_appointment"


def test_on_appointment_lost_dumps_and_loads_losslessly() -> None:
    defs = standard_definitions()
    assert defs.procedures["standard"].on_appointment_lost == "make_appointment"
    data = dump_definitions(defs)
    assert data["procedures"]["standard"]["on_appointment_lost"] == "make_appointment"
    assert load_definitions(data) == defs
    without = attrs.evolve(
        defs,
        procedures={
            "standard": attrs.evolve(defs.procedures["standard"], on_appointment_lost=None)
        },
    )
    dumped = dump_definitions(without)
    assert "on_appointment_lost" not in dumped["procedures"]["standard"]
    assert load_definitions(dumped) == without


@pytest.mark.parametrize(
    ("value", "code"),
    [("call", "lost-not-booking"), ("nowhere", "unknown-step")],
)
def test_on_appointment_lost_must_name_a_booking_step_of_the_procedure(
    value: str, code: str
) -> None:
    defs = standard_definitions()
    data = dump_definitions(defs)
    data["procedures"]["standard"]["on_appointment_lost"] = value
    with pytest.raises(DefinitionError) as caught:
        load_definitions(data)
    (finding,) = caught.value.findings
    assert (finding.code, finding.location) == (code, "procedures.standard.on_appointment_lost")

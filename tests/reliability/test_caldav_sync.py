"""Issue 19, ``caldav_sync``: the store and the employees' CalDAV calendars agree at the end.

Appointments are booked, published to a real CalDAV server (Radicale on
loopback), moved and (every third one) cancelled in the store. For 10% of
them the employee changes the calendar first (half move the entry, half
delete it), so the store's next publication meets a changed ETag and is
refused with ``CalendarConflict``. The delivery loop does what the outbox
and a host's sync job do together: on a conflict it applies the calendar's
changes to the store (``apply_calendar_changes``: the calendar wins) and
publishes the store's latest version. One meeting in ten also has a
participant, whose own calendar must follow.

At the end every appointment is compared: a cancelled one must be absent
from (or cancelled in) each of its calendars, any other one present at the
store's times; and no change may be left unreported. The figure
``caldav_sync_disagreements`` counts the appointments where that fails.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from crm_procedures.adapters.caldav import CalDavCalendar
from crm_procedures.adapters.memory import MemoryStore
from crm_procedures.errors import CalendarConflict
from crm_procedures.ids import ContactId, RelationId, UserId
from crm_procedures.model.appointment import Appointment
from crm_procedures.model.contact import Contact
from crm_procedures.model.users import User
from crm_procedures.services.agenda import (
    apply_calendar_changes,
    book_appointment,
    cancel,
    reschedule,
)
from crm_procedures.services.context import Context
from crm_procedures.testing.clock import FrozenClock
from crm_procedures.testing.contracts.calendar import held_from_ics
from crm_procedures.testing.radicale import RadicaleServer
from reliability.figures import record, size

APPOINTMENTS = size(40, 1_000)
AMS = ZoneInfo("Europe/Amsterdam")
T0 = datetime(2026, 4, 6, 9, 0, tzinfo=AMS)


def _context() -> Context:
    store = MemoryStore()
    with store.unit_of_work() as uow:
        uow.users.add(User(UserId("anna"), "Anna Bakker", email="anna@crm.example.com"))
        uow.users.add(User(UserId("piotr"), "Piotr Nowak", email="piotr@crm.example.com"))
        uow.contacts.add(
            Contact(
                id=ContactId("c-jan"),
                relation_id=RelationId("r-acme"),
                last_name="Vries",
                first_name="Jan",
                email="jan@acme.example.nl",
            )
        )
        uow.commit()
    counter = itertools.count(1)
    return Context(
        store=store,
        clock=FrozenClock(T0 - timedelta(days=7)),
        new_id=lambda: f"a{next(counter):06d}",
        sender_email="crm@crm.example.com",
        sender_name="Acme CRM",
    )


def _latest(ctx: Context, appointment_id: str) -> Appointment:
    with ctx.store.unit_of_work(read_only=True) as uow:
        return uow.appointments.get(appointment_id)


class Deliverer:
    """Publishes the store's latest version; on a conflict applies the calendar's changes."""

    def __init__(self, ctx: Context, calendar: CalDavCalendar) -> None:
        self.ctx = ctx
        self.calendar = calendar
        self.conflicts = 0
        self.applied = 0

    def deliver(self, appointment: Appointment) -> None:
        for _ in range(5):
            try:
                if appointment.cancelled:
                    self.calendar.cancel(appointment)
                else:
                    self.calendar.publish(appointment)
                return
            except CalendarConflict:
                self.conflicts += 1
                self.applied += len(apply_calendar_changes(self.ctx, self.calendar))
                appointment = _latest(self.ctx, appointment.id)
        raise AssertionError(f"{appointment.uid} still conflicts after 5 rounds")


def _server_edit(calendar: CalDavCalendar, appointment: Appointment, delete: bool) -> None:
    client = calendar._client
    href = calendar.href_for(appointment.employee, appointment.uid)
    if delete:
        assert client.request(href, "DELETE").status in (200, 204)
        return
    text = str(client.request(href, "GET").raw)
    # The employee drags the entry two hours later.
    start = appointment.start.astimezone(AMS)
    later = start + timedelta(hours=2)
    end = appointment.end.astimezone(AMS)
    later_end = end + timedelta(hours=2)
    text = text.replace(f"DTSTART;TZID=Europe/Amsterdam:{start:%Y%m%dT%H%M%S}", "@@S")
    text = text.replace(f"DTEND;TZID=Europe/Amsterdam:{end:%Y%m%dT%H%M%S}", "@@E")
    assert "@@S" in text
    assert "@@E" in text
    text = text.replace("@@S", f"DTSTART;TZID=Europe/Amsterdam:{later:%Y%m%dT%H%M%S}")
    text = text.replace("@@E", f"DTEND;TZID=Europe/Amsterdam:{later_end:%Y%m%dT%H%M%S}")
    written = client.request(href, "PUT", text, {"Content-Type": "text/calendar; charset=utf-8"})
    assert written.status in (201, 204)


def _disagrees(calendar: CalDavCalendar, appointment: Appointment) -> bool:
    for employee in (appointment.employee, *appointment.participants):
        response = calendar._client.request(calendar.href_for(employee, appointment.uid), "GET")
        held: Any = None if response.status == 404 else held_from_ics(str(response.raw))
        if appointment.cancelled:
            if held is not None and not held.cancelled:
                return True
        elif held is None or (held.start, held.end) != (
            appointment.start.astimezone(UTC),
            appointment.end.astimezone(UTC),
        ):
            return True
    return False


def test_caldav_sync_store_and_calendars_agree() -> None:
    ctx = _context()
    with RadicaleServer() as server:
        calendar = CalDavCalendar(server.url)
        deliverer = Deliverer(ctx, calendar)
        ids: list[str] = []
        for i in range(APPOINTMENTS):
            start = T0 + timedelta(days=i // 8, hours=i % 8)
            booked = book_appointment(
                ctx,
                "anna",
                employee="anna",
                start=start,
                end=start + timedelta(minutes=45),
                title=f"Demo {i}",
                contact_id="c-jan",
                participants=["piotr"] if i % 10 == 5 else [],
                allow_conflicts=True,
            ).appointment
            ids.append(booked.id)
            deliverer.deliver(booked)
            if i % 10 == 0:
                _server_edit(calendar, booked, delete=i % 20 == 0)
            current = _latest(ctx, booked.id)
            if not current.cancelled:
                moved = reschedule(
                    ctx,
                    "anna",
                    booked.id,
                    current.start + timedelta(days=1),
                    current.end + timedelta(days=1),
                    allow_conflicts=True,
                ).appointment
                deliverer.deliver(moved)
            current = _latest(ctx, booked.id)
            if i % 3 == 0 and not current.cancelled:
                deliverer.deliver(cancel(ctx, "anna", booked.id))
            else:
                deliverer.deliver(_latest(ctx, booked.id))
        # A last sync, as a host's job would run it, then the comparison.
        apply_calendar_changes(ctx, calendar)
        left_over = calendar.changes()
        disagreements = sum(_disagrees(calendar, _latest(ctx, i)) for i in ids) + len(left_over)

    record("caldav_sync_appointments", APPOINTMENTS, f">= {APPOINTMENTS}")
    record("caldav_sync_conflicts", deliverer.conflicts, f">= {APPOINTMENTS // 10}")
    record("caldav_sync_disagreements", disagreements, "== 0")
    assert deliverer.conflicts >= APPOINTMENTS // 10
    assert disagreements == 0

"""The dispatcher feeds the Calendar port: booking, moving and cancelling reach every calendar.

Issue 19: an appointment booked, moved or cancelled records a ``calendar``
outbox message (key UID + SEQUENCE) in the same unit of work; the dispatcher
hands it to the configured calendar with the outbox's retries and without
duplicates. On memory and SQLite, with a FolderCalendar and with a real CalDAV
server (Radicale).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from crm_procedures.adapters.caldav import CalDavCalendar
from crm_procedures.adapters.files import FolderCalendar
from crm_procedures.adapters.memory import MemoryStore
from crm_procedures.adapters.sql import open_store
from crm_procedures.errors import DeliveryError
from crm_procedures.model.appointment import Appointment
from crm_procedures.model.outbox import OutboxStatus
from crm_procedures.services.agenda import book_appointment, calendar_key, cancel, reschedule
from crm_procedures.services.app import CrmApp
from crm_procedures.services.context import Context
from crm_procedures.services.outbox import dispatch_once
from crm_procedures.testing.clock import FrozenClock
from crm_procedures.testing.radicale import RadicaleServer

from .helpers import NOW, at, seeded_context

_runs = itertools.count(1)


@pytest.fixture(params=["memory", "sqlite"])
def ctx(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Context]:
    store: Any = (
        MemoryStore()
        if request.param == "memory"
        else open_store(f"sqlite:///{tmp_path / 'crm.db'}")
    )
    try:
        yield attrs.evolve(seeded_context(store), calendar_channel=True)
    finally:
        store.close()


def book(ctx: Context) -> Appointment:
    return book_appointment(
        ctx,
        "anna",
        employee="anna",
        start=at(10, 10),
        end=at(10, 11),
        title="Demo at Acme",
        contact_id="c-jan",
        participants=["piotr"],
    ).appointment


def calendar_messages(ctx: Context) -> list[Any]:
    with ctx.store.unit_of_work(read_only=True) as uow:
        return [m for m in uow.outbox.list() if m.channel == "calendar"]


def dispatch(ctx: Context, calendar: Any) -> Any:
    assert isinstance(ctx.clock, FrozenClock)
    return dispatch_once(ctx.store, ctx.clock, calendar=calendar, lease_seconds=30)


def test_book_move_cancel_record_calendar_messages_keyed_by_uid_and_sequence(
    ctx: Context,
) -> None:
    appt = book(ctx)
    moved = reschedule(ctx, "anna", appt.id, at(10, 12), at(10, 13)).appointment
    gone = cancel(ctx, "anna", appt.id)
    found = calendar_messages(ctx)
    assert [(m.key, m.payload["action"]) for m in found] == [
        (f"calendar:{appt.uid}:0", "publish"),
        (f"calendar:{appt.uid}:1", "publish"),
        (f"calendar:{appt.uid}:2", "cancel"),
    ]
    assert [calendar_key(a) for a in (appt, moved, gone)] == [m.key for m in found]
    assert found[1].payload["appointment"]["start"].startswith("2026-03-10T12:00")


def test_without_a_calendar_no_calendar_message_is_recorded() -> None:
    ctx = seeded_context()
    book(ctx)
    assert calendar_messages(ctx) == []


def test_the_folder_calendar_gets_publish_move_and_cancel(ctx: Context, tmp_path: Path) -> None:
    folder = FolderCalendar(tmp_path / "agenda", clock=ctx.clock.now)
    appt = book(ctx)
    assert dispatch(ctx, folder).delivered == 1
    assert folder.held(appt.uid) == (0, False)
    reschedule(ctx, "anna", appt.id, at(10, 12), at(10, 13))
    assert dispatch(ctx, folder).delivered == 1
    assert folder.held(appt.uid) == (1, False)
    assert "T120000" in folder.path_for(appt.uid).read_text("utf-8")
    cancel(ctx, "anna", appt.id)
    assert dispatch(ctx, folder).delivered == 1
    assert folder.held(appt.uid) == (2, True)
    assert dispatch(ctx, folder).claimed == 0
    assert all(m.status is OutboxStatus.DELIVERED for m in calendar_messages(ctx))


class Flaky:
    """A calendar that fails ``failures`` times, then passes on to ``inner``; counts calls."""

    def __init__(self, inner: Any, failures: int) -> None:
        self.inner = inner
        self.failures = failures
        self.calls: list[tuple[str, str, int]] = []

    def _maybe_fail(self, what: str, appointment: Appointment) -> None:
        self.calls.append((what, appointment.uid, appointment.sequence))
        if self.failures > 0:
            self.failures -= 1
            raise DeliveryError("calendar server unavailable (503)")

    def publish(self, appointment: Appointment) -> None:
        self._maybe_fail("publish", appointment)
        self.inner.publish(appointment)

    def cancel(self, appointment: Appointment) -> None:
        self._maybe_fail("cancel", appointment)
        self.inner.cancel(appointment)


def test_a_failing_calendar_is_retried_by_the_outbox_and_gets_each_version_once(
    ctx: Context, tmp_path: Path
) -> None:
    assert isinstance(ctx.clock, FrozenClock)
    folder = FolderCalendar(tmp_path / "agenda", clock=ctx.clock.now)
    flaky = Flaky(folder, failures=2)
    appt = book(ctx)
    first = dispatch(ctx, flaky)
    assert (first.delivered, first.retried) == (0, 1)
    assert "503" in first.errors[0][1]
    assert folder.held(appt.uid) is None
    assert dispatch(ctx, flaky).claimed == 0  # waiting for its backoff
    ctx.clock.advance(minutes=1)
    assert dispatch(ctx, flaky).retried == 1
    ctx.clock.advance(minutes=5)
    assert dispatch(ctx, flaky).delivered == 1
    assert folder.held(appt.uid) == (0, False)
    ctx.clock.advance(hours=1)
    assert dispatch(ctx, flaky).claimed == 0
    assert flaky.calls == [("publish", appt.uid, 0)] * 3
    (message,) = calendar_messages(ctx)
    assert (message.status, message.attempts) == (OutboxStatus.DELIVERED, 3)


def test_the_app_records_calendar_messages_when_it_has_a_calendar(tmp_path: Path) -> None:
    store = MemoryStore()
    folder = FolderCalendar(tmp_path / "agenda")
    seeded = seeded_context(store)
    app = CrmApp(
        store=store,
        clock=FrozenClock(NOW),
        calendar=folder,
        sender_email=seeded.sender_email,
    )
    assert app.ctx.calendar_channel
    appt = book(app.ctx)
    report = dispatch_once(app.store, app.clock, calendar=app.calendar)
    assert report.delivered == 1
    assert folder.held(appt.uid) == (0, False)
    assert not CrmApp(store=store, clock=FrozenClock(NOW)).ctx.calendar_channel


def test_radicale_gets_publish_move_and_cancel_through_the_outbox(
    ctx: Context, radicale: RadicaleServer
) -> None:
    run = next(_runs)
    caldav = CalDavCalendar(radicale.url, calendars=lambda user: f"{user}/ch{run}/")
    appt = book(ctx)
    assert dispatch(ctx, caldav).delivered == 1
    for employee in ("anna", "piotr"):
        held = caldav.held(employee, appt.uid)
        assert held is not None
        assert (held.sequence, held.cancelled) == (0, False)
    reschedule(ctx, "anna", appt.id, at(10, 12), at(10, 13))
    assert dispatch(ctx, caldav).delivered == 1
    response = caldav._client.request(caldav.href_for("anna", appt.uid), "GET")
    assert "T120000" in str(response.raw)
    cancel(ctx, "anna", appt.id)
    assert dispatch(ctx, caldav).delivered == 1
    for employee in ("anna", "piotr"):
        held = caldav.held(employee, appt.uid)
        assert held is not None
        assert held.cancelled
        gone = caldav._client.request(caldav.href_for(employee, appt.uid), "GET")
        assert gone.status == 404
    # Dispatching again delivers nothing twice.
    assert dispatch(ctx, caldav).claimed == 0

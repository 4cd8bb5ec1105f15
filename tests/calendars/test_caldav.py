"""The CalDAV adapter against a real Radicale server: writes, free/busy, changes, conflicts."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from crm_procedures.adapters.caldav import CalDavCalendar
from crm_procedures.errors import CalendarConflict, DeliveryError, InvalidInput
from crm_procedures.model.appointment import Appointment, ChangeAction, PartStat
from crm_procedures.ports import BusyCalendar, ChangeFeed
from crm_procedures.services.agenda import (
    apply_calendar_changes,
    book_appointment,
    cancel,
    reschedule,
)
from crm_procedures.services.context import Context
from crm_procedures.testing.contracts.calendar import held_from_ics
from crm_procedures.testing.radicale import RadicaleServer

from .helpers import at, delete_on_server, edit_on_server, seeded_context

_runs = itertools.count(1)


class Recording:
    """A DAV client that keeps (method, url, headers) of each request it passes on."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: list[tuple[str, str, dict[str, str]]] = []

    def request(
        self, url: str, method: str = "GET", body: str = "", headers: Mapping[str, str] = {}
    ) -> Any:
        self.calls.append((method, url, dict(headers)))
        return self.client.request(url, method, body, headers)


@pytest.fixture
def calendar(radicale: RadicaleServer) -> CalDavCalendar:
    run = next(_runs)
    return CalDavCalendar(radicale.url, calendars=lambda user: f"{user}/t{run}/")


def booked(ctx: Context, **fields: Any) -> Appointment:
    values: dict[str, Any] = {
        "employee": "anna",
        "start": at(10, 10),
        "end": at(10, 11),
        "title": "Demo at Acme",
        "contact_id": "c-jan",
    }
    values.update(fields)
    return book_appointment(ctx, "anna", **values).appointment


def stored(ctx: Context, appointment_id: str) -> Appointment:
    with ctx.store.unit_of_work(read_only=True) as uow:
        return uow.appointments.get(appointment_id)


def on_server(calendar: CalDavCalendar, employee: str, uid: str) -> Any:
    response = calendar._client.request(calendar.href_for(employee, uid), "GET")
    return None if response.status == 404 else held_from_ics(str(response.raw))


def test_it_is_a_calendar_with_free_busy_and_a_change_feed(calendar: CalDavCalendar) -> None:
    assert isinstance(calendar, BusyCalendar)
    assert isinstance(calendar, ChangeFeed)


def test_create_is_if_none_match_and_update_is_if_match_on_the_etag(
    calendar: CalDavCalendar,
) -> None:
    ctx = seeded_context()
    appt = booked(ctx)
    recording = Recording(calendar._client)
    calendar._client = recording
    calendar.publish(appt)
    puts = [headers for method, _url, headers in recording.calls if method == "PUT"]
    assert puts[0]["If-None-Match"] == "*"
    assert "If-Match" not in puts[0]
    etag = calendar.held("anna", appt.uid)
    assert etag is not None
    assert etag.etag.startswith('"')
    calendar.publish(appt)  # the same version again: no request at all
    assert [m for m, _u, _h in recording.calls].count("PUT") == 1
    calendar.publish(attrs.evolve(appt, sequence=1, title="Demo (moved)"))
    last_put = [h for m, _u, h in recording.calls if m == "PUT"][-1]
    assert last_put["If-Match"] == etag.etag
    assert "If-None-Match" not in last_put
    held = on_server(calendar, "anna", appt.uid)
    assert held.sequence == 1


def test_stored_objects_have_no_itip_method(calendar: CalDavCalendar) -> None:
    ctx = seeded_context()
    appt = booked(ctx)
    calendar.publish(appt)
    text = str(calendar._client.request(calendar.href_for("anna", appt.uid), "GET").raw)
    assert "METHOD:" not in text  # RFC 4791 4.1
    assert f"UID:{appt.uid}" in text


def test_a_move_made_in_the_calendar_moves_the_appointment_in_the_store(
    calendar: CalDavCalendar,
) -> None:
    ctx = seeded_context()
    appt = booked(ctx)
    calendar.publish(appt)
    assert calendar.changes() == []
    edit_on_server(calendar, "anna", appt.uid, "T100000", "T140000")
    edit_on_server(calendar, "anna", appt.uid, "T110000", "T150000")
    (change,) = calendar.changes()
    assert change.action is ChangeAction.MOVED
    assert (change.start, change.end) == (at(10, 14).astimezone(UTC), at(10, 15).astimezone(UTC))
    (outcome,) = apply_calendar_changes(ctx, calendar)
    assert outcome.result == "moved"
    now = stored(ctx, appt.id)
    assert (now.start, now.end, now.sequence) == (at(10, 14), at(10, 15), 1)
    assert now.start.tzinfo == appt.start.tzinfo  # the appointment keeps its zone
    assert calendar.changes() == []  # reported once
    # The calendar holds this version already; a later move in the store goes out.
    calendar.publish(now)
    later = reschedule(ctx, "anna", appt.id, at(10, 16), at(10, 17)).appointment
    calendar.publish(later)
    held = on_server(calendar, "anna", appt.uid)
    assert (held.start, held.end) == (at(10, 16).astimezone(UTC), at(10, 17).astimezone(UTC))


def test_a_deletion_in_the_calendar_cancels_the_appointment(calendar: CalDavCalendar) -> None:
    ctx = seeded_context()
    appt = booked(ctx)
    calendar.publish(appt)
    delete_on_server(calendar, "anna", appt.uid)
    (outcome,) = apply_calendar_changes(ctx, calendar)
    assert outcome.result == "cancelled"
    assert stored(ctx, appt.id).cancelled
    with ctx.store.unit_of_work(read_only=True) as uow:
        assert uow.outbox.list()[-1].key == f"invite:{appt.uid}:1:cancel"
    calendar.publish(appt)  # a late publication does not bring it back
    assert on_server(calendar, "anna", appt.uid) is None
    assert calendar.changes() == []


def test_a_conflicting_edit_is_refused_and_the_calendar_wins(calendar: CalDavCalendar) -> None:
    ctx = seeded_context()
    appt = booked(ctx)
    calendar.publish(appt)
    # The employee moves it in their calendar while the store moves it too.
    edit_on_server(calendar, "anna", appt.uid, "T100000", "T140000")
    edit_on_server(calendar, "anna", appt.uid, "T110000", "T150000")
    ours = reschedule(ctx, "anna", appt.id, at(10, 16), at(10, 17)).appointment
    with pytest.raises(CalendarConflict) as info:
        calendar.publish(ours)
    assert info.value.uid == appt.uid
    assert not info.value.permanent
    held = on_server(calendar, "anna", appt.uid)
    assert held.start == at(10, 14).astimezone(UTC)  # nothing was written
    (outcome,) = apply_calendar_changes(ctx, calendar)
    assert outcome.result == "moved"
    now = stored(ctx, appt.id)
    assert (now.start, now.sequence) == (at(10, 14), 2)
    calendar.publish(ours)  # the outbox's retry of the refused version: skipped
    calendar.publish(now)
    held = on_server(calendar, "anna", appt.uid)
    assert (held.start, held.end) == (now.start.astimezone(UTC), now.end.astimezone(UTC))


def test_a_cancellation_wins_over_an_edit_in_the_calendar(calendar: CalDavCalendar) -> None:
    ctx = seeded_context()
    appt = booked(ctx)
    calendar.publish(appt)
    edit_on_server(calendar, "anna", appt.uid, "SUMMARY:Demo at Acme", "SUMMARY:Demo!")
    calendar.cancel(cancel(ctx, "anna", appt.id))
    assert on_server(calendar, "anna", appt.uid) is None


def test_a_participant_removing_the_entry_declines(calendar: CalDavCalendar) -> None:
    ctx = seeded_context()
    appt = booked(ctx, participants=["piotr"])
    calendar.publish(appt)
    assert on_server(calendar, "piotr", appt.uid) is not None
    delete_on_server(calendar, "piotr", appt.uid)
    (outcome,) = apply_calendar_changes(ctx, calendar)
    assert outcome.result == "declined"
    now = stored(ctx, appt.id)
    assert not now.cancelled
    assert now.partstat("piotr@crm.example.com") is PartStat.DECLINED


def test_a_participant_taken_off_loses_the_entry_and_it_is_not_read_as_a_decline(
    calendar: CalDavCalendar,
) -> None:
    ctx = seeded_context()
    appt = booked(ctx, participants=["piotr"])
    calendar.publish(appt)
    assert on_server(calendar, "piotr", appt.uid) is not None
    moved = reschedule(ctx, "anna", appt.id, at(10, 12), at(10, 13), participants=[]).appointment
    calendar.publish(moved)
    assert on_server(calendar, "piotr", appt.uid) is None
    assert on_server(calendar, "anna", appt.uid) is not None
    assert apply_calendar_changes(ctx, calendar) == []
    assert not stored(ctx, appt.id).cancelled
    # Cancelling later does not touch the calendar it left again.
    calendar.cancel(cancel(ctx, "anna", appt.id))
    assert on_server(calendar, "anna", appt.uid) is None


def test_busy_counts_every_entry_expanded_and_skips_free_and_cancelled(
    calendar: CalDavCalendar,
) -> None:
    ctx = seeded_context()
    weekly = booked(ctx, rrule="FREQ=WEEKLY;COUNT=3", title="Weekly")
    dropped = booked(ctx, start=at(11, 9), end=at(11, 10), title="Dropped")
    calendar.publish(weekly)
    calendar.publish(dropped)
    calendar.cancel(cancel(ctx, "anna", dropped.id))
    # An entry the employee made themselves, and one marked free.
    for uid, transp, hour in (("own-1", "OPAQUE", "12"), ("free-1", "TRANSPARENT", "13")):
        body = (
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
            f"UID:{uid}\r\nDTSTAMP:20260301T000000Z\r\nDTSTART:20260312T{hour}0000Z\r\n"
            f"DTEND:20260312T{hour}3000Z\r\nSUMMARY:Own\r\nTRANSP:{transp}\r\n"
            "END:VEVENT\r\nEND:VCALENDAR\r\n"
        )
        url = calendar.calendar_url("anna") + f"{uid}.ics"
        assert (
            calendar._client.request(url, "PUT", body, {"Content-Type": "text/calendar"}).status
            == 201
        )
    got = calendar.busy("anna", at(9, 0), at(31, 0))

    def utc(moment: datetime) -> datetime:
        return moment.astimezone(UTC)

    assert got == [
        (utc(at(10, 10)), utc(at(10, 11))),
        (datetime(2026, 3, 12, 12, 0, tzinfo=UTC), datetime(2026, 3, 12, 12, 30, tzinfo=UTC)),
        (utc(at(17, 10)), utc(at(17, 11))),
        (utc(at(24, 10)), utc(at(24, 11))),
    ]
    assert calendar.busy("anna", at(18, 0), at(19, 0)) == []
    with pytest.raises(InvalidInput):
        calendar.busy("anna", datetime(2026, 3, 10), at(11, 0))
    with pytest.raises(InvalidInput):
        calendar.busy("anna", at(11, 0), at(10, 0))


def test_a_restarted_adapter_keeps_its_state_in_the_state_file(
    radicale: RadicaleServer, tmp_path: Path
) -> None:
    run = next(_runs)
    where = lambda user: f"{user}/t{run}/"  # noqa: E731
    first = CalDavCalendar(radicale.url, calendars=where, state_path=tmp_path / "state.json")
    ctx = seeded_context()
    appt = booked(ctx)
    first.publish(appt)
    again = CalDavCalendar(radicale.url, calendars=where, state_path=tmp_path / "state.json")
    assert again.held("anna", appt.uid) == first.held("anna", appt.uid)
    edit_on_server(again, "anna", appt.uid, "T100000", "T093000")
    assert [c.action for c in again.changes()] == [ChangeAction.MOVED]
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    with pytest.raises(InvalidInput):
        CalDavCalendar(radicale.url, calendars=where, state_path=tmp_path / "broken.json")


def test_an_adapter_without_state_adopts_what_it_wrote_before(radicale: RadicaleServer) -> None:
    run = next(_runs)
    where = lambda user: f"{user}/t{run}/"  # noqa: E731
    ctx = seeded_context()
    appt = booked(ctx)
    CalDavCalendar(radicale.url, calendars=where).publish(appt)
    fresh = CalDavCalendar(radicale.url, calendars=where)
    fresh.publish(appt)  # 412 on create: the same version is there, adopted
    held = fresh.held("anna", appt.uid)
    assert held is not None
    assert held.sequence == 0
    moved = reschedule(ctx, "anna", appt.id, at(10, 12), at(10, 13)).appointment
    CalDavCalendar(radicale.url, calendars=where).publish(moved)  # older there: replaced
    assert on_server(fresh, "anna", appt.uid).start == at(10, 12).astimezone(UTC)


def test_an_unreachable_server_is_a_temporary_delivery_error() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    calendar = CalDavCalendar(f"http://127.0.0.1:{port}/", timeout=2)
    ctx = seeded_context()
    with pytest.raises(DeliveryError) as info:
        calendar.publish(booked(ctx))
    assert not info.value.permanent


@pytest.mark.parametrize("url", ["", "ftp://x/", "not a url", None])
def test_a_url_that_is_not_http_is_refused(url: Any) -> None:
    with pytest.raises(InvalidInput):
        CalDavCalendar(url)


def test_an_employee_without_a_calendar_is_refused(radicale: RadicaleServer) -> None:
    calendar = CalDavCalendar(radicale.url, calendars={"anna": "anna/x/"})
    ctx = seeded_context()
    with pytest.raises(InvalidInput):
        calendar.publish(booked(ctx, participants=["piotr"]))
    assert calendar.calendar_url("anna") == radicale.url + "anna/x/"
    _ = timedelta

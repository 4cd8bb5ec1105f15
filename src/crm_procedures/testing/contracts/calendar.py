"""The contract suite of the :class:`~crm_procedures.ports.Calendar` port.

Every calendar adapter (memory, folder, CalDAV, a host's own) must hold the
latest version of each appointment by UID, ignore replays and older
versions, and never let a late publication undo a cancellation. A host runs
the suite on its adapter with one fixture and one class::

    import pytest
    from crm_procedures.testing.contracts.calendar import CalendarContract, HeldEvent

    @pytest.fixture
    def crm_contract_calendar(tmp_path):
        def make():
            calendar = MyCalendar(...)
            def read(employee: str, uid: str) -> HeldEvent | None:
                ...  # what the calendar now shows for uid in employee's calendar
            return calendar, read
        return make

    class TestMyCalendar(CalendarContract):
        pass

``read`` returns None when the calendar holds nothing for the UID; a
cancelled appointment may read as None (deleted) or as a
:class:`HeldEvent` with ``cancelled=True``. :func:`held_from_ics` reads one
from iCalendar text. Adapters that are also a
:class:`~crm_procedures.ports.BusyCalendar` have their free/busy checked.

This module imports pytest: import it from tests only.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest

from crm_procedures.errors import InvalidInput
from crm_procedures.model.appointment import Appointment, AppointmentStatus, Attendee
from crm_procedures.ports import BusyCalendar, Calendar

__all__ = [
    "CalendarContract",
    "CalendarFactory",
    "CalendarReader",
    "HeldEvent",
    "held_from_ics",
]


@attrs.frozen
class HeldEvent:
    """What a calendar shows for one UID: its SEQUENCE, times (UTC) and whether cancelled."""

    sequence: int
    start: datetime
    end: datetime
    cancelled: bool = False


CalendarReader = Callable[[str, str], HeldEvent | None]
"""``read(employee, uid)``: what the calendar holds for ``uid`` in ``employee``'s calendar."""
CalendarFactory = Callable[[], tuple[Calendar, CalendarReader]]
"""Makes an empty calendar and its reader."""


def held_from_ics(data: bytes | str) -> HeldEvent | None:
    """The first VEVENT of an iCalendar text as a :class:`HeldEvent` (None without one).

    Raises:
        InvalidInput: ``data`` is not an iCalendar text with a readable VEVENT.
    """
    import icalendar

    if not isinstance(data, bytes | str):
        raise InvalidInput("data", "must be the iCalendar text (bytes or str)", None)
    try:
        return _held_from_ics(icalendar.Calendar.from_ical(data))
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise InvalidInput("data", f"is not an iCalendar text with a VEVENT: {exc}", None) from None


def _held_from_ics(parsed: Any) -> HeldEvent | None:
    method = str(parsed.get("METHOD", "")).upper()
    for event in parsed.walk("VEVENT"):
        start = event.decoded("DTSTART")
        end = event.decoded("DTEND")
        cancelled = method == "CANCEL" or str(event.get("STATUS", "")).upper() == "CANCELLED"
        return HeldEvent(
            int(event.get("SEQUENCE", 0)),
            start.astimezone(UTC),
            end.astimezone(UTC),
            cancelled,
        )
    return None


AMS = ZoneInfo("Europe/Amsterdam")
_T0 = datetime(2026, 6, 1, 10, 0, tzinfo=AMS)


def an_appointment(n: int = 1, **fields: Any) -> Appointment:
    """A one-hour appointment of ``anna`` with one contact, SEQUENCE 0."""
    values: dict[str, Any] = {
        "id": f"contract-{n}",
        "employee": "anna",
        "start": _T0 + timedelta(days=n),
        "end": _T0 + timedelta(days=n, hours=1),
        "title": f"Contract appointment {n}",
        "uid": f"contract-{n}@crm.example.com",
        "organizer_email": "anna@crm.example.com",
        "attendees": (Attendee("jan@acme.example.nl", "Jan"),),
    }
    values.update(fields)
    return Appointment(**values)


def _moved(appointment: Appointment, hours: int) -> Appointment:
    return attrs.evolve(
        appointment,
        start=appointment.start + timedelta(hours=hours),
        end=appointment.end + timedelta(hours=hours),
        sequence=appointment.sequence + 1,
    )


def _cancelled(appointment: Appointment) -> Appointment:
    return attrs.evolve(
        appointment, status=AppointmentStatus.CANCELLED, sequence=appointment.sequence + 1
    )


def _gone(held: HeldEvent | None) -> bool:
    return held is None or held.cancelled


def _shows(held: HeldEvent | None, appointment: Appointment) -> bool:
    return (
        held is not None
        and not held.cancelled
        and held.start == appointment.start.astimezone(UTC)
        and held.end == appointment.end.astimezone(UTC)
    )


class CalendarContract:
    """Every Calendar contract test. Subclass it next to a ``crm_contract_calendar`` fixture."""

    @pytest.fixture
    def calendar_under_test(
        self, crm_contract_calendar: CalendarFactory
    ) -> tuple[Calendar, CalendarReader]:
        """An empty calendar and its reader, made by ``crm_contract_calendar``."""
        if not callable(crm_contract_calendar):
            pytest.fail(
                "the crm_contract_calendar fixture must return a callable that makes "
                "(calendar, read)",
                pytrace=False,
            )
        calendar, read = crm_contract_calendar()
        if not isinstance(calendar, Calendar):  # pragma: no cover - a host's mistake
            pytest.fail(f"{type(calendar).__name__} lacks publish() or cancel()", pytrace=False)
        return calendar, read

    def test_a_published_appointment_is_held_at_its_times(
        self, calendar_under_test: tuple[Calendar, CalendarReader]
    ) -> None:
        calendar, read = calendar_under_test
        appointment = an_appointment()
        calendar.publish(appointment)
        assert _shows(read("anna", appointment.uid), appointment)

    def test_a_higher_sequence_replaces_the_entry(
        self, calendar_under_test: tuple[Calendar, CalendarReader]
    ) -> None:
        calendar, read = calendar_under_test
        first = an_appointment()
        calendar.publish(first)
        moved = _moved(first, 3)
        calendar.publish(moved)
        assert _shows(read("anna", first.uid), moved)

    def test_a_replay_changes_nothing(
        self, calendar_under_test: tuple[Calendar, CalendarReader]
    ) -> None:
        calendar, read = calendar_under_test
        appointment = an_appointment()
        calendar.publish(appointment)
        before = read("anna", appointment.uid)
        calendar.publish(appointment)
        calendar.publish(appointment)
        assert read("anna", appointment.uid) == before

    def test_an_older_sequence_arriving_late_is_ignored(
        self, calendar_under_test: tuple[Calendar, CalendarReader]
    ) -> None:
        calendar, read = calendar_under_test
        first = an_appointment()
        moved = _moved(first, 2)
        calendar.publish(moved)
        calendar.publish(first)
        assert _shows(read("anna", first.uid), moved)

    def test_a_cancellation_removes_the_entry(
        self, calendar_under_test: tuple[Calendar, CalendarReader]
    ) -> None:
        calendar, read = calendar_under_test
        appointment = an_appointment()
        calendar.publish(appointment)
        calendar.cancel(_cancelled(appointment))
        assert _gone(read("anna", appointment.uid))

    def test_a_late_publication_does_not_revive_a_cancelled_appointment(
        self, calendar_under_test: tuple[Calendar, CalendarReader]
    ) -> None:
        calendar, read = calendar_under_test
        appointment = an_appointment()
        calendar.publish(appointment)
        calendar.cancel(_cancelled(appointment))
        calendar.publish(appointment)
        calendar.cancel(_cancelled(appointment))  # a replayed cancellation is harmless
        assert _gone(read("anna", appointment.uid))

    def test_publishing_a_cancelled_appointment_cancels_it(
        self, calendar_under_test: tuple[Calendar, CalendarReader]
    ) -> None:
        calendar, read = calendar_under_test
        appointment = an_appointment()
        calendar.publish(appointment)
        calendar.publish(_cancelled(appointment))
        assert _gone(read("anna", appointment.uid))

    def test_appointments_are_kept_apart_by_uid(
        self, calendar_under_test: tuple[Calendar, CalendarReader]
    ) -> None:
        calendar, read = calendar_under_test
        # UIDs that differ only in case or in an unsafe character.
        a = an_appointment(1, uid="Team/1@crm.example.com")
        b = an_appointment(2, uid="team_1@crm.example.com")
        calendar.publish(a)
        calendar.publish(b)
        calendar.cancel(_cancelled(b))
        assert _shows(read("anna", a.uid), a)
        assert _gone(read("anna", b.uid))

    def test_participants_have_the_appointment_too(
        self, calendar_under_test: tuple[Calendar, CalendarReader]
    ) -> None:
        calendar, read = calendar_under_test
        meeting = an_appointment(participants=("piotr",))
        calendar.publish(meeting)
        assert _shows(read("piotr", meeting.uid), meeting)
        calendar.cancel(_cancelled(meeting))
        assert _gone(read("piotr", meeting.uid))

    def test_free_busy_shows_published_and_not_cancelled_appointments(
        self, calendar_under_test: tuple[Calendar, CalendarReader]
    ) -> None:
        calendar, _read = calendar_under_test
        if not isinstance(calendar, BusyCalendar):
            # Not a free/busy calendar: it must not claim to be one.
            assert not hasattr(calendar, "busy")
            return
        kept = an_appointment(1)
        dropped = an_appointment(2)
        calendar.publish(kept)
        calendar.publish(dropped)
        calendar.cancel(_cancelled(dropped))
        window = (kept.start - timedelta(days=1), dropped.end + timedelta(days=1))
        assert calendar.busy("anna", *window) == [
            (kept.start.astimezone(UTC), kept.end.astimezone(UTC))
        ]
        assert calendar.busy("nobody", *window) == []

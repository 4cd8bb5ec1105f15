"""RFC 5545 checks on the bytes of every invitation, and reading them back."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest

from crm_procedures.adapters.ical import (
    check_rrule,
    escape_text,
    fold_line,
    invitation_ics,
    vtimezone_lines,
)
from crm_procedures.errors import InvalidInput
from crm_procedures.ids import AppointmentId, UserId
from crm_procedures.model.appointment import Appointment, AppointmentStatus, Attendee

AMS = ZoneInfo("Europe/Amsterdam")
WAW = ZoneInfo("Europe/Warsaw")
STAMP = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def appointment(**fields: object) -> Appointment:
    values: dict[str, object] = {
        "id": AppointmentId("a-1"),
        "employee": UserId("anna"),
        "start": datetime(2026, 3, 10, 10, 0, tzinfo=AMS),
        "end": datetime(2026, 3, 10, 11, 0, tzinfo=AMS),
        "title": "Product demo",
        "uid": "a-1@crm.example.com",
        "location": "Keizersgracht 1, Amsterdam",
        "description": "Bring the price list.",
        "attendees": (Attendee("jan@acme.example.nl", "Jan de Vries"),),
        "organizer_email": "anna@crm.example.com",
    }
    values.update(fields)
    return Appointment(**values)  # type: ignore[arg-type]


def assert_rfc5545_lines(data: bytes) -> None:
    """CRLF endings everywhere, no line over 75 octets, continuation lines start with a space."""
    assert data.endswith(b"\r\n")
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert b"\r" not in data.replace(b"\r\n", b"")
    for line in data.split(b"\r\n")[:-1]:
        assert len(line) <= 75, line
        line.decode("utf-8")  # no multi-byte character was split by folding


def unfolded(data: bytes) -> list[str]:
    return data.decode("utf-8").replace("\r\n ", "").split("\r\n")[:-1]


def parse(data: bytes) -> Any:
    """Read a calendar back with icalendar; ``Any`` because its property values are dynamic."""
    return icalendar.Calendar.from_ical(data)


def event(data: bytes) -> Any:
    (ev,) = parse(data).walk("VEVENT")
    return ev


def test_invitation_has_the_properties_calendar_clients_need() -> None:
    data = invitation_ics(appointment(), dtstamp=STAMP)
    assert_rfc5545_lines(data)
    lines = unfolded(data)
    assert lines[0] == "BEGIN:VCALENDAR"
    assert lines[-1] == "END:VCALENDAR"
    for needed in ("VERSION:2.0", "METHOD:REQUEST", "UID:a-1@crm.example.com", "SEQUENCE:0"):
        assert needed in lines
    assert any(line.startswith("PRODID:") for line in lines)
    assert "DTSTAMP:20260301T120000Z" in lines
    assert "DTSTART;TZID=Europe/Amsterdam:20260310T100000" in lines
    assert "DTEND;TZID=Europe/Amsterdam:20260310T110000" in lines
    assert "STATUS:CONFIRMED" in lines
    assert "ORGANIZER:mailto:anna@crm.example.com" in lines
    (attendee,) = [line for line in lines if line.startswith("ATTENDEE")]
    assert 'CN="Jan de Vries"' in attendee
    assert "ROLE=REQ-PARTICIPANT" in attendee
    assert "PARTSTAT=NEEDS-ACTION" in attendee
    assert "RSVP=TRUE" in attendee
    assert attendee.endswith(":mailto:jan@acme.example.nl")
    # The VTIMEZONE for the TZID used is included.
    assert "BEGIN:VTIMEZONE" in lines
    assert "TZID:Europe/Amsterdam" in lines


def test_invitation_reads_back_with_icalendar() -> None:
    data = invitation_ics(appointment(), dtstamp=STAMP)
    cal = parse(data)
    assert str(cal["METHOD"]) == "REQUEST"
    ev = event(data)
    assert ev["DTSTART"].dt == datetime(2026, 3, 10, 10, 0, tzinfo=AMS)
    assert ev["DTSTART"].dt.utcoffset() == timedelta(hours=1)
    assert str(ev["SUMMARY"]) == "Product demo"
    assert str(ev["LOCATION"]) == "Keizersgracht 1, Amsterdam"
    assert [tz["TZID"] for tz in cal.walk("VTIMEZONE")] == ["Europe/Amsterdam"]


@pytest.mark.parametrize(
    "text",
    [
        "first line\nATTENDEE:mailto:evil@x.example",
        "first line\r\nATTENDEE:mailto:evil@x.example",
        "lone CR\rATTENDEE:mailto:evil@x.example",
        "a, b; c \\ d \\n not a newline",
        "END:VEVENT\nBEGIN:VEVENT\nUID:other",
        "Zażółć gęślą jaźń, één tweeën " * 6,
    ],
)
def test_user_text_stays_inside_its_property(text: str) -> None:
    data = invitation_ics(appointment(description=text, title="Demo; part 1, again"), dtstamp=STAMP)
    assert_rfc5545_lines(data)
    lines = unfolded(data)
    assert sum(line.startswith("ATTENDEE") for line in lines) == 1
    assert lines.count("BEGIN:VEVENT") == 1
    assert sum(line.startswith("UID") for line in lines) == 1
    ev = event(data)
    expected = text.replace("\r\n", "\n").replace("\r", "\n")
    assert str(ev["DESCRIPTION"]) == expected
    assert str(ev["SUMMARY"]) == "Demo; part 1, again"


def test_attendee_name_with_quotes_and_separators_stays_one_parameter() -> None:
    tricky = Attendee("jan@acme.example.nl", 'Jan "JJ" de Vries; ROLE=CHAIR: x, y')
    data = invitation_ics(appointment(attendees=(tricky,)), dtstamp=STAMP)
    ev = event(data)
    attendee = ev["ATTENDEE"]
    assert str(attendee) == "mailto:jan@acme.example.nl"
    assert attendee.params["ROLE"] == "REQ-PARTICIPANT"
    assert attendee.params["CN"] == "Jan 'JJ' de Vries; ROLE=CHAIR: x, y"


def test_escape_text_never_leaves_a_line_break() -> None:
    escaped = escape_text("a\r\nb\rc\nd\u2028e\x85f\x00g\x1bh\ti")
    assert escaped == "a\\nb\\nc\\nd\\ne\\nfgh\ti"
    assert escape_text("x;y,z\\") == "x\\;y\\,z\\\\"


def test_long_lines_fold_at_75_octets_without_splitting_characters() -> None:
    line = "DESCRIPTION:" + "ż" * 100
    folded = fold_line(line).encode("utf-8")
    assert_rfc5545_lines(folded)
    assert folded.decode("utf-8").replace("\r\n ", "").rstrip("\r\n") == line
    ascii_line = "X" * 300
    assert fold_line(ascii_line).replace("\r\n ", "").rstrip("\r\n") == ascii_line


@pytest.mark.parametrize(
    ("zone", "day", "std_offset", "dst_offset"),
    [
        # Last Sunday of March 2026 is the 29th, of October the 25th.
        (AMS, 29, 1, 2),
        (WAW, 29, 1, 2),
    ],
)
def test_spring_forward_keeps_wall_time(
    zone: ZoneInfo, day: int, std_offset: int, dst_offset: int
) -> None:
    before = appointment(
        start=datetime(2026, 3, day - 1, 10, tzinfo=zone),
        end=datetime(2026, 3, day - 1, 11, tzinfo=zone),
    )
    after = appointment(
        start=datetime(2026, 3, day, 10, tzinfo=zone), end=datetime(2026, 3, day, 11, tzinfo=zone)
    )
    ev_before = event(invitation_ics(before, dtstamp=STAMP))
    ev_after = event(invitation_ics(after, dtstamp=STAMP))
    assert ev_before["DTSTART"].dt.hour == 10
    assert ev_after["DTSTART"].dt.hour == 10
    assert ev_before["DTSTART"].dt.utcoffset() == timedelta(hours=std_offset)
    assert ev_after["DTSTART"].dt.utcoffset() == timedelta(hours=dst_offset)


@pytest.mark.parametrize("zone", [AMS, WAW])
def test_weekly_series_across_fall_back_keeps_ten_oclock(zone: ZoneInfo) -> None:
    series = appointment(
        start=datetime(2026, 10, 19, 10, tzinfo=zone),
        end=datetime(2026, 10, 19, 11, tzinfo=zone),
        rrule="FREQ=WEEKLY;COUNT=3",
        exdates=(datetime(2026, 10, 26, 10, tzinfo=zone),),
    )
    data = invitation_ics(series, dtstamp=STAMP)
    assert_rfc5545_lines(data)
    lines = unfolded(data)
    key = zone.key
    assert f"DTSTART;TZID={key}:20261019T100000" in lines
    assert "RRULE:FREQ=WEEKLY;COUNT=3" in lines
    assert f"EXDATE;TZID={key}:20261026T100000" in lines
    ev = event(data)
    assert ev["EXDATE"].dts[0].dt == datetime(2026, 10, 26, 10, tzinfo=zone)
    assert ev["EXDATE"].dts[0].dt.utcoffset() == timedelta(hours=1)


@pytest.mark.parametrize("key", ["Europe/Amsterdam", "Europe/Warsaw", "America/New_York"])
def test_vtimezone_gives_the_same_offsets_as_zoneinfo(key: str) -> None:
    """Our VTIMEZONE, read by icalendar, agrees with zoneinfo at every hour of 2026-2029."""
    lines = vtimezone_lines(key, 2026, 2027)
    data = "".join(
        fold_line(x)
        for x in ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:x", *lines, "END:VCALENDAR"]
    )
    (component,) = parse(data.encode()).walk("VTIMEZONE")
    ours = component.to_tz()
    real = ZoneInfo(key)
    t = datetime(2026, 1, 1, tzinfo=UTC)
    while t < datetime(2030, 1, 1, tzinfo=UTC):
        assert t.astimezone(ours).utcoffset() == t.astimezone(real).utcoffset(), t
        t += timedelta(hours=1)
    # EU rule: DST starts at 02:00 local standard time, per RFC 5545 DTSTART semantics.
    if key != "America/New_York":
        assert "DTSTART:20260329T020000" in lines
        assert "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU" in lines
        assert "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU" in lines


def test_update_keeps_uid_and_raises_sequence() -> None:
    first = appointment()
    moved = appointment(
        start=datetime(2026, 3, 11, 14, tzinfo=AMS),
        end=datetime(2026, 3, 11, 15, tzinfo=AMS),
        sequence=1,
    )
    a, b = event(invitation_ics(first, dtstamp=STAMP)), event(invitation_ics(moved, dtstamp=STAMP))
    assert str(a["UID"]) == str(b["UID"])
    assert int(b["SEQUENCE"]) == int(a["SEQUENCE"]) + 1
    assert b["DTSTART"].dt == datetime(2026, 3, 11, 14, tzinfo=AMS)


def test_cancel_has_same_uid_method_cancel_and_status_cancelled() -> None:
    cancelled = appointment(sequence=2, status=AppointmentStatus.CANCELLED)
    data = invitation_ics(cancelled, "CANCEL", dtstamp=STAMP)
    assert_rfc5545_lines(data)
    lines = unfolded(data)
    assert "METHOD:CANCEL" in lines
    assert "STATUS:CANCELLED" in lines
    assert "UID:a-1@crm.example.com" in lines
    assert "SEQUENCE:2" in lines
    assert all("RSVP=TRUE" not in line for line in lines)


def test_utc_appointment_is_written_in_utc_without_vtimezone() -> None:
    a = appointment(
        start=datetime(2026, 3, 10, 9, tzinfo=UTC), end=datetime(2026, 3, 10, 10, tzinfo=UTC)
    )
    lines = unfolded(invitation_ics(a, dtstamp=STAMP))
    assert "DTSTART:20260310T090000Z" in lines
    assert "BEGIN:VTIMEZONE" not in lines


def test_end_in_another_zone_is_written_in_the_start_zone() -> None:
    a = appointment(
        start=datetime(2026, 3, 10, 10, tzinfo=AMS), end=datetime(2026, 3, 10, 11, tzinfo=WAW)
    )
    lines = unfolded(invitation_ics(a, dtstamp=STAMP))
    assert "DTEND;TZID=Europe/Amsterdam:20260310T110000" in lines
    assert sum(line == "BEGIN:VTIMEZONE" for line in lines) == 1


@pytest.mark.parametrize(
    "bad",
    [
        "FREQ=WEEKLY;COUNT=4\r\nATTENDEE:mailto:x@y.example",
        "FREQ=WEEKLY;X-EVIL=1",
        "COUNT=4",
        "FREQ=WEEKLY;UNTIL=20261231",
        "FREQ=WEEKLY;COUNT=2;UNTIL=20261231T000000Z",
        "FREQ=WEEKLY:COUNT=4",
    ],
)
def test_malformed_recurrence_rules_are_refused(bad: str) -> None:
    with pytest.raises(InvalidInput) as info:
        check_rrule(bad)
    assert info.value.field == "rrule"


def test_unknown_method_and_naive_dtstamp_are_refused() -> None:
    with pytest.raises(InvalidInput):
        invitation_ics(appointment(), "REFRESH", dtstamp=STAMP)
    with pytest.raises(InvalidInput):
        invitation_ics(appointment(), dtstamp=datetime(2026, 3, 1, 12))


def test_same_input_gives_the_same_bytes() -> None:
    assert invitation_ics(appointment(), dtstamp=STAMP) == invitation_ics(
        appointment(), dtstamp=STAMP
    )
    assert re.search(
        rb"UID:a-1@crm\.example\.com\r\n", invitation_ics(appointment(), dtstamp=STAMP)
    )

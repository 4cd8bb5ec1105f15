"""RFC 5545 checks on the bytes of every invitation, and reading them back."""

from __future__ import annotations

import re
import time
import zoneinfo
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
import vobject

from crm_procedures.errors import InvalidInput
from crm_procedures.formats.ical import (
    OPEN_SERIES_YEARS,
    TAIL_YEARS,
    check_rrule,
    escape_text,
    fold_line,
    invitation_ics,
    vtimezone_lines,
)
from crm_procedures.ids import AppointmentId, UserId
from crm_procedures.model.appointment import (
    Appointment,
    AppointmentStatus,
    Attendee,
    first_occurrence,
)
from crm_procedures.services.agenda import occurrences

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
    # lookup_tzid=False: build the zone from our VTIMEZONE, not from the TZID name.
    ours = component.to_tz(lookup_tzid=False)
    real = ZoneInfo(key)
    t = datetime(2026, 1, 1, tzinfo=UTC)
    while t < datetime(2030, 1, 1, tzinfo=UTC):
        assert t.astimezone(ours).utcoffset() == t.astimezone(real).utcoffset(), t
        t += timedelta(hours=1)
    # EU rule: DST starts at 02:00 local standard time, per RFC 5545 DTSTART semantics;
    # after the listed years the checked yearly rule carries on.
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


# --- defects of issue 16 ------------------------------------------------------------------


def zone_of(data: bytes) -> Any:
    """The tzinfo icalendar builds from the VTIMEZONE itself (not from the TZID name)."""
    (component,) = parse(data).walk("VTIMEZONE")
    return component.to_tz(lookup_tzid=False)


def read_with_vobject(data: bytes) -> Any:
    """vobject's reading with this document's VTIMEZONE (it keeps one per TZID per process)."""
    text = data.decode("utf-8")
    for component in vobject.readOne(text).contents.get("vtimezone", []):
        vobject.icalendar.registerTzid(component.tzid.value, component.gettzinfo())
    return vobject.readOne(text)


def series(key: str, rrule: str, year: int = 2026) -> Appointment:
    zone = ZoneInfo(key)
    return appointment(
        start=datetime(year, 3, 10, 12, tzinfo=zone),
        end=datetime(year, 3, 10, 13, tzinfo=zone),
        rrule=rrule,
    )


def test_defect_07_vtimezone_gives_zoneinfo_offsets_at_every_occurrence_in_every_zone() -> None:
    """Every IANA zone: a two-year monthly series, every occurrence read back by icalendar."""
    keys = sorted(zoneinfo.available_timezones())
    assert len(keys) > 300
    wrong: list[tuple[str, datetime]] = []
    for key in keys:
        a = series(key, "FREQ=MONTHLY;UNTIL=20280310T000000Z")
        data = invitation_ics(a, dtstamp=STAMP)
        if b"BEGIN:VTIMEZONE" not in data:
            continue  # a UTC alias: written in UTC
        ours = zone_of(data)
        for occ in occurrences(a, a.start, a.start + timedelta(days=800)):
            if occ.start.astimezone(ours).utcoffset() != occ.start.utcoffset():
                wrong.append((key, occ.start))
    assert wrong == []


@pytest.mark.parametrize(
    "key",
    [
        "Asia/Jerusalem",
        "Asia/Gaza",
        "Africa/Casablanca",
        "America/Santiago",
        "America/Nuuk",
        "Europe/Amsterdam",
        "Australia/Lord_Howe",
        "Africa/Cairo",
    ],
)
def test_defect_07_open_series_offsets_hold_over_the_documented_horizon(key: str) -> None:
    """Zones whose rules were guessed wrong: weekly, open-ended, read by icalendar and vobject."""
    a = series(key, "FREQ=WEEKLY")
    data = invitation_ics(a, dtstamp=STAMP)
    ours = zone_of(data)
    horizon = a.start + timedelta(days=365 * (OPEN_SERIES_YEARS + TAIL_YEARS))
    mine = occurrences(a, a.start, horizon)
    assert len(mine) > 52 * (OPEN_SERIES_YEARS + TAIL_YEARS) - 5
    assert [
        o.start for o in mine if o.start.astimezone(ours).utcoffset() != o.start.utcoffset()
    ] == []
    theirs = read_with_vobject(data).vevent.getrruleset()
    for occ, other in zip(mine, theirs):
        assert occ.start.astimezone(UTC) == other.astimezone(UTC), (key, occ.start, other)


def test_defect_07_a_yearly_rule_is_written_only_where_zoneinfo_follows_it() -> None:
    # Santiago changes on "the first Sunday after the first Saturday of April" at 24:00;
    # the old code guessed "first Sunday of April".
    lines = vtimezone_lines("America/Santiago", 2026, 2027)
    rules = [line for line in lines if line.startswith("RRULE:")]
    assert rules, lines
    assert all("BYDAY=1SU" not in r or "BYMONTHDAY" in r for r in rules)
    jerusalem = vtimezone_lines("Asia/Jerusalem", 2026, 2027)
    assert "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=FR;BYMONTHDAY=23,24,25,26,27,28,29" in jerusalem


@pytest.mark.parametrize(
    ("key", "wall", "utc"),
    [
        ("Europe/Amsterdam", datetime(2026, 10, 25, 2, 30), "20261025T013000Z"),
        ("America/New_York", datetime(2026, 11, 1, 1, 30), "20261101T063000Z"),
    ],
)
def test_defect_08_second_of_two_equal_wall_times_is_written_in_utc(
    key: str, wall: datetime, utc: str
) -> None:
    zone = ZoneInfo(key)
    start = wall.replace(tzinfo=zone, fold=1)
    a = appointment(start=start, end=start + timedelta(minutes=30))
    data = invitation_ics(a, dtstamp=STAMP)
    assert f"DTSTART:{utc}" in unfolded(data)
    assert event(data)["DTSTART"].dt == start.astimezone(UTC)
    # The first of the two is still written with its zone.
    first = appointment(start=wall.replace(tzinfo=zone), end=start + timedelta(minutes=30))
    lines = unfolded(invitation_ics(first, dtstamp=STAMP))
    assert f"DTSTART;TZID={key}:{wall:%Y%m%dT%H%M%S}" in lines
    assert event(data)["DTEND"].dt == a.end


def test_defect_08_start_and_end_are_compared_as_instants() -> None:
    start = datetime(2026, 10, 25, 2, 30, tzinfo=AMS, fold=1)  # 01:30Z
    with pytest.raises(InvalidInput) as info:
        appointment(start=start, end=datetime(2026, 10, 25, 2, 45, tzinfo=AMS))  # 00:45Z
    assert info.value.field == "end"
    ok = appointment(start=datetime(2026, 10, 25, 2, 45, tzinfo=AMS), end=start)
    assert ok.end.astimezone(UTC) - ok.start.astimezone(UTC) == timedelta(minutes=45)


def test_defect_08_recurring_start_in_the_repeated_hour_is_refused() -> None:
    start = datetime(2026, 10, 25, 2, 30, tzinfo=AMS, fold=1)
    with pytest.raises(InvalidInput) as info:
        appointment(start=start, end=start + timedelta(hours=1), rrule="FREQ=WEEKLY")
    assert info.value.field == "start"


def test_defect_09_gap_occurrence_is_written_and_read_as_rfc_5545_says() -> None:
    """Sunday 02:30 weekly; 2026-03-29 02:30 does not exist in Amsterdam: 03:30 CEST."""
    start = datetime(2026, 3, 22, 2, 30, tzinfo=AMS)
    a = appointment(start=start, end=start + timedelta(minutes=30), rrule="FREQ=WEEKLY;COUNT=3")
    occ = occurrences(a, start, start + timedelta(days=20))
    assert [o.start.astimezone(UTC) for o in occ] == [
        datetime(2026, 3, 22, 1, 30, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
        datetime(2026, 4, 5, 0, 30, tzinfo=UTC),
    ]
    assert all(
        o.end.astimezone(UTC) - o.start.astimezone(UTC) == timedelta(minutes=30) for o in occ
    )
    # The invitation carries the wall time and the rule; RFC 5545 gives the reading
    # above (vobject's dateutil expansion uses the offset after the gap instead).
    lines = unfolded(invitation_ics(a, dtstamp=STAMP))
    assert "DTSTART;TZID=Europe/Amsterdam:20260322T023000" in lines


@pytest.mark.parametrize(
    "bad",
    [
        "FREQ=WEEKLY;INTERVAL=0",
        "FREQ=MONTHLY;BYMONTHDAY=-40",
        "FREQ=MONTHLY;BYMONTHDAY=0",
        "FREQ=YEARLY;BYWEEKNO=60",
        "FREQ=YEARLY;BYYEARDAY=367",
        "FREQ=DAILY;BYHOUR=24",
        "FREQ=DAILY;BYMINUTE=60",
        "FREQ=DAILY;BYSECOND=61",
        "FREQ=YEARLY;BYMONTH=13",
        "FREQ=YEARLY;BYMONTH=-1",
        "FREQ=MONTHLY;BYDAY=54MO",
        "FREQ=WEEKLY;BYDAY=1MO",
        "FREQ=MONTHLY;BYSETPOS=1",
        "FREQ=WEEKLY;BYMONTHDAY=3",
        "FREQ=MONTHLY;BYWEEKNO=3",
        "FREQ=WEEKLY;COUNT=0",
        "FREQ=WEEKLY;COUNT=" + "9" * 5000,
        "FREQ=WEEKLY;FREQ=DAILY",
        "FREQ=WEEKLY;WKST=XX",
        "FREQ=WEEKLY;UNTIL=20261332T000000Z",
        "FREQ=HOURLY",
    ],
)
def test_defect_10_rules_outside_rfc_5545_ranges_are_refused(bad: str) -> None:
    with pytest.raises(InvalidInput) as info:
        check_rrule(bad)
    assert info.value.field == "rrule"


@pytest.mark.parametrize(
    "never",
    [
        "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
        "FREQ=YEARLY;BYMONTH=4;BYMONTHDAY=31",
        "FREQ=MONTHLY;BYMONTH=6;BYMONTHDAY=31",
        "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30;INTERVAL=7",
    ],
)
def test_defect_10_a_rule_that_never_happens_is_found_cheaply(never: str) -> None:
    began = time.thread_time()
    assert first_occurrence(never, datetime(2026, 3, 10, 10, tzinfo=AMS)) is None
    assert time.thread_time() - began < 2.0
    leap = first_occurrence("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", datetime(2097, 1, 1, tzinfo=AMS))
    assert leap == datetime(2104, 2, 29, tzinfo=AMS)  # 2100 is no leap year


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (datetime(1, 1, 1, 0, 5, tzinfo=AMS), datetime(1, 1, 1, 1, 5, tzinfo=AMS)),
        (
            datetime(9999, 12, 31, 22, tzinfo=ZoneInfo("America/New_York")),
            datetime(9999, 12, 31, 23, tzinfo=ZoneInfo("America/New_York")),
        ),
        (datetime(9999, 6, 1, 10, tzinfo=UTC), datetime(9999, 6, 1, 11, tzinfo=UTC)),
    ],
)
def test_defect_11_appointments_at_date_extremes_are_refused(
    start: datetime, end: datetime
) -> None:
    with pytest.raises(InvalidInput) as info:
        appointment(start=start, end=end)
    assert info.value.field == "start"


def test_defect_11_invitation_for_the_latest_allowed_year_is_written() -> None:
    zone = ZoneInfo("America/New_York")
    a = appointment(
        start=datetime(9899, 12, 31, 10, tzinfo=zone),
        end=datetime(9899, 12, 31, 11, tzinfo=zone),
        rrule="FREQ=YEARLY",
        exdates=(datetime(9899, 12, 31, 10, tzinfo=zone),),
    )
    data = invitation_ics(a, dtstamp=STAMP)
    assert event(data)["DTSTART"].dt == a.start
    vobject.readOne(data.decode("utf-8"))

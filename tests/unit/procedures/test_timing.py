"""Time in procedures: business days, due rules and send windows against independent oracles.

Each property compares the library's arithmetic with a computation written
differently in this file: a naive day-by-day loop over the ``holidays``
package's own tables for business days, and a minute-by-minute scan of the
wall clock for send windows. Instants are drawn around the changes of the
clocks in Europe/Amsterdam and America/New_York, where such code goes wrong.
"""

from __future__ import annotations

import sys
import time as clock
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import holidays as holidays_package
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_procedures.errors import DefinitionError, Finding, InvalidInput
from crm_procedures.procedures.timing import (
    MAX_BUSINESS_DAYS,
    MAX_DUE_UNITS,
    WEEKDAYS,
    Anchor,
    BusinessCalendar,
    DueRule,
    DueUnit,
    SendWindow,
    due_at,
    dump_calendar,
    dump_due_rule,
    dump_send_window,
    load_calendar,
    load_calendars,
    load_due_rule,
    load_send_window,
    next_opening,
    validate_timing,
)

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
NEW_YORK = ZoneInfo("America/New_York")
ZONES = (AMSTERDAM, NEW_YORK)

NL = BusinessCalendar("nl", "NL", closing_days=frozenset({date(2026, 12, 24)}))
PL = BusinessCalendar("pl", "PL")
MIDDLE_EAST = BusinessCalendar("me", weekend=["fri", "sat"], holidays=[date(2026, 6, 17)])
PLAIN = BusinessCalendar()
CALENDARS = (NL, PL, MIDDLE_EAST, PLAIN)


# ------------------------------------------------------------------ oracles


def days_off_oracle(calendar: BusinessCalendar) -> Callable[[date], bool]:
    """Whether a date is off, from the holidays package directly (not the calendar's tables)."""
    tables: dict[int, set[date]] = {}

    def off(day: date) -> bool:
        if day.weekday() in calendar.weekend:
            return True
        if day.year not in tables:
            found: set[date] = set(calendar.holidays) | set(calendar.closing_days)
            if calendar.country:
                found |= set(holidays_package.country_holidays(calendar.country, years=day.year))
            tables[day.year] = found
        return day in tables[day.year]

    return off


def naive_add(calendar: BusinessCalendar, start: date, n: int) -> date:
    off = days_off_oracle(calendar)
    day, counted = start, 0
    while counted < n:
        day += timedelta(days=1)
        if not off(day):
            counted += 1
    return day


def naive_between(calendar: BusinessCalendar, start: date, end: date) -> int:
    off = days_off_oracle(calendar)
    return sum(not off(start + timedelta(days=i)) for i in range(1, (end - start).days + 1))


def wall_instant_oracle(day: date, wall: time, tz: tzinfo) -> datetime:
    """The documented rule, computed by trying the zone's two offsets for the wall time."""
    naive = datetime.combine(day, wall)
    offsets = {naive.replace(tzinfo=tz, fold=f).utcoffset() for f in (0, 1)}
    hits = []
    for off in offsets:
        assert off is not None
        instant = (naive - off).replace(tzinfo=UTC)
        if instant.astimezone(tz).replace(tzinfo=None) == naive:
            hits.append(instant)
    if hits:
        return min(hits).astimezone(tz)  # a repeated time: the first occurrence
    before = naive.replace(tzinfo=tz, fold=0).utcoffset()
    after = naive.replace(tzinfo=tz, fold=1).utcoffset()
    assert before is not None
    assert after is not None
    gap = abs(after - before)
    return (naive + gap).replace(tzinfo=tz)  # the wall time moved forward by the gap


def in_window_oracle(
    instant: datetime, days: set[int], opens: time, closes: time, tz: tzinfo
) -> bool:
    local = instant.astimezone(tz)
    if local.weekday() not in days:
        return False
    now = local.time().replace(tzinfo=None)
    return opens <= now and (closes == time(0) or now < closes)


def scan_oracle(
    instant: datetime, days: set[int], opens: time, closes: time, tz: tzinfo
) -> datetime | None:
    """The first instant at or after ``instant`` inside the window, minute by minute."""
    if in_window_oracle(instant, days, opens, closes, tz):
        return instant
    t = instant.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    for _ in range(8 * 24 * 60):
        if in_window_oracle(t, days, opens, closes, tz):
            return t
        t += timedelta(minutes=1)
    return None


def same(got: datetime, expected: datetime) -> bool:
    """The same instant shown with the same UTC offset.

    (``==`` between zones is always false for a wall time the clocks repeat, PEP 495.)
    """
    return got.astimezone(UTC) == expected.astimezone(UTC) and got.utcoffset() == (
        expected.utcoffset()
    )


# ------------------------------------------------------------------ strategies

TRANSITIONS = [
    date(2025, 3, 9),
    date(2025, 3, 30),
    date(2025, 10, 26),
    date(2025, 11, 2),
    date(2026, 3, 8),
    date(2026, 3, 29),
    date(2026, 10, 25),
    date(2026, 11, 1),
]

near_transitions = st.builds(
    lambda day, shift, minute: (
        datetime.combine(day, time(0), tzinfo=UTC) + timedelta(days=shift, minutes=minute)
    ),
    st.sampled_from(TRANSITIONS),
    st.integers(-6, 2),
    st.integers(0, 24 * 60 - 1),
)
any_instant = st.datetimes(
    min_value=datetime(1995, 1, 1), max_value=datetime(2055, 1, 1), timezones=st.just(UTC)
)
instants = st.one_of(near_transitions, any_instant)
some_dates = st.dates(min_value=date(1995, 1, 1), max_value=date(2055, 1, 1))
quarter_hours = st.builds(lambda q: time(q // 4, (q % 4) * 15), st.integers(0, 95))


@st.composite
def windows(draw: st.DrawFn) -> SendWindow:
    days = draw(st.sets(st.integers(0, 6), min_size=1))
    opens = draw(quarter_hours)
    closes = draw(quarter_hours.filter(lambda c: c == time(0) or c > opens))
    return SendWindow(frozenset(days), opens, closes)


# ------------------------------------------------------------------ business days


@given(st.sampled_from(CALENDARS), some_dates, st.integers(0, 40))
def test_adding_business_days_matches_a_day_by_day_count(
    calendar: BusinessCalendar, start: date, n: int
) -> None:
    assert calendar.add_business_days(start, n) == naive_add(calendar, start, n)


@given(st.sampled_from(CALENDARS), some_dates, st.integers(0, 120))
def test_business_days_between_counts_like_a_loop_and_inverts_adding(
    calendar: BusinessCalendar, start: date, days: int
) -> None:
    end = start + timedelta(days=days)
    assert calendar.business_days_between(start, end) == naive_between(calendar, start, end)
    assert calendar.business_days_between(end, start) == -naive_between(calendar, start, end)
    assert calendar.business_days_between(start, calendar.add_business_days(start, days)) == days


@given(st.sampled_from(CALENDARS), some_dates)
def test_is_business_day_agrees_with_the_holiday_tables(
    calendar: BusinessCalendar, day: date
) -> None:
    assert calendar.is_business_day(day) is not days_off_oracle(calendar)(day)


def test_dutch_easter_and_the_closing_day_are_skipped() -> None:
    # Thursday 2 April 2026: Good Friday and Easter Monday are off in the package's table.
    assert NL.add_business_days(date(2026, 4, 2), 2) == date(2026, 4, 8)
    # 23 December: the 24th is the installation's closing day, the 25th Christmas.
    assert NL.add_business_days(date(2026, 12, 23), 1) == date(2026, 12, 28)
    assert PL.is_business_day(date(2026, 12, 24)) is False  # Wigilia, a Polish holiday since 2025
    assert PLAIN.is_business_day(date(2026, 12, 24)) is True


def test_two_business_days_after_friday_or_saturday_is_tuesday() -> None:
    assert PLAIN.add_business_days(date(2026, 3, 6), 2) == date(2026, 3, 10)
    assert PLAIN.add_business_days(date(2026, 3, 7), 2) == date(2026, 3, 10)
    assert PLAIN.add_business_days(date(2026, 3, 7), 0) == date(2026, 3, 7)


def test_defect_huge_business_day_counts_are_refused_fast() -> None:
    t0 = clock.thread_time()
    with pytest.raises(InvalidInput) as caught:
        NL.add_business_days(date(2026, 1, 1), 10**9)
    assert caught.value.field == "n"
    assert clock.thread_time() - t0 < 0.05
    t0 = clock.thread_time()
    NL.add_business_days(date(2026, 1, 1), MAX_BUSINESS_DAYS)
    assert clock.thread_time() - t0 < 0.5


@pytest.mark.parametrize("n", [-1, True, 1.5, "2", None])
def test_a_business_day_count_that_is_not_a_whole_number_in_range_is_refused(n: Any) -> None:
    with pytest.raises(InvalidInput, match="n:"):
        PLAIN.add_business_days(date(2026, 1, 1), n)


def test_defect_business_days_past_the_year_9999_are_a_named_error() -> None:
    with pytest.raises(InvalidInput, match="9999"):
        PLAIN.add_business_days(date(9999, 12, 20), 30)
    with pytest.raises(InvalidInput, match="9999"):
        PLAIN.add_business_days(datetime(9999, 12, 31, 23, tzinfo=UTC), 1)


def test_naive_datetimes_and_non_dates_are_refused() -> None:
    with pytest.raises(InvalidInput, match="timezone-aware"):
        PLAIN.add_business_days(datetime(2026, 1, 1, 9), 1)
    with pytest.raises(InvalidInput, match="must be a date"):
        PLAIN.is_business_day("2026-01-01")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="more than"):
        PLAIN.business_days_between(date(1, 1, 1), date(9999, 1, 1))


def test_unknown_country_and_region_are_named_errors() -> None:
    with pytest.raises(InvalidInput) as country:
        BusinessCalendar("x", "XX")
    assert country.value.field == "country"
    with pytest.raises(InvalidInput) as region:
        BusinessCalendar("x", "DE", "ZZ")
    assert region.value.field == "region"
    assert BusinessCalendar("by", "DE", "BY").is_business_day(date(2026, 1, 6)) is False
    with pytest.raises(InvalidInput, match="seven"):
        BusinessCalendar(weekend=WEEKDAYS)


def test_without_the_holidays_package_listed_holidays_stand_in_or_the_country_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "holidays", None)  # import now fails
    with pytest.raises(InvalidInput, match="optional 'holidays' package"):
        BusinessCalendar("nl", "NL")
    listed = BusinessCalendar("nl", "NL", holidays=[date(2026, 4, 6)])
    assert listed.is_business_day(date(2026, 4, 6)) is False
    assert listed.is_business_day(date(2026, 4, 3)) is True  # Good Friday is not listed
    findings = validate_timing(calendars={"nl": {"country": "NL"}})
    assert [f.code for f in findings] == ["unknown-calendar"]


# ------------------------------------------------------------------ due rules


@given(
    near_transitions | any_instant,
    st.sampled_from(ZONES),
    st.sampled_from(CALENDARS),
    st.integers(0, 15),
)
def test_business_day_due_dates_keep_the_local_wall_time_across_dst(
    anchor: datetime, tz: tzinfo, calendar: BusinessCalendar, n: int
) -> None:
    rule = DueRule(n, DueUnit.BUSINESS_DAYS, calendar=calendar.key or None)
    got = due_at(rule, anchor, calendar, tz)
    local = anchor.astimezone(tz)
    if n == 0:
        assert same(got, anchor.astimezone(tz))
        return
    day = naive_add(calendar, local.date(), n)
    assert same(got, wall_instant_oracle(day, local.time(), tz))
    assert got.tzinfo is tz
    assert got > anchor


@given(near_transitions, st.sampled_from(ZONES), st.integers(0, 10))
def test_calendar_day_due_dates_keep_the_local_wall_time(
    anchor: datetime, tz: tzinfo, n: int
) -> None:
    local = anchor.astimezone(tz)
    got = due_at(DueRule(n, "days"), anchor, None, tz)
    assert same(got, wall_instant_oracle(local.date() + timedelta(days=n), local.time(), tz))


@given(instants, st.sampled_from([DueUnit.MINUTES, DueUnit.HOURS]), st.integers(0, 10_000))
def test_minute_and_hour_due_dates_are_elapsed_time(
    anchor: datetime, unit: DueUnit, n: int
) -> None:
    got = due_at(DueRule(n, unit), anchor, None, AMSTERDAM)
    step = timedelta(minutes=n) if unit is DueUnit.MINUTES else timedelta(hours=n)
    assert got - anchor == step


def test_a_wall_time_the_clocks_skip_moves_forward_and_a_repeated_one_is_the_first() -> None:
    # Friday 27 March 2026 02:30 in Amsterdam; +2 days lands in the spring-forward gap.
    spring = datetime(2026, 3, 27, 2, 30, tzinfo=AMSTERDAM)
    assert due_at(DueRule(2, "days"), spring).isoformat() == "2026-03-29T03:30:00+02:00"
    autumn = datetime(2026, 10, 23, 2, 30, tzinfo=AMSTERDAM)
    assert due_at(DueRule(2, "days"), autumn).isoformat() == "2026-10-25T02:30:00+02:00"


def test_two_dutch_business_days_after_a_call_before_easter() -> None:
    call = datetime(2026, 4, 2, 14, 0, tzinfo=AMSTERDAM)
    rule = load_due_rule({"after": "previous_step", "business_days": 2, "calendar": "nl"})
    assert due_at(rule, call, NL, AMSTERDAM) == datetime(2026, 4, 8, 14, 0, tzinfo=AMSTERDAM)


@pytest.mark.parametrize(
    ("rule", "calendar", "match"),
    [
        (DueRule(-1, "days"), None, "negative"),
        (DueRule(MAX_DUE_UNITS[DueUnit.HOURS] + 1, "hours"), None, "ten years"),
        (DueRule(2, "business_days", calendar="nl"), None, "pass it"),
        (DueRule(2, "business_days", calendar="nl"), PL, "'pl' was given"),
        (DueRule("2", "days"), None, "whole number"),  # type: ignore[arg-type]
    ],
)
def test_a_rule_with_problems_is_refused_by_due_at(
    rule: DueRule, calendar: BusinessCalendar | None, match: str
) -> None:
    with pytest.raises(InvalidInput, match=match):
        due_at(rule, datetime(2026, 1, 1, tzinfo=UTC), calendar, AMSTERDAM)


def test_due_at_refuses_naive_anchors_unknown_zones_and_years_past_9999() -> None:
    with pytest.raises(InvalidInput, match="timezone-aware"):
        due_at(DueRule(1, "days"), datetime(2026, 1, 1))
    with pytest.raises(InvalidInput, match="unknown time zone"):
        due_at(DueRule(1, "days"), datetime(2026, 1, 1, tzinfo=UTC), None, "Mars/Olympus")
    with pytest.raises(InvalidInput, match="9999"):
        due_at(DueRule(3, "days"), datetime(9999, 12, 30, tzinfo=UTC))
    with pytest.raises(InvalidInput, match="unit"):
        DueRule(1, "weeks")
    with pytest.raises(InvalidInput, match="after"):
        DueRule(1, "days", "tomorrow")


# ------------------------------------------------------------------ send windows


@settings(max_examples=40)
@given(instants, windows(), st.sampled_from(ZONES))
def test_next_opening_is_the_first_minute_the_wall_clock_shows_the_window(
    instant: datetime, window: SendWindow, tz: tzinfo
) -> None:
    got = next_opening(instant, window, tz)
    expected = scan_oracle(instant, set(window.days), window.opens, window.closes, tz)
    assert expected is not None
    assert same(got, expected.astimezone(tz))
    assert got.tzinfo is tz
    assert window.contains(got, tz)


def test_a_window_opening_in_the_spring_forward_gap_opens_when_the_clocks_jump() -> None:
    sunday = SendWindow(["sun"], time(2, 30), time(0))
    got = next_opening(datetime(2026, 3, 28, 16, tzinfo=UTC), sunday, AMSTERDAM)
    assert got.isoformat() == "2026-03-29T03:00:00+02:00"
    skipped = SendWindow(["sun"], time(2), time(3))
    got = next_opening(datetime(2026, 3, 28, 16, tzinfo=UTC), skipped, AMSTERDAM)
    assert got.isoformat() == "2026-04-05T02:00:00+02:00"  # not that night: a week later


def test_office_hours_after_friday_five_open_on_monday_at_nine() -> None:
    office = load_send_window({"days": list(WEEKDAYS[:5]), "from": "09:00", "to": "17:00"})
    friday = datetime(2026, 3, 27, 17, 0, tzinfo=AMSTERDAM)
    assert next_opening(friday, office, AMSTERDAM) == datetime(2026, 3, 30, 9, tzinfo=AMSTERDAM)
    inside = datetime(2026, 3, 27, 16, 59, tzinfo=AMSTERDAM)
    assert next_opening(inside, office, AMSTERDAM) == inside
    # The same instant in New York's zone: 12:00 there on Friday, inside the window.
    assert next_opening(friday, office, NEW_YORK) == friday


def test_a_window_with_a_calendar_stays_shut_on_its_days_off() -> None:
    office = SendWindow(range(5), time(9), time(17), calendar="nl")
    good_friday = datetime(2026, 4, 3, 8, tzinfo=AMSTERDAM)
    got = next_opening(good_friday, office, AMSTERDAM, NL)
    assert got == datetime(2026, 4, 7, 9, tzinfo=AMSTERDAM)  # past Easter Monday
    with pytest.raises(InvalidInput, match="pass it"):
        next_opening(good_friday, office, AMSTERDAM)


@pytest.mark.parametrize(
    ("days", "opens", "closes", "field"),
    [
        ([], time(9), time(17), "days"),
        (["mon"], time(17), time(9), "closes"),
        (["mon"], time(9), time(9), "closes"),
        (["funday"], time(9), time(17), "days"),
        (["mon"], "09:00", time(17), "opens"),
        (["mon"], time(9), time(17, tzinfo=UTC), "closes"),
    ],
)
def test_a_window_that_never_opens_or_is_malformed_is_refused_at_construction(
    days: Any, opens: Any, closes: Any, field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        SendWindow(days, opens, closes)
    assert caught.value.field == field


def test_a_window_until_midnight_and_all_day_windows_open() -> None:
    evening = SendWindow(["mon"], time(22), time(0))
    monday_late = datetime(2026, 3, 2, 23, 59, tzinfo=AMSTERDAM)
    assert next_opening(monday_late, evening, AMSTERDAM) == monday_late
    always = load_send_window({"days": list(WEEKDAYS), "from": "00:00", "to": "24:00"})
    assert always.contains(datetime(2026, 3, 29, 2, 30, tzinfo=UTC), AMSTERDAM)


# ------------------------------------------------------------------ plain data


due_rules = st.builds(
    DueRule,
    st.integers(0, 2000),
    st.sampled_from(list(DueUnit)),
    st.sampled_from(list(Anchor)),
    st.none(),
) | st.builds(
    DueRule,
    st.integers(0, 2000),
    st.just(DueUnit.BUSINESS_DAYS),
    st.sampled_from(list(Anchor)),
    st.sampled_from(["nl", "pl"]),
)


@given(due_rules)
def test_due_rules_dump_and_load_back_equal(rule: DueRule) -> None:
    assert load_due_rule(dump_due_rule(rule)) == rule


@given(windows(), st.none() | st.just("nl"))
def test_send_windows_dump_and_load_back_equal(window: SendWindow, calendar: str | None) -> None:
    window = SendWindow(window.days, window.opens, window.closes, calendar)
    assert load_send_window(dump_send_window(window)) == window


@given(
    st.sets(st.integers(0, 6), max_size=6),
    st.sets(some_dates, max_size=5),
    st.sets(some_dates, max_size=5),
    st.sampled_from([None, "NL", "PL"]),
)
def test_calendars_dump_and_load_back_equal(
    weekend: set[int], listed: set[date], closing: set[date], country: str | None
) -> None:
    calendar = BusinessCalendar("c", country, None, weekend, listed, closing)
    assert load_calendar(dump_calendar(calendar), "c") == calendar


def test_calendars_load_from_toml_shaped_data_with_dates_as_text_or_dates() -> None:
    cals = load_calendars(
        {
            "nl": {"country": "NL", "closing_days": ["2026-12-24"]},
            "shop": {"weekend": ["sun"], "holidays": [date(2026, 1, 1)]},
        }
    )
    assert cals["nl"].closing_days == {date(2026, 12, 24)}
    assert cals["shop"].weekend == {6}
    assert cals["shop"].is_business_day(date(2026, 1, 3))  # a Saturday


plain_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=True)
    | st.text(max_size=12)
    | st.sampled_from(["09:00", "24:00", "mon", "2026-02-30", "NL", "nl", "previous_step"]),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
TIMING_KEYS = (
    "after",
    "days",
    "business_days",
    "minutes",
    "calendar",
    "from",
    "to",
    "country",
    "region",
    "weekend",
    "holidays",
    "closing_days",
)
keyed = st.fixed_dictionaries({}, optional=dict.fromkeys(TIMING_KEYS, plain_values))


def load_findings(load: Callable[[Any], object], data: Any) -> tuple[Finding, ...]:
    """The findings of a refused load (none when ``data`` loads)."""
    try:
        load(data)
    except DefinitionError as exc:
        return exc.findings or (Finding("empty", "a DefinitionError without findings"),)
    return ()


@given(keyed | plain_values)
def test_any_plain_data_loads_or_raises_a_definition_error_naming_the_field(data: Any) -> None:
    for load in (load_due_rule, load_send_window, load_calendar):
        assert all(f.location for f in load_findings(load, data))
    findings = validate_timing(
        calendars={"x": data}, due={"d": data}, send_windows={"w": data}, time_zones={"z": data}
    )
    assert all(isinstance(f, Finding) for f in findings)


def test_loading_reports_every_problem_with_its_field() -> None:
    with pytest.raises(DefinitionError) as caught:
        load_due_rule({"after": "x", "days": 1, "hours": 2, "dayz": 3}, "steps.call.due")
    located = {(f.code, f.location) for f in caught.value.findings}
    assert ("unknown-key", "steps.call.due.dayz") in located
    assert ("invalid-due-rule", "steps.call.due") in located
    with pytest.raises(DefinitionError) as caught:
        load_send_window({"days": ["mon", "sunday"], "from": "9am", "to": "25:00"}, "w")
    assert {f.location for f in caught.value.findings} == {"w.days[1]", "w.from", "w.to"}


def test_validate_timing_names_each_problem_with_a_stable_code() -> None:
    findings = validate_timing(
        calendars={
            "nl": {"country": "NL"},
            "xx": {"country": "XX"},
            "week": {"weekend": WEEKDAYS},
        },
        due={
            "steps.a.due": {"days": -1},
            "steps.b.due": {"business_days": 10**6},
            "steps.c.due": {"business_days": 3, "calendar": "pl"},
            "steps.d.due": DueRule(-5, "hours"),
            "steps.ok.due": {"business_days": 2, "calendar": "nl"},
        },
        send_windows={
            "steps.a.send_window": {"days": [], "from": "09:00", "to": "17:00"},
            "steps.b.send_window": {
                "days": ["sat"],
                "from": "09:00",
                "to": "17:00",
                "calendar": "nl",
            },
            "steps.c.send_window": {"days": ["mon"], "from": "10:00", "to": "09:00"},
            "steps.ok.send_window": {"days": ["mon"], "from": "09:00", "to": "17:00"},
        },
        time_zones={"time_zone": "Europe/Amsterdm", "ok": "America/New_York"},
    )
    got = sorted((f.code, f.location) for f in findings)
    assert got == sorted(
        [
            ("unknown-calendar", "calendars.xx.country"),
            ("invalid-calendar", "calendars.week.weekend"),
            ("invalid-due-rule", "steps.a.due.days"),
            ("invalid-due-rule", "steps.b.due.business_days"),
            ("unknown-calendar", "steps.c.due.calendar"),
            ("invalid-due-rule", "steps.d.due.hours"),
            ("send-window-never-opens", "steps.a.send_window.days"),
            ("send-window-never-opens", "steps.b.send_window.days"),
            ("send-window-never-opens", "steps.c.send_window.to"),
            ("unknown-time-zone", "time_zone"),
        ]
    )
    assert validate_timing() == []

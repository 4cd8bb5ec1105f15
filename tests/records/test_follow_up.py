"""P5: "schedule the next contact in N hours, days or weeks, or on a date"."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as time_of_day

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_procedures.errors import InvalidInput
from crm_procedures.model.activity import ActivityKind
from crm_procedures.model.activity_rules import MAX_FOLLOW_UP, complete, follow_up
from records.builders import AMS, T0, WAW, an_activity


def test_follow_up_is_the_analogous_next_activity() -> None:
    a = an_activity(
        subject="Quote", channel="phone", priority="high", category="acquisition", start=T0
    )
    nxt = follow_up(a, in_days=3, now=T0, new_id="A-2")
    assert (nxt.id, nxt.follow_up_of) == ("A-2", "A-1")
    assert nxt.kind is ActivityKind.CONTACT
    assert (nxt.relation_id, nxt.contact_ids, nxt.employee, nxt.subject) == (
        a.relation_id,
        a.contact_ids,
        a.employee,
        a.subject,
    )
    assert (nxt.channel, nxt.priority, nxt.category) == ("phone", "high", "acquisition")
    assert nxt.start == T0 + timedelta(days=3)
    assert not nxt.completed
    assert nxt.created_at == T0


def test_follow_up_in_hours_counts_elapsed_time() -> None:
    a = an_activity(start=T0)
    assert follow_up(a, in_hours=5, now=T0, new_id="A-2").start == T0 + timedelta(hours=5)


def test_follow_up_in_weeks_keeps_the_local_time_across_a_dst_change() -> None:
    # 2026-03-29 the Netherlands move to summer time; 10:00 stays 10:00.
    a = an_activity(start=datetime(2026, 3, 23, 10, 0, tzinfo=AMS))
    nxt = follow_up(a, in_weeks=1, now=T0, new_id="A-2")
    assert nxt.start is not None
    assert nxt.start.hour == 10
    assert nxt.start.utcoffset() == timedelta(hours=2)


def test_follow_up_in_hours_over_a_dst_change_is_elapsed_not_wall_time() -> None:
    start = datetime(2026, 3, 28, 22, 0, tzinfo=AMS)
    nxt = follow_up(an_activity(start=start), in_hours=12, now=T0, new_id="A-2")
    assert nxt.start is not None
    assert nxt.start.timestamp() - start.timestamp() == 12 * 3600
    assert nxt.start.hour == 11  # an hour was skipped at 02:00


def test_follow_up_keeps_the_zone_of_the_activity() -> None:
    start = datetime(2026, 3, 2, 9, 30, tzinfo=WAW)
    nxt = follow_up(an_activity(start=start), in_days=1, now=T0, new_id="A-2")
    assert nxt.start == datetime(2026, 3, 3, 9, 30, tzinfo=WAW)


def test_follow_up_in_business_days_skips_the_weekend() -> None:
    friday = datetime(2026, 3, 6, 15, 0, tzinfo=AMS)
    nxt = follow_up(an_activity(start=friday), in_days=1, business_days=True, now=T0, new_id="B")
    assert nxt.start == datetime(2026, 3, 9, 15, 0, tzinfo=AMS)
    nxt = follow_up(an_activity(start=friday), in_days=6, business_days=True, now=T0, new_id="B")
    assert nxt.start == datetime(2026, 3, 16, 15, 0, tzinfo=AMS)


def test_follow_up_on_a_saturday_moves_to_monday_with_business_days() -> None:
    nxt = follow_up(
        an_activity(start=T0), on=date(2026, 3, 7), business_days=True, now=T0, new_id="B"
    )
    assert nxt.start == datetime(2026, 3, 9, 10, 0, tzinfo=AMS)


def test_follow_up_on_a_date_keeps_the_time_of_day() -> None:
    nxt = follow_up(an_activity(start=T0), on=date(2026, 4, 1), now=T0, new_id="A-2")
    assert nxt.start == datetime(2026, 4, 1, 10, 0, tzinfo=AMS)


def test_follow_up_keeps_the_length_of_a_meeting() -> None:
    meeting = an_activity(ActivityKind.MEETING, start=T0, end=T0 + timedelta(minutes=90))
    nxt = follow_up(meeting, in_weeks=2, now=T0, new_id="M-2")
    assert nxt.end is not None
    assert nxt.start is not None
    assert nxt.end - nxt.start == timedelta(minutes=90)


def test_follow_up_of_a_task_is_due_not_started() -> None:
    task = an_activity(ActivityKind.TASK, relation=None, contacts=(), due=T0)
    nxt = follow_up(task, in_days=2, now=T0, new_id="T-2")
    assert (nxt.due, nxt.start) == (T0 + timedelta(days=2), None)


def test_follow_up_of_a_completed_activity_is_allowed() -> None:
    done = complete(an_activity(start=T0, note="done"), T0 + timedelta(minutes=5))
    nxt = follow_up(done, in_days=1, now=T0, new_id="A-2")
    assert not nxt.completed
    assert nxt.note == ""


def test_follow_up_in_the_past_is_refused() -> None:
    old = an_activity(start=T0 - timedelta(days=30))
    with pytest.raises(InvalidInput, match="in the past"):
        follow_up(old, in_days=2, now=T0, new_id="A-2")


def test_follow_up_on_a_past_date_is_refused() -> None:
    with pytest.raises(InvalidInput, match="in the past"):
        follow_up(an_activity(start=T0), on=date(2026, 1, 1), now=T0, new_id="A-2")


def test_follow_up_needs_a_when() -> None:
    with pytest.raises(InvalidInput, match="in_hours, in_days, in_weeks or on"):
        follow_up(an_activity(), now=T0, new_id="A-2")


def test_follow_up_refuses_a_date_and_an_interval_together() -> None:
    with pytest.raises(InvalidInput, match="not both"):
        follow_up(an_activity(), on=date(2026, 4, 1), in_days=1, now=T0, new_id="A-2")


def test_follow_up_refuses_a_negative_interval() -> None:
    with pytest.raises(InvalidInput, match="in_days"):
        follow_up(an_activity(start=T0), in_days=-1, now=T0, new_id="A-2")


def test_follow_up_refuses_a_naive_datetime() -> None:
    with pytest.raises(InvalidInput, match="timezone-aware"):
        follow_up(an_activity(), on=datetime(2026, 4, 1, 9, 0), now=T0, new_id="A-2")


def test_follow_up_without_an_own_time_counts_from_now() -> None:
    nxt = follow_up(an_activity(), in_hours=2, now=T0, new_id="A-2")
    assert nxt.start == T0 + timedelta(hours=2)


# --- defects of issue 16 ------------------------------------------------------------------


@pytest.mark.parametrize(
    "amount",
    [{"in_days": 10**7}, {"in_hours": 10**12}, {"in_weeks": 10**6}, {"in_days": 36_526}],
)
def test_defect_11_huge_follow_up_intervals_are_refused(amount: dict[str, int]) -> None:
    with pytest.raises(InvalidInput) as info:
        follow_up(an_activity(start=T0), now=T0, new_id="B", **amount)  # type: ignore[arg-type]
    assert info.value.field == next(iter(amount))


def test_defect_11_huge_business_day_counts_are_refused_at_once() -> None:
    began = time.thread_time()
    with pytest.raises(InvalidInput):
        follow_up(an_activity(start=T0), in_days=3_000_000, business_days=True, now=T0, new_id="B")
    longest = follow_up(
        an_activity(start=T0),
        in_days=MAX_FOLLOW_UP["in_days"],
        business_days=True,
        now=T0,
        new_id="B",
    )
    assert time.thread_time() - began < 0.5
    assert longest.start is not None
    assert longest.start.weekday() < 5


def test_defect_11_a_follow_up_beyond_the_year_9999_is_refused() -> None:
    late = datetime(9999, 12, 1, 10, tzinfo=UTC)
    with pytest.raises(InvalidInput):
        follow_up(an_activity(start=late), in_weeks=5_000, now=T0, new_id="B")


@given(
    day=st.dates(min_value=date(2020, 1, 1), max_value=date(2040, 12, 31)),
    days=st.integers(min_value=0, max_value=400),
)
@settings(max_examples=200, deadline=None)
def test_defect_11_business_day_arithmetic_equals_counting_workdays(day: date, days: int) -> None:
    start = datetime.combine(day, time_of_day(10), tzinfo=AMS)
    nxt = follow_up(
        an_activity(start=start), in_days=days, business_days=True, now=start, new_id="B"
    )
    assert nxt.start is not None
    # Reference: walk day by day, counting Monday-Friday.
    current, left = start.date(), days
    while left:
        current += timedelta(days=1)
        if current.weekday() < 5:
            left -= 1
    while current.weekday() >= 5:
        current += timedelta(days=1)
    assert nxt.start.date() == current
    assert nxt.start.time() == time_of_day(10)

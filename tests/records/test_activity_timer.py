"""P5: the start/pause timer measures exactly the time it ran."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_procedures.errors import ActivityFrozen, InvalidInput
from crm_procedures.model.activity_rules import (
    complete,
    duration,
    pause_timer,
    resume_timer,
    start_timer,
    stop_timer,
)
from records.builders import T0, an_activity


def test_timer_accumulates_the_running_interval_when_paused() -> None:
    a = start_timer(an_activity(), T0)
    a = pause_timer(a, T0 + timedelta(minutes=4, seconds=30))
    assert a.timer.accumulated == 270.0
    assert not a.timer.running


def test_resumed_timer_adds_the_next_interval_and_skips_the_pause() -> None:
    a = start_timer(an_activity(), T0)
    a = pause_timer(a, T0 + timedelta(minutes=2))
    a = resume_timer(a, T0 + timedelta(minutes=10))
    a = stop_timer(a, T0 + timedelta(minutes=13))
    assert duration(a) == timedelta(minutes=5)


def test_running_timer_duration_counts_up_to_now() -> None:
    a = start_timer(an_activity(), T0)
    assert duration(a, T0 + timedelta(seconds=42)) == timedelta(seconds=42)


def test_pausing_a_paused_timer_is_refused() -> None:
    a = pause_timer(start_timer(an_activity(), T0), T0 + timedelta(minutes=1))
    with pytest.raises(InvalidInput, match="already paused"):
        pause_timer(a, T0 + timedelta(minutes=2))


def test_pausing_a_timer_never_started_is_refused() -> None:
    with pytest.raises(InvalidInput, match="never started"):
        pause_timer(an_activity(), T0)


def test_resuming_a_running_timer_is_refused() -> None:
    a = start_timer(an_activity(), T0)
    with pytest.raises(InvalidInput, match="already running"):
        resume_timer(a, T0 + timedelta(minutes=1))


def test_starting_a_paused_timer_again_is_refused_so_time_is_not_lost() -> None:
    a = pause_timer(start_timer(an_activity(), T0), T0 + timedelta(minutes=1))
    with pytest.raises(InvalidInput, match="resume"):
        start_timer(a, T0 + timedelta(minutes=2))


def test_pausing_before_the_interval_began_is_refused() -> None:
    a = start_timer(an_activity(), T0)
    with pytest.raises(InvalidInput, match="before the timer started"):
        pause_timer(a, T0 - timedelta(seconds=1))


def test_timer_refuses_a_naive_time() -> None:
    with pytest.raises(InvalidInput, match="timezone-aware"):
        start_timer(an_activity(), T0.replace(tzinfo=None))


def test_completing_stops_a_running_timer_and_counts_its_last_interval() -> None:
    a = start_timer(an_activity(), T0)
    done = complete(a, T0 + timedelta(minutes=7))
    assert done.completed_at == T0 + timedelta(minutes=7)
    assert not done.timer.running
    assert done.timer.accumulated == 420.0


def test_timer_of_a_completed_activity_cannot_start() -> None:
    done = complete(an_activity(), T0)
    with pytest.raises(ActivityFrozen):
        start_timer(done, T0 + timedelta(minutes=1))


# A random session: each step waits some seconds, then toggles the timer.
_steps = st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=30)


@given(gaps=_steps, micro=st.lists(st.integers(0, 999_999), min_size=30, max_size=30))
def test_accumulated_duration_equals_the_sum_of_running_intervals(
    gaps: list[int], micro: list[int]
) -> None:
    a = an_activity()
    now = T0
    running_since = None
    expected = timedelta(0)
    for i, gap in enumerate(gaps):
        now = now + timedelta(seconds=gap, microseconds=micro[i])
        if running_since is None:
            a = start_timer(a, now) if i == 0 else resume_timer(a, now)
            running_since = now
        else:
            a = pause_timer(a, now)
            expected += now - running_since
            running_since = None
    if running_since is not None:
        assert duration(a, now).total_seconds() == pytest.approx(
            (expected + (now - running_since)).total_seconds(), abs=1e-5
        )
        a = stop_timer(a, now)
        expected += now - running_since
    assert a.timer.accumulated == pytest.approx(expected.total_seconds(), abs=1e-5)


@given(ops=st.lists(st.sampled_from(["start", "pause", "resume", "stop"]), min_size=1, max_size=25))
def test_timer_refuses_exactly_the_wrong_moves(ops: list[str]) -> None:
    a = an_activity()
    now = T0
    for op in ops:
        now += timedelta(seconds=5)
        running, started = a.timer.running, a.timer.accumulated > 0 or a.timer.running
        wrong = (
            (op == "start" and (running or started))
            or (op == "pause" and not running)
            or (op == "resume" and running)
        )
        fn = {"start": start_timer, "pause": pause_timer, "resume": resume_timer}.get(
            op, stop_timer
        )
        if wrong:
            with pytest.raises(InvalidInput):
                fn(a, now)
        else:
            a = fn(a, now)
            assert a.timer.running == (op in ("start", "resume"))

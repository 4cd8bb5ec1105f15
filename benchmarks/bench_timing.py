"""Due-date arithmetic: adding business days across holidays.

``business_days_vs_dateutil``: ``BusinessCalendar.add_business_days``
(:mod:`crm_procedures.procedures.timing`) on a Dutch calendar (public holidays
from the ``holidays`` package when it is installed, else the same holidays
listed by hand from dateutil's Easter, plus
one closing day a year), for 300 start dates from 2025 to 2035 and waits of
2, 20 and 250 business days (one mix of what cadences and service levels
ask). The baseline is the plain loop a user would write with dateutil:
``rrule(DAILY, byweekday=MO..FR)`` from the next day, skipping the dates in a
precomputed set of the same holidays, until n days are counted. Both give the
same dates (checked before timing). The calendar's per-year tables are warm,
as they are in a running process; the baseline's holiday set is built before
timing too.

Run: ``python benchmarks/run.py --only timing``.
"""

from __future__ import annotations

import random
import sys
from datetime import date, timedelta
from pathlib import Path

from dateutil.easter import easter
from dateutil.rrule import DAILY, FR, MO, TH, TU, WE, rrule

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Figure, best_of

from crm_procedures.procedures.timing import BusinessCalendar, holidays_available

YEARS = range(2025, 2038)


def _closing_days() -> frozenset[date]:
    return frozenset(date(y, 12, 24) for y in YEARS)


def _listed_dutch_holidays() -> frozenset[date]:
    days: set[date] = set()
    for y in YEARS:
        e = easter(y)
        days |= {date(y, 1, 1), date(y, 4, 27), date(y, 12, 25), date(y, 12, 26)}
        days |= {e - timedelta(days=2), e + timedelta(days=1), e + timedelta(days=39)}
        days.add(e + timedelta(days=50))
    return frozenset(days)


def _calendar() -> tuple[BusinessCalendar, str]:
    if holidays_available():
        return BusinessCalendar("nl", "NL", closing_days=_closing_days()), "holidays package"
    listed = _listed_dutch_holidays()
    return BusinessCalendar("nl", holidays=listed, closing_days=_closing_days()), "listed dates"


def _rrule_add(start: date, n: int, off: frozenset[date]) -> date:
    if n == 0:
        return start
    counted = 0
    for moment in rrule(DAILY, dtstart=start + timedelta(days=1), byweekday=(MO, TU, WE, TH, FR)):
        day = moment.date()
        if day in off:
            continue
        counted += 1
        if counted == n:
            return day
    raise AssertionError("unreachable: rrule without an end is endless")


def run(quick: bool) -> list[Figure]:
    """The timing figures (see the module documentation)."""
    calendar, source = _calendar()
    rng = random.Random(18)
    starts = [date(2025, 1, 1) + timedelta(days=rng.randrange(3650)) for _ in range(300)]
    waits = (2, 20, 250)
    cases = [(d, n) for d in starts for n in waits]
    if quick:
        cases = cases[:90]
    off = frozenset(d for y in YEARS for d in calendar.days_off(y))
    for d, n in cases:  # the same answers, and warm per-year tables
        assert calendar.add_business_days(d, n) == _rrule_add(d, n, off), (d, n)

    def ours() -> None:
        for d, n in cases:
            calendar.add_business_days(d, n)

    def baseline() -> None:
        for d, n in cases:
            _rrule_add(d, n, off)

    repeat = 3 if quick else 5
    t_ours = best_of(ours, repeat) / len(cases)
    t_base = best_of(baseline, repeat) / len(cases)
    us = 1e6
    label = " (quick: fewer cases)" if quick else ""
    return [
        Figure(
            "business_days_vs_dateutil",
            t_ours * us,
            "µs per addition",
            "<= 0.5 (goal: faster than the loop)",
            t_ours / t_base <= 0.5,
            t_base * us,
            t_ours / t_base,
            f"{len(cases):,} additions of 2, 20 and 250 business days from 2025-2035 on a Dutch "
            f"calendar ({source}) with a closing day; baseline dateutil rrule Mon-Fri loop "
            f"skipping a precomputed holiday set{label}",
        )
    ]

"""Business days: weekends, public holidays of a country and region, closing days.

A :class:`BusinessCalendar` says which dates are business days. Three sources
of days off add up:

- the weekend (Saturday and Sunday unless configured otherwise);
- public holidays: of ``country`` (and ``region``) through the optional
  ``holidays`` package (``pip install crm_procedures[holidays]``), plus any
  dates listed in ``holidays``. Without the package, a calendar naming a
  country must list its holidays itself, or it is refused: silently treating
  Christmas as a working day is worse than an error;
- the installation's own ``closing_days`` (the office is closed on 24 December).

Counting is fast whatever the distance: whole weeks are counted with
arithmetic and days off with a binary search in a per-year table, so adding
:data:`MAX_BUSINESS_DAYS` business days costs microseconds, not a loop.
"""

from __future__ import annotations

import importlib
from bisect import bisect_right
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

import attrs

from crm_procedures.errors import InvalidInput
from crm_procedures.procedures.timing._local import (
    aware,
    localise,
    out_of_range,
    weekday_set,
)

__all__ = ["MAX_BUSINESS_DAYS", "MAX_SPAN_DAYS", "BusinessCalendar", "holidays_available"]

MAX_BUSINESS_DAYS = 2_610
"""The most business days :meth:`BusinessCalendar.add_business_days` adds (ten years of
five-day weeks); more is refused with InvalidInput instead of computed."""

MAX_SPAN_DAYS = 36_525
"""The longest span (a hundred years) :meth:`BusinessCalendar.business_days_between` counts."""

_WEEKEND = frozenset({5, 6})


def holidays_available() -> bool:
    """Whether the optional ``holidays`` package is installed."""
    return _holidays_module() is not None


def _holidays_module() -> Any:
    try:
        return importlib.import_module("holidays")
    except ImportError:
        return None


def _weekend(value: Any) -> frozenset[int]:
    return weekday_set(value, "weekend")


def _dates(value: Any, field: str) -> frozenset[date]:
    if isinstance(value, (str, bytes, date)) or not isinstance(value, Iterable):
        raise InvalidInput(field, "must be a list of dates", value)
    out: set[date] = set()
    for item in value:
        if isinstance(item, datetime) or not isinstance(item, date):
            raise InvalidInput(field, f"{item!r} is not a date (a datetime is not either)", item)
        out.add(item)
    return frozenset(out)


def _holiday_dates(value: Any) -> frozenset[date]:
    return _dates(value, "holidays")


def _closing_dates(value: Any) -> frozenset[date]:
    return _dates(value, "closing_days")


def _optional_code(field: str) -> Any:
    def check(_inst: Any, _attribute: Any, value: Any) -> None:
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise InvalidInput(field, "must be a code such as 'NL' (or left out)", value)

    return check


@attrs.frozen(slots=True)
class BusinessCalendar:
    """Which dates are business days: not a weekend day, holiday or closing day.

    Attributes:
        key: the name the definitions give the calendar (``"nl"``); may be empty.
        country: an ISO 3166 country code (``"NL"``) whose public holidays count
            (needs the optional ``holidays`` package unless ``holidays`` lists them).
        region: a subdivision code of the country (``"BY"`` in ``"DE"``), or ``None``.
        weekend: the weekdays off, 0 = Monday (names such as ``"sat"`` are accepted).
        holidays: dates off listed by hand (all of them when the package is missing).
        closing_days: the installation's own days off.

    Raises:
        InvalidInput: an unknown country or region (field ``country`` / ``region``),
            a country without the ``holidays`` package and no listed holidays, a
            weekend of all seven days, or values of the wrong type.
    """

    key: str = attrs.field(default="", validator=attrs.validators.instance_of(str))
    country: str | None = attrs.field(default=None, validator=_optional_code("country"))
    region: str | None = attrs.field(default=None, validator=_optional_code("region"))
    weekend: frozenset[int] = attrs.field(default=_WEEKEND, converter=_weekend)
    holidays: frozenset[date] = attrs.field(default=frozenset(), converter=_holiday_dates)
    closing_days: frozenset[date] = attrs.field(default=frozenset(), converter=_closing_dates)
    _source: Any = attrs.field(init=False, default=None, eq=False, repr=False, hash=False)
    _years: dict[int, tuple[int, ...]] = attrs.field(
        init=False, factory=dict, eq=False, repr=False, hash=False
    )
    _week: tuple[tuple[int, ...], ...] = attrs.field(
        init=False, default=(), eq=False, repr=False, hash=False
    )

    def __attrs_post_init__(self) -> None:
        if len(self.weekend) == 7:
            raise InvalidInput("weekend", "all seven days are off: no day would be a business day")
        if self.region is not None and self.country is None:
            raise InvalidInput("region", "a region needs a country", self.region)
        object.__setattr__(self, "_source", self._country_source())
        # _week[w][r]: business weekdays among the r days after a day of weekday w.
        week = tuple(
            tuple(sum((w + i) % 7 not in self.weekend for i in range(1, r + 1)) for r in range(8))
            for w in range(7)
        )
        object.__setattr__(self, "_week", week)

    def _country_source(self) -> Any:
        if self.country is None:
            return None
        module = _holidays_module()
        if module is None:
            if self.holidays:
                return None
            raise InvalidInput(
                "country",
                f"the public holidays of {self.country!r} need the optional 'holidays' "
                "package (pip install crm_procedures[holidays]); or list the holidays as dates",
                self.country,
            )
        try:
            module.country_holidays(self.country, subdiv=self.region)
        except NotImplementedError as exc:
            field, value = (
                ("region", self.region)
                if self._country_known(module)
                else (
                    "country",
                    self.country,
                )
            )
            hint = f" ({exc})" if field == "region" else " (use an ISO 3166 code such as 'NL')"
            raise InvalidInput(field, f"unknown {field} {value!r}{hint}", value) from exc
        return module

    def _country_known(self, module: Any) -> bool:
        try:
            module.country_holidays(self.country)
        except NotImplementedError:
            return False
        return True

    @property
    def business_days_per_week(self) -> int:
        """How many weekdays are not weekend days."""
        return 7 - len(self.weekend)

    def _off(self, year: int) -> tuple[int, ...]:
        """Sorted ordinals of the weekdays off in ``year`` beyond the weekend."""
        got = self._years.get(year)
        if got is not None:
            return got
        days = {d for d in self.holidays if d.year == year}
        days.update(d for d in self.closing_days if d.year == year)
        if self._source is not None:
            days.update(self._source.country_holidays(self.country, subdiv=self.region, years=year))
        off = tuple(sorted(d.toordinal() for d in days if d.weekday() not in self.weekend))
        self._years[year] = off
        return off

    def _off_between(self, a: int, b: int) -> int:
        """Days off (beyond weekends) with ordinal in (a, b]."""
        if b <= a:
            return 0
        first, last = date.fromordinal(a + 1).year, date.fromordinal(b).year
        count = 0
        for year in range(first, last + 1):
            off = self._off(year)
            count += bisect_right(off, b) - bisect_right(off, a)
        return count

    def _weekdays_between(self, a: int, b: int) -> int:
        """Non-weekend days with ordinal in (a, b] (b >= a)."""
        weeks, rest = divmod(b - a, 7)
        return weeks * self.business_days_per_week + self._week[(a - 1) % 7][rest]

    def _add_weekdays(self, a: int, k: int) -> int:
        """The ordinal of the k-th non-weekend day after ordinal a (k >= 1)."""
        per_week = self.business_days_per_week
        weeks, rest = divmod(k, per_week)
        if rest == 0:
            weeks, rest = weeks - 1, per_week
        a += 7 * weeks
        row = self._week[(a - 1) % 7]
        return a + next(r for r in range(1, 8) if row[r] == rest)

    def is_business_day(self, day: date) -> bool:
        """Whether ``day`` (a date, or an aware datetime's own date) is a business day."""
        day = _as_date(day, "day")
        if day.weekday() in self.weekend:
            return False
        ordinal = day.toordinal()
        off = self._off(day.year)
        i = bisect_right(off, ordinal)
        return not (i and off[i - 1] == ordinal)

    def add_business_days(self, start: Any, n: int) -> Any:
        """The date (or datetime) ``n`` business days after ``start``.

        The result is the business day such that exactly ``n`` business days
        lie after ``start`` up to and including it: two business days after a
        Friday is Tuesday, after a Saturday also Tuesday. ``n == 0`` returns
        ``start`` unchanged (even on a day off: nothing to wait for).

        A datetime keeps its wall-clock time in its own zone; a time the
        clocks skip or repeat on the result's date follows the rule in
        :mod:`crm_procedures.procedures.timing` (forward over a gap, the first
        of two).

        Raises:
            InvalidInput: ``n`` is not a whole number from 0 to
                :data:`MAX_BUSINESS_DAYS`, ``start`` is not a date or aware
                datetime, or the result would fall after the year 9999.
        """
        if isinstance(n, bool) or not isinstance(n, int):
            raise InvalidInput("n", "must be a whole number of business days", n)
        if not 0 <= n <= MAX_BUSINESS_DAYS:
            raise InvalidInput("n", f"must be from 0 to {MAX_BUSINESS_DAYS} business days", n)
        if isinstance(start, datetime):
            moment = aware(start, "start")
            if n == 0:
                return moment
            day = self._add(moment.date(), n)
            try:
                return localise(day, moment.time(), moment.tzinfo)  # type: ignore[arg-type]
            except OverflowError as exc:
                raise out_of_range("n", n) from exc
        day = _as_date(start, "start")
        return day if n == 0 else self._add(day, n)

    def _add(self, day: date, n: int) -> date:
        a = day.toordinal()
        try:
            b = self._add_weekdays(a, n)
            extra = self._off_between(a, b)
            while extra:
                c = self._add_weekdays(b, extra)
                extra = self._off_between(b, c)
                b = c
            return date.fromordinal(b)
        except (ValueError, OverflowError) as exc:
            raise out_of_range("n", n) from exc

    def business_days_between(self, start: date, end: date) -> int:
        """How many business days lie after ``start`` up to and including ``end``.

        The inverse of :meth:`add_business_days`:
        ``business_days_between(d, add_business_days(d, n)) == n``. Negative
        when ``end`` is before ``start``.

        Raises:
            InvalidInput: not dates, or more than :data:`MAX_SPAN_DAYS` apart.
        """
        a, b = _as_date(start, "start").toordinal(), _as_date(end, "end").toordinal()
        if abs(b - a) > MAX_SPAN_DAYS:
            raise InvalidInput("end", f"is more than {MAX_SPAN_DAYS} days from start", end)
        if b < a:
            return -self.business_days_between(end, start)
        return self._weekdays_between(a, b) - self._off_between(a, b)

    def days_off(self, year: int) -> list[date]:
        """The weekdays off in ``year`` beyond the weekend (holidays and closing days)."""
        if isinstance(year, bool) or not isinstance(year, int) or not 1 <= year <= 9999:
            raise InvalidInput("year", "must be a year from 1 to 9999", year)
        return [date.fromordinal(o) for o in self._off(year)]


def _as_date(value: Any, field: str) -> date:
    if isinstance(value, datetime):
        return aware(value, field).date()
    if not isinstance(value, date):
        raise InvalidInput(field, "must be a date", value)
    return value


def plain_week() -> BusinessCalendar:
    """A calendar of Monday to Friday with no holidays (for rules that name none)."""
    return _PLAIN


_PLAIN = BusinessCalendar()

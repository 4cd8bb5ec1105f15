"""Send windows: the weekdays and hours in which automatic e-mails may go out.

A window is read on the wall clock of a zone (the contact's when known, else
the project's): an instant is inside ``Mon-Fri 09:00-17:00`` when the clocks
there show a listed weekday and a time from 09:00 up to (not including)
17:00. On a night the clocks change this stays exact: a window opening at
02:30 on the spring-forward night (when the clocks jump from 02:00 to 03:00)
opens at 03:00, the first instant the clocks show a time after 02:30; a
window from 02:00 to 03:00 does not open that night at all; on the fall-back
night both passes of the clock through the window count.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

import attrs

from crm_procedures.errors import InvalidInput
from crm_procedures.procedures.timing._local import aware, out_of_range, weekday_set, zone
from crm_procedures.procedures.timing.business_calendar import BusinessCalendar

__all__ = ["SEARCH_DAYS", "SendWindow", "next_opening"]

SEARCH_DAYS = 35
"""How far ahead :func:`next_opening` looks (a valid window opens within a week,
even one that a change of the clocks closes for a night)."""

_DAY = timedelta(days=1)
_HOUR = timedelta(hours=1)
_MIDNIGHT = time(0)


def _days(value: Any) -> frozenset[int]:
    return weekday_set(value, "days")


def _wall(field: str) -> Any:
    def check(_inst: Any, _attribute: Any, value: Any) -> None:
        if not isinstance(value, time):
            raise InvalidInput(field, "must be a time of day such as 09:00", value)
        if value.tzinfo is not None:
            raise InvalidInput(
                field, "must be a wall-clock time without a zone (the zone comes in)", value
            )

    return check


@attrs.frozen(slots=True)
class SendWindow:
    """Weekdays and hours in which automatic e-mails may go out.

    Attributes:
        days: the weekdays, 0 = Monday (names such as ``"mon"`` are accepted).
        opens: the wall-clock time the window opens each listed day.
        closes: the time it closes (not included); ``00:00`` means midnight at
            the end of the day. Windows across midnight are two windows' work:
            use ``00:00``-``06:00`` and ``22:00``-``00:00``.
        calendar: the name of a business calendar whose days off keep the
            window shut (``None``: only ``days`` count).

    Raises:
        InvalidInput: a window that never opens (no days, or ``closes`` not
            after ``opens``), or values of the wrong type.
    """

    days: frozenset[int] = attrs.field(converter=_days)
    opens: time = attrs.field(validator=_wall("opens"))
    closes: time = attrs.field(validator=_wall("closes"))
    calendar: str | None = None

    def __attrs_post_init__(self) -> None:
        if not self.days:
            raise InvalidInput("days", "no weekday is listed: the window would never open")
        if self.closes != _MIDNIGHT and self.closes <= self.opens:
            raise InvalidInput(
                "closes",
                f"{self.closes:%H:%M} is not after {self.opens:%H:%M}: the window would never "
                "open (for a window across midnight, use two windows)",
                self.closes,
            )
        if self.calendar is not None and (not isinstance(self.calendar, str) or not self.calendar):
            raise InvalidInput("calendar", "must be a calendar's name (or left out)", self.calendar)

    def _close_wall(self, day: date) -> datetime:
        if self.closes == _MIDNIGHT:
            return datetime.combine(day + _DAY, _MIDNIGHT)
        return datetime.combine(day, self.closes)

    def contains(
        self, instant: datetime, tz: tzinfo | str, calendar: BusinessCalendar | None = None
    ) -> bool:
        """Whether the clocks in ``tz`` show a time inside the window at ``instant``."""
        local = aware(instant, "instant").astimezone(zone(tz))
        cal = _calendar(self, calendar)
        return self._open_on(local.date(), cal) and (
            self.opens <= local.time() and (self.closes == _MIDNIGHT or local.time() < self.closes)
        )

    def _open_on(self, day: date, calendar: BusinessCalendar | None) -> bool:
        return day.weekday() in self.days and (calendar is None or calendar.is_business_day(day))


def _calendar(window: SendWindow, calendar: BusinessCalendar | None) -> BusinessCalendar | None:
    if calendar is not None and not isinstance(calendar, BusinessCalendar):
        raise InvalidInput("calendar", "must be a BusinessCalendar", calendar)
    if window.calendar is None:
        return calendar
    if calendar is None:
        raise InvalidInput(
            "calendar", f"the window keeps the days off of calendar {window.calendar!r}; pass it"
        )
    if calendar.key and calendar.key != window.calendar:
        raise InvalidInput(
            "calendar",
            f"the window names calendar {window.calendar!r}, but {calendar.key!r} was given",
        )
    return calendar


def next_opening(
    instant: datetime,
    window: SendWindow,
    tz: tzinfo | str,
    calendar: BusinessCalendar | None = None,
) -> datetime:
    """The first instant at or after ``instant`` inside ``window`` in zone ``tz``.

    ``instant`` itself when the window is open then. The result is in ``tz``.

    Raises:
        InvalidInput: a naive ``instant``, an unknown zone, a missing calendar
            the window names, or no opening within :data:`SEARCH_DAYS` days
            (or before the year 9999).
    """
    if not isinstance(window, SendWindow):
        raise InvalidInput("window", "must be a SendWindow", window)
    start = aware(instant, "instant")
    here = zone(tz)
    cal = _calendar(window, calendar)
    try:
        return _next_opening(start.astimezone(UTC), window, here, cal)
    except OverflowError as exc:
        raise out_of_range("instant", instant) from exc


def _offset(t: datetime, here: tzinfo) -> timedelta:
    off = t.astimezone(here).utcoffset()
    assert off is not None
    return off


def _next_opening(
    t: datetime, window: SendWindow, here: tzinfo, cal: BusinessCalendar | None
) -> datetime:
    horizon = t + timedelta(days=SEARCH_DAYS)
    # Walk spans of constant UTC offset: inside one, the wall clock is the UTC
    # time plus the offset, and the first opening is plain arithmetic.
    seg = t
    while seg < horizon:
        off = _offset(seg, here)
        found = _first_open(seg, off, window, cal, horizon)
        change = _first_change(seg, found or horizon, off, here)
        if change is None:
            if found is None:
                break
            return found.astimezone(here)
        seg = change
    raise InvalidInput(
        "window", f"does not open within {SEARCH_DAYS} days of {t.isoformat()} in {here}"
    )


def _first_open(
    seg: datetime,
    off: timedelta,
    window: SendWindow,
    cal: BusinessCalendar | None,
    horizon: datetime,
) -> datetime | None:
    """The first instant >= seg inside the window, were the offset ``off`` forever."""
    local = (seg + off).replace(tzinfo=None)
    day = local.date()
    last = (horizon + off).date()
    while day <= last:
        if window._open_on(day, cal):
            lo = max(datetime.combine(day, window.opens), local)
            if lo < window._close_wall(day):
                return (lo - off).replace(tzinfo=UTC)
        day += _DAY
    return None


def _first_change(seg: datetime, limit: datetime, off: timedelta, here: tzinfo) -> datetime | None:
    """The first instant in (seg, limit] whose offset is not ``off``, or None."""
    prev = seg
    while prev < limit:
        probe = min(prev + _HOUR, limit)
        if _offset(probe, here) != off:
            # Zones change offset at whole seconds: search them.
            lo = int(prev.timestamp())
            hi = int(probe.timestamp()) + (probe.microsecond > 0)
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if _offset(datetime.fromtimestamp(mid, UTC), here) != off:
                    hi = mid
                else:
                    lo = mid
            return max(datetime.fromtimestamp(hi, UTC), prev + timedelta(microseconds=1))
        prev = probe
    return None

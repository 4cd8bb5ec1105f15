"""Helpers shared by the timing modules: weekday names, zones, wall-clock localisation.

The one rule for a wall-clock time that a zone skips or repeats (used by due
dates and business days alike): the wall time is read with ``fold=0`` and
normalised through UTC. A time the clocks skip (02:30 on the spring-forward
night in Europe/Amsterdam) therefore moves forward by the length of the gap
(to 03:30); a time the clocks repeat (02:30 on the fall-back night) is its
first occurrence (summer time).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crm_procedures.errors import InvalidInput

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Weekday names as the definitions write them, in ``date.weekday()`` order."""


def weekday_set(value: Any, field: str) -> frozenset[int]:
    """Weekday numbers (0 = Monday) from names (``"mon"``) or numbers 0-6."""
    if isinstance(value, str) or not _iterable(value):
        raise InvalidInput(field, "must be a list of weekdays such as ['mon', 'tue']", value)
    out: set[int] = set()
    for item in value:
        if isinstance(item, bool):
            raise InvalidInput(field, f"{item!r} is not a weekday", item)
        if isinstance(item, int) and 0 <= item <= 6:
            out.add(item)
        elif isinstance(item, str) and item.lower() in WEEKDAYS:
            out.add(WEEKDAYS.index(item.lower()))
        else:
            raise InvalidInput(
                field, f"{item!r} is not a weekday (use {', '.join(WEEKDAYS)})", item
            )
    return frozenset(out)


def weekday_names(days: frozenset[int]) -> list[str]:
    """The names of ``days`` in week order (for dumping)."""
    return [WEEKDAYS[d] for d in sorted(days)]


def _iterable(value: Any) -> bool:
    try:
        iter(value)
    except TypeError:
        return False
    return True


def zone(value: Any, field: str = "tz") -> tzinfo:
    """A tzinfo from a tzinfo or an IANA zone name; InvalidInput for anything else."""
    if isinstance(value, tzinfo):
        return value
    if not isinstance(value, str):
        raise InvalidInput(field, "must be a time zone name such as 'Europe/Amsterdam'", value)
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise InvalidInput(field, f"unknown time zone {value!r}", value) from exc


def aware(value: Any, field: str) -> datetime:
    """``value`` if it is a timezone-aware datetime, else InvalidInput (never a guess)."""
    if not isinstance(value, datetime):
        raise InvalidInput(field, "must be a datetime", value)
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(
            field, "must be timezone-aware (naive datetimes are never guessed)", value
        )
    return value


def localise(day: date, wall: time, tz: tzinfo) -> datetime:
    """The instant at which the clocks in ``tz`` read ``wall`` on ``day`` (see the module rule)."""
    naive = datetime.combine(day, wall.replace(tzinfo=None, fold=0))
    return naive.replace(tzinfo=tz).astimezone(UTC).astimezone(tz)


def out_of_range(field: str, value: Any = None) -> InvalidInput:
    """The error for a computation that leaves the calendar Python can represent."""
    return InvalidInput(field, "the result falls outside the years 1 to 9999", value)

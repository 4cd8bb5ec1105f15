"""Appointments in an employee's agenda (W10, P5 "add to agenda").

Besides the record itself this module holds the calendar rules every
appointment obeys, whatever adapter writes or expands it:

* start, end and excluded dates lie between :data:`EARLIEST` and
  :data:`LATEST` (UTC), so every expansion, horizon and UTC conversion stays
  inside the years ``datetime`` and iCalendar can write;
* start and end are compared as instants (UTC), never by wall clock, so the
  second 02:30 of a fall-back night (``fold=1``) is later than the first;
* a recurrence rule holds only RFC 5545 rule parts with values in RFC 5545's
  ranges (:func:`check_recurrence`), and :func:`first_occurrence` finds
  its first occurrence at a bounded cost.
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs

from crm_procedures.errors import InvalidInput
from crm_procedures.ids import AppointmentId, ContactId, ProjectId, ProspectId, RelationId, UserId
from crm_procedures.model._checks import (
    email,
    non_empty,
    non_negative_int,
    one_line,
    require_aware,
    text,
    to_enum,
)

if TYPE_CHECKING:
    from dateutil.rrule import rrule as _RRule

__all__ = [
    "EARLIEST",
    "FIRST_OCCURRENCE_YEARS",
    "LATEST",
    "Appointment",
    "AppointmentStatus",
    "Attendee",
    "AttendeeReply",
    "CalendarChange",
    "ChangeAction",
    "PartStat",
    "ambiguous",
    "check_moment",
    "check_recurrence",
    "first_occurrence",
    "recurrence_rule",
    "to_utc",
]

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
"""The earliest instant an appointment (or one of its excluded dates) may use."""
LATEST = datetime(9900, 1, 1, tzinfo=UTC)
"""The instant every appointment must end before; leaves room for expansion horizons."""
FIRST_OCCURRENCE_YEARS = 10
"""A recurrence rule must have an occurrence within this many years of its start."""


def to_utc(value: datetime, field: str) -> datetime:
    """``value`` as a UTC instant; InvalidInput when it is not representable."""
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise InvalidInput(
            field, "lies outside the years a calendar can hold (1900-9899)", value
        ) from exc


def check_moment(value: Any, field: str) -> datetime:
    """Return ``value`` if it is an aware datetime within [EARLIEST, LATEST), else InvalidInput.

    Far dates are refused before any arithmetic (year 1 in Amsterdam or
    9999-12-31 22:00 in New York have no UTC year 1..9999 reading), so no
    ``OverflowError`` can escape later.
    """
    if not isinstance(value, datetime):
        raise InvalidInput(field, "must be a datetime", value)
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(
            field, "must be timezone-aware (naive datetimes are never guessed)", value
        )
    instant = to_utc(value, field)
    if not EARLIEST <= instant < LATEST:
        raise InvalidInput(
            field,
            f"must lie between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC); check the year",
            value,
        )
    return require_aware(value, field)


def ambiguous(value: datetime) -> bool:
    """True when ``value``'s wall time occurs twice in its zone (a fall-back night)."""
    return value.replace(fold=0).utcoffset() != value.replace(fold=1).utcoffset() and (
        value.replace(fold=0).astimezone(UTC).astimezone(value.tzinfo).replace(tzinfo=None)
        == value.replace(tzinfo=None, fold=0)
    )


# --- recurrence rules (RFC 5545 3.3.10) ------------------------------------------------

_FREQS = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
_SUB_DAILY = ("SECONDLY", "MINUTELY", "HOURLY")
_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_NUM = re.compile(r"^[+-]?\d{1,4}$")
_DAY = re.compile(r"^([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)$")
_PART = re.compile(r"^[A-Z]+=[A-Z0-9,+\-]+$")
_RANGES: dict[str, tuple[int, int, bool]] = {
    # part: (lowest, highest, negative values allowed)
    "BYSECOND": (0, 60, False),
    "BYMINUTE": (0, 59, False),
    "BYHOUR": (0, 23, False),
    "BYMONTHDAY": (1, 31, True),
    "BYYEARDAY": (1, 366, True),
    "BYWEEKNO": (1, 53, True),
    "BYMONTH": (1, 12, False),
    "BYSETPOS": (1, 366, True),
}
MAX_INTERVAL = 1_000
MAX_COUNT = 100_000


def _ints(part: str, value: str, rule: str) -> list[int]:
    low, high, signed = _RANGES[part]
    out = []
    for item in value.split(","):
        if not _NUM.match(item):
            raise InvalidInput("rrule", f"{part} takes whole numbers, not {item!r}", rule)
        n = int(item)
        if (
            not (low <= abs(n) <= high)
            or (n < 0 and not signed)
            or (item.startswith("-") and n == 0)
        ):
            sign = "-" if signed else ""
            bounds = f"{low}..{high}" + (f" or {sign}{max(low, 1)}..{sign}{high}" if signed else "")
            raise InvalidInput(
                "rrule", f"{part} values must be {bounds} (RFC 5545), not {item}", rule
            )
        out.append(n)
    return out


def check_recurrence(rule: str) -> str:
    """The normalised RRULE value (upper case, no ``RRULE:``) if RFC 5545 allows it.

    Refused with InvalidInput (field ``rrule``): anything but ``NAME=value``
    parts joined by ``;``, an unknown or repeated part, no FREQ, a FREQ more
    often than daily (appointments repeat daily, weekly, monthly or yearly),
    INTERVAL outside 1..1000, COUNT outside 1..100000, UNTIL that is not a
    UTC date-time, UNTIL with COUNT, values outside RFC 5545's ranges
    (BYSECOND 0..60, BYMINUTE 0..59, BYHOUR 0..23, BYMONTHDAY ±1..31,
    BYYEARDAY ±1..366, BYWEEKNO ±1..53, BYMONTH 1..12, BYSETPOS ±1..366,
    BYDAY ordinals ±1..53), and the combinations RFC 5545 forbids
    (BYWEEKNO outside YEARLY, BYYEARDAY with DAILY/WEEKLY/MONTHLY,
    BYMONTHDAY with WEEKLY, BYDAY ordinals outside MONTHLY/YEARLY, BYSETPOS
    without another BYxxx part).
    """
    if not isinstance(rule, str):
        raise InvalidInput("rrule", "must be text such as 'FREQ=WEEKLY;COUNT=4'", rule)
    value = rule.strip()
    if value.upper().startswith("RRULE:"):
        value = value[6:]
    value = value.upper()
    if len(value) > 500:
        raise InvalidInput("rrule", "is longer than 500 characters", rule[:40])
    parts: dict[str, str] = {}
    for piece in value.split(";"):
        if not _PART.match(piece):
            raise InvalidInput(
                "rrule", "is not an RFC 5545 rule such as 'FREQ=WEEKLY;COUNT=4'", rule
            )
        name, _, part_value = piece.partition("=")
        if name in parts:
            raise InvalidInput("rrule", f"names {name} twice", rule)
        parts[name] = part_value
    known = {"FREQ", "UNTIL", "COUNT", "INTERVAL", "BYDAY", "WKST", *_RANGES}
    unknown = set(parts) - known
    if unknown:
        raise InvalidInput("rrule", f"unknown rule part(s): {', '.join(sorted(unknown))}", rule)
    freq = parts.get("FREQ")
    if freq is None:
        raise InvalidInput("rrule", "needs FREQ (e.g. FREQ=WEEKLY)", rule)
    if freq in _SUB_DAILY:
        raise InvalidInput(
            "rrule", f"appointments repeat daily, weekly, monthly or yearly, not {freq}", rule
        )
    if freq not in _FREQS:
        raise InvalidInput(
            "rrule", f"FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY, not {freq}", rule
        )
    for name, (low, high) in {"INTERVAL": (1, MAX_INTERVAL), "COUNT": (1, MAX_COUNT)}.items():
        if name in parts:
            raw = parts[name]
            if not raw.isdigit() or len(raw) > 7 or not low <= int(raw) <= high:
                raise InvalidInput("rrule", f"{name} must be {low}..{high:,}, not {raw}", rule)
    until = parts.get("UNTIL")
    if until is not None:
        if not re.fullmatch(r"\d{8}T\d{6}Z", until):
            raise InvalidInput("rrule", "UNTIL must be a UTC time such as 20261231T230000Z", rule)
        try:
            datetime.strptime(until, "%Y%m%dT%H%M%SZ")
        except ValueError as exc:
            raise InvalidInput("rrule", f"UNTIL {until} is not a real date and time", rule) from exc
        if "COUNT" in parts:
            raise InvalidInput("rrule", "may have UNTIL or COUNT, not both", rule)
    for name in _RANGES:
        if name in parts:
            _ints(name, parts[name], rule)
    if "WKST" in parts and parts["WKST"] not in _DAYS:
        raise InvalidInput("rrule", f"WKST must be one of {', '.join(_DAYS)}", rule)
    for item in parts.get("BYDAY", "").split(",") if "BYDAY" in parts else ():
        m = _DAY.match(item)
        if not m:
            raise InvalidInput("rrule", f"BYDAY takes days such as MO or -1SU, not {item!r}", rule)
        if m.group(1) is not None:
            n = int(m.group(1))
            if not 1 <= abs(n) <= 53:
                raise InvalidInput("rrule", f"BYDAY ordinals must be ±1..53, not {item}", rule)
            if freq not in ("MONTHLY", "YEARLY") or (freq == "YEARLY" and "BYWEEKNO" in parts):
                raise InvalidInput(
                    "rrule",
                    f"a numbered BYDAY ({item}) needs FREQ=MONTHLY or YEARLY without BYWEEKNO",
                    rule,
                )
    if "BYWEEKNO" in parts and freq != "YEARLY":
        raise InvalidInput("rrule", "BYWEEKNO needs FREQ=YEARLY", rule)
    if "BYYEARDAY" in parts and freq in ("DAILY", "WEEKLY", "MONTHLY"):
        raise InvalidInput("rrule", "BYYEARDAY needs FREQ=YEARLY", rule)
    if "BYMONTHDAY" in parts and freq == "WEEKLY":
        raise InvalidInput("rrule", "BYMONTHDAY cannot be used with FREQ=WEEKLY", rule)
    if "BYSETPOS" in parts and not any(p.startswith("BY") and p != "BYSETPOS" for p in parts):
        raise InvalidInput("rrule", "BYSETPOS needs another BYxxx part", rule)
    return value


def recurrence_rule(value: str, start: datetime) -> _RRule:
    """The dateutil rule for a checked ``value`` starting at ``start``."""
    # dateutil loads on the first recurring appointment, not with the model.
    from dateutil.rrule import rrule as _RRule
    from dateutil.rrule import rrulestr

    try:
        rule = rrulestr(value, dtstart=start)
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidInput("rrule", f"is not a valid recurrence rule: {exc}", value) from exc
    if not isinstance(rule, _RRule):  # pragma: no cover - rrulestr gives a set only for sets
        raise InvalidInput("rrule", "must be a single rule", value)
    return rule


@functools.lru_cache(maxsize=1024)
def _first_offset(value: str, naive_start: datetime) -> timedelta | None:
    # The Gregorian calendar repeats every 400 years (146,097 days, a whole
    # number of weeks), so the rule has the same occurrences, shifted, from
    # the same date 400*k years later. Shifting the start close to the last
    # year datetime can hold makes dateutil's scan stop there: at most ~410
    # years instead of up to 8,000 for a rule that never matches.
    limit = 9999 - FIRST_OCCURRENCE_YEARS - 1
    shift = max(0, (limit - naive_start.year) // 400) * 400
    probe_start = naive_start.replace(year=naive_start.year + shift)
    rule = recurrence_rule(value, probe_start)
    try:
        found = rule.after(probe_start, inc=True)
    except (ValueError, OverflowError):  # pragma: no cover - dateutil stops at MAXYEAR
        found = None
    if found is None:
        return None
    return found - probe_start


def first_occurrence(value: str, start: datetime) -> datetime | None:
    """The first occurrence at or after ``start`` within FIRST_OCCURRENCE_YEARS, else None.

    Costs at most one scan of ~410 years of the rule's periods (a daily
    rule: well under a second), whatever the rule, and is cached. UNTIL and
    COUNT are ignored (a rule that ends is checked as if it did not).
    """
    value = check_recurrence(value)
    plain = ";".join(p for p in value.split(";") if not p.startswith(("UNTIL=", "COUNT=")))
    offset = _first_offset(plain, start.replace(tzinfo=None, fold=0))
    if offset is None or offset > timedelta(days=366 * FIRST_OCCURRENCE_YEARS):
        return None
    naive = start.replace(tzinfo=None, fold=0) + offset
    return naive.replace(tzinfo=start.tzinfo)


class AppointmentStatus(enum.StrEnum):
    """An appointment is confirmed until it is cancelled."""

    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"


def _to_appointment_status(value: Any) -> AppointmentStatus:
    return to_enum(AppointmentStatus, "status", value)


@attrs.frozen
class Attendee:
    """Someone invited to an appointment."""

    email: str = attrs.field(validator=email)
    name: str = attrs.field(default="", validator=one_line)
    required: bool = True


class PartStat(enum.StrEnum):
    """An attendee's participation status (iCalendar PARTSTAT, RFC 5545 3.2.12)."""

    NEEDS_ACTION = "needs-action"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    TENTATIVE = "tentative"


def _to_partstat(value: Any) -> PartStat:
    if isinstance(value, str) and not isinstance(value, enum.Enum):
        value = value.strip().lower().replace("_", "-")
    return to_enum(PartStat, "partstat", value)


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _an_email(_inst: Any, attribute: Any, value: Any) -> None:
    if value is None:
        raise InvalidInput("attendee", "needs an e-mail address", value)
    email(_inst, attribute, value)


@attrs.frozen
class AttendeeReply:
    """What one attendee answered, and to which version (SEQUENCE) of the appointment.

    ``attendee`` is the address, lower case. An attendee without a reply has
    not answered (:attr:`PartStat.NEEDS_ACTION`).
    """

    attendee: str = attrs.field(converter=_lower, validator=_an_email)
    partstat: PartStat = attrs.field(converter=_to_partstat)
    sequence: int = attrs.field(default=0, validator=non_negative_int)


def _attendees(value: Iterable[Attendee]) -> tuple[Attendee, ...]:
    return tuple(value)


def _replies(value: Iterable[AttendeeReply]) -> tuple[AttendeeReply, ...]:
    return tuple(value)


def _user_ids(value: Iterable[str]) -> tuple[UserId, ...]:
    if isinstance(value, str):
        raise InvalidInput("participants", "must be a list of user ids, not one text", value)
    out = []
    for v in value:
        if not isinstance(v, str) or not v.strip():
            raise InvalidInput("participants", "must hold user ids (non-empty text)", v)
        out.append(UserId(v))
    return tuple(out)


def _datetimes(value: Iterable[datetime]) -> tuple[datetime, ...]:
    return tuple(value)


def _moment(_inst: Any, attribute: Any, value: Any) -> None:
    check_moment(value, str(getattr(attribute, "name", attribute)))


@attrs.frozen
class Appointment:
    """A calendar entry between an employee and a contact.

    ``uid`` is the iCalendar UID, stable for the appointment's life; ``sequence``
    rises on every change that is sent out. ``rrule`` holds an RFC 5545
    recurrence rule (``FREQ=WEEKLY;COUNT=4``) and ``exdates`` the occurrences
    taken out of it. ``participants`` are the other employees named on a
    meeting (user ids besides ``employee``); ``replies`` what attendees
    answered (:meth:`partstat`). Raises
    :class:`~crm_procedures.errors.InvalidInput` for a naive datetime or an
    end that is not after the start.
    """

    id: AppointmentId = attrs.field(validator=non_empty)
    employee: UserId = attrs.field(validator=non_empty)
    start: datetime = attrs.field(validator=_moment)
    end: datetime = attrs.field(validator=_moment)
    title: str = attrs.field(validator=non_empty)
    uid: str = attrs.field(validator=non_empty)
    relation_id: RelationId | None = attrs.field(default=None, validator=one_line)
    contact_id: ContactId | None = attrs.field(default=None, validator=one_line)
    project_id: ProjectId | None = attrs.field(default=None, validator=one_line)
    prospect_id: ProspectId | None = attrs.field(default=None, validator=one_line)
    location: str = attrs.field(default="", validator=one_line)
    description: str = attrs.field(default="", validator=text)
    attendees: tuple[Attendee, ...] = attrs.field(default=(), converter=_attendees)
    organizer_email: str | None = attrs.field(default=None, validator=email)
    sequence: int = attrs.field(default=0, validator=non_negative_int)
    status: AppointmentStatus = attrs.field(
        default=AppointmentStatus.CONFIRMED, converter=_to_appointment_status
    )
    rrule: str | None = attrs.field(default=None, validator=one_line)
    exdates: tuple[datetime, ...] = attrs.field(default=(), converter=_datetimes)
    version: int = attrs.field(default=0, validator=non_negative_int)
    participants: tuple[UserId, ...] = attrs.field(default=(), converter=_user_ids)
    replies: tuple[AttendeeReply, ...] = attrs.field(default=(), converter=_replies)

    def __attrs_post_init__(self) -> None:
        # Instants, not wall clocks: 02:45 (fold=0) is before 02:30 (fold=1).
        if self.end.astimezone(UTC) <= self.start.astimezone(UTC):
            raise InvalidInput("end", "must lie after start", self.end)
        for i, ex in enumerate(self.exdates):
            check_moment(ex, f"exdates[{i}]")
        if self.rrule is not None:
            check_recurrence(self.rrule)
            if ambiguous(self.start) and self.start.fold == 1:
                raise InvalidInput(
                    "start",
                    "a recurring appointment cannot start in the repeated hour of a "
                    "daylight-saving change (RFC 5545 always reads it as the first one); "
                    "start it an hour earlier or later",
                    self.start,
                )

    @property
    def cancelled(self) -> bool:
        """True once cancelled."""
        return self.status is AppointmentStatus.CANCELLED

    def reply_of(self, attendee: str) -> AttendeeReply | None:
        """The stored answer of ``attendee`` (any case), or None."""
        wanted = attendee.lower()
        return next((r for r in self.replies if r.attendee == wanted), None)

    def partstat(self, attendee: str) -> PartStat:
        """What ``attendee`` answered; :attr:`PartStat.NEEDS_ACTION` until they do."""
        reply = self.reply_of(attendee)
        return PartStat.NEEDS_ACTION if reply is None else reply.partstat


class ChangeAction(enum.StrEnum):
    """What was done to an appointment in a calendar outside the library."""

    MOVED = "moved"
    CANCELLED = "cancelled"


def _to_change_action(value: Any) -> ChangeAction:
    return to_enum(ChangeAction, "action", value)


@attrs.frozen
class CalendarChange:
    """A change made in an employee's calendar (a client moved or removed the entry).

    ``employee`` is whose calendar it was found in; ``start``/``end`` the
    times the calendar now holds (``None`` for a cancellation, which is also
    what a deleted entry reads as). ``token`` identifies the calendar's
    version (an ETag), handed back to the adapter once the change is applied.
    """

    employee: UserId
    uid: str
    action: ChangeAction = attrs.field(converter=_to_change_action)
    start: datetime | None = None
    end: datetime | None = None
    token: str = ""

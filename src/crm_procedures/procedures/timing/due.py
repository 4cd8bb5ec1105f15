"""Due rules: when a step becomes due, and :func:`due_at` to compute the instant.

A :class:`DueRule` is definition data (``due = { after = "previous_step",
business_days = 2, calendar = "nl" }``). Like a step, it is built without
checks so that a loader can report every problem at once;
:func:`check_due_rule` lists what is wrong, and :func:`due_at` refuses a rule
that has problems.

Units:

- ``minutes`` and ``hours`` are elapsed time: 90 minutes after 01:30 on the
  spring-forward night is 04:00 local time, an hour and a half later.
- ``days`` and ``business_days`` keep the wall-clock time in the given zone:
  two days after Saturday 10:00 is Monday 10:00 whether or not the clocks
  changed on Sunday. A wall time the clocks skip on the result's date moves
  forward by the length of the gap (02:30 becomes 03:30); a wall time they
  repeat is its first occurrence.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import attrs

from crm_procedures.errors import Finding, InvalidInput
from crm_procedures.procedures.timing._local import aware, localise, out_of_range, zone
from crm_procedures.procedures.timing.business_calendar import (
    MAX_BUSINESS_DAYS,
    BusinessCalendar,
    plain_week,
)

__all__ = [
    "MAX_DUE_DAYS",
    "MAX_DUE_UNITS",
    "Anchor",
    "DueRule",
    "DueUnit",
    "check_due_rule",
    "due_at",
]


class Anchor(enum.StrEnum):
    """What a due rule counts from. :func:`due_at` takes the anchor's instant; the
    caller picks it: the previous step's time, the enrolment time, or one fixed
    instant for every prospect of a campaign (its start)."""

    PREVIOUS_STEP = "previous_step"
    ENROLMENT = "enrolment"
    FIXED = "fixed"


class DueUnit(enum.StrEnum):
    """The unit of a due rule's amount."""

    MINUTES = "minutes"
    HOURS = "hours"
    DAYS = "days"
    BUSINESS_DAYS = "business_days"


MAX_DUE_DAYS = 3_660
"""The longest wait a due rule may name: about ten years."""

MAX_DUE_UNITS: dict[DueUnit, int] = {
    DueUnit.MINUTES: MAX_DUE_DAYS * 24 * 60,
    DueUnit.HOURS: MAX_DUE_DAYS * 24,
    DueUnit.DAYS: MAX_DUE_DAYS,
    DueUnit.BUSINESS_DAYS: MAX_BUSINESS_DAYS,
}
"""The largest amount per unit (ten years); a larger one is an ``invalid-due-rule``."""


def _member(kind: type[enum.StrEnum], field: str, value: Any) -> Any:
    if isinstance(value, kind):
        return value
    if isinstance(value, str) and value in kind._value2member_map_:
        return kind(value)
    allowed = ", ".join(repr(m.value) for m in kind)
    raise InvalidInput(field, f"{value!r} is not one of {allowed}", value)


def _unit(value: Any) -> DueUnit:
    return _member(DueUnit, "unit", value)  # type: ignore[no-any-return]


def _anchor(value: Any) -> Anchor:
    return _member(Anchor, "after", value)  # type: ignore[no-any-return]


@attrs.frozen(slots=True)
class DueRule:
    """When a step becomes due: ``amount`` ``unit`` after the ``after`` anchor.

    Attributes:
        amount: how many units (checked by :func:`check_due_rule`, not here).
        unit: minutes, hours, days or business days.
        after: what the wait counts from (see :class:`Anchor`).
        calendar: the name of the business calendar for ``business_days``;
            ``None`` means Monday to Friday without holidays.

    Raises:
        InvalidInput: ``unit`` or ``after`` is not one of the known values.
    """

    amount: int
    unit: DueUnit = attrs.field(default=DueUnit.DAYS, converter=_unit)
    after: Anchor = attrs.field(default=Anchor.PREVIOUS_STEP, converter=_anchor)
    calendar: str | None = None


def check_due_rule(rule: DueRule, where: str = "due") -> list[Finding]:
    """What is wrong with ``rule`` (code ``invalid-due-rule``), empty when nothing is."""
    out: list[Finding] = []
    amount = rule.amount
    field = f"{where}.{rule.unit.value}"
    if isinstance(amount, bool) or not isinstance(amount, int):
        out.append(
            Finding("invalid-due-rule", f"the amount must be a whole number, got {amount!r}", field)
        )
    elif amount < 0:
        out.append(
            Finding("invalid-due-rule", f"the amount must not be negative, got {amount}", field)
        )
    elif amount > MAX_DUE_UNITS[rule.unit]:
        out.append(
            Finding(
                "invalid-due-rule",
                f"{amount} {rule.unit.value} is more than ten years; the most is "
                f"{MAX_DUE_UNITS[rule.unit]}",
                field,
            )
        )
    if rule.calendar is not None and (not isinstance(rule.calendar, str) or not rule.calendar):
        out.append(
            Finding(
                "invalid-due-rule", "the calendar must be a calendar's name", f"{where}.calendar"
            )
        )
    if rule.calendar is not None and rule.unit is not DueUnit.BUSINESS_DAYS:
        out.append(
            Finding(
                "invalid-due-rule",
                f"a calendar only counts for business_days, not for {rule.unit.value}",
                f"{where}.calendar",
                "warning",
            )
        )
    return out


def due_at(
    rule: DueRule,
    anchor_time: datetime,
    calendar: BusinessCalendar | None = None,
    tz: tzinfo | str | None = None,
) -> datetime:
    """The instant a step with ``rule`` becomes due, counted from ``anchor_time``.

    Args:
        rule: the step's due rule.
        anchor_time: the anchor's instant (an aware datetime).
        calendar: the business calendar the rule names (required when it names
            one; ``None`` with no name means Monday to Friday without holidays).
        tz: the zone whose wall clock ``days`` and ``business_days`` keep
            (the contact's or the project's); default: ``anchor_time``'s zone.

    Returns:
        An aware datetime in ``tz``.

    Raises:
        InvalidInput: a rule with problems (see :func:`check_due_rule`), a naive
            ``anchor_time``, an unknown zone, a missing or mismatched calendar,
            or a result after the year 9999.
    """
    problems = [f for f in check_due_rule(rule) if f.severity == "error"]
    if problems:
        raise InvalidInput(problems[0].location, problems[0].message, rule.amount)
    anchor = aware(anchor_time, "anchor_time")
    here = anchor.tzinfo if tz is None else zone(tz)
    assert here is not None
    n = rule.amount
    try:
        if rule.unit is DueUnit.MINUTES:
            return (anchor.astimezone(UTC) + timedelta(minutes=n)).astimezone(here)
        if rule.unit is DueUnit.HOURS:
            return (anchor.astimezone(UTC) + timedelta(hours=n)).astimezone(here)
        local = anchor.astimezone(here)
        if rule.unit is DueUnit.DAYS:
            return localise(local.date() + timedelta(days=n), local.time(), here)
    except OverflowError as exc:
        raise out_of_range("anchor_time", anchor_time) from exc
    return _resolve(rule, calendar).add_business_days(local, n)  # type: ignore[no-any-return]


def _resolve(rule: DueRule, calendar: BusinessCalendar | None) -> BusinessCalendar:
    if calendar is not None and not isinstance(calendar, BusinessCalendar):
        raise InvalidInput("calendar", "must be a BusinessCalendar", calendar)
    if rule.calendar is None:
        return calendar or plain_week()
    if calendar is None:
        raise InvalidInput(
            "calendar", f"the rule counts business days of calendar {rule.calendar!r}; pass it"
        )
    if calendar.key and calendar.key != rule.calendar:
        raise InvalidInput(
            "calendar",
            f"the rule names calendar {rule.calendar!r}, but calendar {calendar.key!r} was given",
        )
    return calendar

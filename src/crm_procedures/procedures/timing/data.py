"""Time rules as plain data (TOML, JSON, dicts): load, dump and validate.

The shapes (TOML; JSON has the same)::

    time_zone = "Europe/Amsterdam"          # the project's zone

    [calendars.nl]
    country = "NL"                          # public holidays (the optional holidays package)
    region = "..."                          # optional subdivision code
    weekend = ["sat", "sun"]                # the default
    holidays = ["2026-12-25"]               # listed by hand (all of them without the package)
    closing_days = ["2026-12-24"]           # the installation's own

    [steps.send_info]
    due = { after = "previous_step", business_days = 2, calendar = "nl" }
    send_window = { days = ["mon", "tue", "wed", "thu", "fri"], from = "09:00", to = "17:00" }

A due table names exactly one unit (``minutes``, ``hours``, ``days`` or
``business_days``) and optionally ``after`` (``previous_step``, the default,
``enrolment`` or ``fixed``) and ``calendar``. A send window's ``to`` may be
``"24:00"`` (midnight at the end of the day); ``calendar`` keeps it shut on
that calendar's days off.

Every loader reports all problems at once as a
:class:`~crm_procedures.errors.DefinitionError` whose findings name the field
(``steps.send_info.due.business_days``). :func:`validate_timing` returns the
same findings without raising, plus those that need the whole picture (a rule
naming a calendar that is not defined). Stable codes:

=========================== ===================================================
code                        meaning
=========================== ===================================================
wrong-type [error]          a value of the wrong type (text for a number, ...)
unknown-key [error]         a key the table does not have
invalid-due-rule [error]    no unit or two, a negative amount or one above ten
                            years, an unknown ``after``
unknown-calendar [error]    a calendar name that is not defined, an unknown
                            country or region, or a country whose holidays
                            need the ``holidays`` package and lists none
invalid-calendar [error]    a weekend of all seven days, a bad weekday or date
unknown-time-zone [error]   a zone name the zone database does not know
send-window-never-opens     no weekday, ``to`` not after ``from``, or only
[error]                     days its calendar has off every week
invalid-send-window [error] a bad weekday name or time of day
=========================== ===================================================
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime, time
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crm_procedures.errors import DefinitionError, Finding, InvalidInput
from crm_procedures.procedures.timing._local import WEEKDAYS, weekday_names
from crm_procedures.procedures.timing.business_calendar import BusinessCalendar
from crm_procedures.procedures.timing.due import Anchor, DueRule, DueUnit, check_due_rule
from crm_procedures.procedures.timing.send_window import SendWindow

__all__ = [
    "dump_calendar",
    "dump_calendars",
    "dump_due_rule",
    "dump_send_window",
    "load_calendar",
    "load_calendars",
    "load_due_rule",
    "load_send_window",
    "validate_timing",
]

T = TypeVar("T")

_CALENDAR = ("country", "region", "weekend", "holidays", "closing_days")
_DUE = ("after", *(u.value for u in DueUnit), "calendar")
_WINDOW = ("days", "from", "to", "calendar")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"(\d{2}):(\d{2})(?::(\d{2}))?")


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a decimal number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, (list, tuple)):
        return "a list"
    return type(value).__name__


class _Reader:
    def __init__(self, out: list[Finding]) -> None:
        self.out = out

    def problem(self, code: str, where: str, message: str) -> None:
        self.out.append(Finding(code, message, where))

    def table(self, value: Any, where: str, allowed: tuple[str, ...]) -> Mapping[str, Any] | None:
        if not isinstance(value, Mapping):
            self.problem("wrong-type", where, f"expected a table, got {_type_name(value)}")
            return None
        for key in value:
            if not isinstance(key, str) or key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                self.problem(
                    "unknown-key",
                    f"{where}.{key}",
                    f"unknown key {key!r} (allowed: {', '.join(allowed)}){hint}",
                )
        return value

    def text(self, table: Mapping[str, Any], key: str, where: str) -> str | None:
        value = table.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            self.problem("wrong-type", f"{where}.{key}", f"expected text, got {_type_name(value)}")
            return None
        return value

    def guard(self, code: str, build: Callable[[], T], where: str) -> T | None:
        """Build an object; its InvalidInput becomes a finding at ``where.field``."""
        try:
            return build()
        except InvalidInput as exc:
            self.problem(code, f"{where}.{exc.field}" if exc.field else where, exc.reason)
            return None


def _raise(findings: list[Finding]) -> None:
    errors = [f for f in findings if f.severity == "error"]
    if errors:
        raise DefinitionError(errors)


# ---------------------------------------------------------------- calendars


def _dates(r: _Reader, value: Any, where: str) -> list[date] | None:
    if not isinstance(value, (list, tuple)):
        r.problem("wrong-type", where, f"expected a list of dates, got {_type_name(value)}")
        return None
    out: list[date] = []
    for i, item in enumerate(value):
        if isinstance(item, date) and not isinstance(item, datetime):
            out.append(item)
            continue
        if isinstance(item, str) and _DATE.fullmatch(item):
            try:
                out.append(date.fromisoformat(item))
                continue
            except ValueError:
                pass
        r.problem("invalid-calendar", f"{where}[{i}]", f"{item!r} is not a date like 2026-12-24")
    return out if len(out) == len(value) else None


def _read_calendar(value: Any, key: str, where: str, out: list[Finding]) -> BusinessCalendar | None:
    if isinstance(value, BusinessCalendar):
        return value
    r = _Reader(out)
    table = r.table(value, where, _CALENDAR)
    if table is None:
        return None
    before = len(out)
    country, region = r.text(table, "country", where), r.text(table, "region", where)
    weekend = table.get("weekend", ["sat", "sun"])
    holidays = _dates(r, table.get("holidays", []), f"{where}.holidays")
    closing = _dates(r, table.get("closing_days", []), f"{where}.closing_days")
    if holidays is None or closing is None or len(out) > before:
        return None

    def build() -> BusinessCalendar:
        return BusinessCalendar(
            key, country, region, weekend, frozenset(holidays), frozenset(closing)
        )

    try:
        return build()
    except InvalidInput as exc:
        code = "unknown-calendar" if exc.field in ("country", "region") else "invalid-calendar"
        r.problem(code, f"{where}.{exc.field}", exc.reason)
        return None


def load_calendar(data: Mapping[str, Any], key: str = "", where: str = "") -> BusinessCalendar:
    """A :class:`BusinessCalendar` from a table such as ``{country = "NL"}``.

    Raises:
        DefinitionError: every problem, each located at ``where.field``.
    """
    out: list[Finding] = []
    cal = _read_calendar(data, key, where or (f"calendars.{key}" if key else "calendar"), out)
    _raise(out)
    assert cal is not None
    return cal


def load_calendars(
    data: Mapping[str, Any], where: str = "calendars"
) -> dict[str, BusinessCalendar]:
    """The ``[calendars]`` table: name -> :class:`BusinessCalendar`.

    Raises:
        DefinitionError: every problem in every calendar.
    """
    out: list[Finding] = []
    cals = _read_calendars(data, where, out)
    _raise(out)
    return cals


def _read_calendars(data: Any, where: str, out: list[Finding]) -> dict[str, BusinessCalendar]:
    if not isinstance(data, Mapping):
        out.append(Finding("wrong-type", f"expected a table, got {_type_name(data)}", where))
        return {}
    cals: dict[str, BusinessCalendar] = {}
    for name, table in data.items():
        if not isinstance(name, str) or not name:
            out.append(Finding("wrong-type", f"calendar name {name!r} is not text", where))
            continue
        cal = _read_calendar(table, name, f"{where}.{name}", out)
        if cal is not None:
            cals[name] = cal
    return cals


def dump_calendar(calendar: BusinessCalendar) -> dict[str, Any]:
    """A calendar as plain data that :func:`load_calendar` reads back equal."""
    if not isinstance(calendar, BusinessCalendar):
        raise InvalidInput("calendar", "must be a BusinessCalendar", calendar)
    out: dict[str, Any] = {}
    if calendar.country is not None:
        out["country"] = calendar.country
    if calendar.region is not None:
        out["region"] = calendar.region
    out["weekend"] = weekday_names(calendar.weekend)
    if calendar.holidays:
        out["holidays"] = [d.isoformat() for d in sorted(calendar.holidays)]
    if calendar.closing_days:
        out["closing_days"] = [d.isoformat() for d in sorted(calendar.closing_days)]
    return out


def dump_calendars(calendars: Mapping[str, BusinessCalendar]) -> dict[str, dict[str, Any]]:
    """The ``[calendars]`` table as plain data."""
    if not isinstance(calendars, Mapping):
        raise InvalidInput("calendars", "must map names to BusinessCalendars", calendars)
    out: dict[str, dict[str, Any]] = {}
    for name, cal in calendars.items():
        if not isinstance(name, str) or not name:
            raise InvalidInput("calendars", "names must be non-empty text", name)
        if not isinstance(cal, BusinessCalendar):
            raise InvalidInput(f"calendars[{name!r}]", "must be a BusinessCalendar", cal)
        out[name] = dump_calendar(cal)
    return dict(sorted(out.items()))


# ---------------------------------------------------------------- due rules


def _read_due(value: Any, where: str, out: list[Finding]) -> DueRule | None:
    if isinstance(value, DueRule):
        out.extend(check_due_rule(value, where))
        return value
    r = _Reader(out)
    table = r.table(value, where, _DUE)
    if table is None:
        return None
    units = [u for u in DueUnit if u.value in table]
    if len(units) != 1:
        names = ", ".join(u.value for u in DueUnit)
        got = " and ".join(u.value for u in units)
        r.problem(
            "invalid-due-rule",
            where,
            f"name exactly one of {names}" + (f" (got {got})" if units else ""),
        )
        return None
    unit = units[0]
    amount = table[unit.value]
    if isinstance(amount, bool) or not isinstance(amount, int):
        r.problem(
            "wrong-type",
            f"{where}.{unit.value}",
            f"expected a whole number, got {_type_name(amount)}",
        )
        return None
    after = table.get("after", Anchor.PREVIOUS_STEP.value)
    if not isinstance(after, str) or after not in Anchor._value2member_map_:
        allowed = ", ".join(a.value for a in Anchor)
        r.problem("invalid-due-rule", f"{where}.after", f"{after!r} is not one of {allowed}")
        return None
    calendar = r.text(table, "calendar", where)
    if "calendar" in table and calendar is None:
        return None
    rule = DueRule(amount, unit, Anchor(after), calendar)
    out.extend(check_due_rule(rule, where))
    return rule


def load_due_rule(data: Mapping[str, Any], where: str = "due") -> DueRule:
    """A :class:`DueRule` from ``{after = "previous_step", business_days = 2, calendar = "nl"}``.

    Raises:
        DefinitionError: every problem (``invalid-due-rule`` and structure), located.
    """
    out: list[Finding] = []
    rule = _read_due(data, where, out)
    _raise(out)
    assert rule is not None
    return rule


def dump_due_rule(rule: DueRule) -> dict[str, Any]:
    """A due rule as plain data that :func:`load_due_rule` reads back equal."""
    out: dict[str, Any] = {"after": rule.after.value, rule.unit.value: rule.amount}
    if rule.calendar is not None:
        out["calendar"] = rule.calendar
    return out


# ---------------------------------------------------------------- send windows


def _time(r: _Reader, value: Any, where: str, *, closing: bool) -> time | None:
    if isinstance(value, time):
        if value.tzinfo is None:
            return value
    elif isinstance(value, str):
        if closing and value in ("24:00", "24:00:00"):
            return time(0)
        m = _TIME.fullmatch(value)
        if m:
            h, mi, s = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
            if h < 24 and mi < 60 and s < 60:
                return time(h, mi, s)
    end = " or 24:00" if closing else ""
    r.problem("invalid-send-window", where, f"{value!r} is not a time of day like 09:00{end}")
    return None


def _read_window(value: Any, where: str, out: list[Finding]) -> SendWindow | None:
    if isinstance(value, SendWindow):
        return value
    r = _Reader(out)
    table = r.table(value, where, _WINDOW)
    if table is None:
        return None
    before = len(out)
    for key in ("days", "from", "to"):
        if key not in table:
            r.problem("missing-key", f"{where}.{key}", f"required key {key!r} is missing")
    if len(out) > before:
        return None
    days = table["days"]
    if isinstance(days, (list, tuple)):
        for i, item in enumerate(days):
            if not isinstance(item, str) or item not in WEEKDAYS:
                r.problem(
                    "invalid-send-window",
                    f"{where}.days[{i}]",
                    f"{item!r} is not a weekday (use {', '.join(WEEKDAYS)})",
                )
    else:
        r.problem(
            "wrong-type", f"{where}.days", f"expected a list of weekdays, got {_type_name(days)}"
        )
    opens = _time(r, table["from"], f"{where}.from", closing=False)
    closes = _time(r, table["to"], f"{where}.to", closing=True)
    calendar = r.text(table, "calendar", where)
    if len(out) > before or opens is None or closes is None:
        return None
    if not days:
        r.problem("send-window-never-opens", f"{where}.days", "no weekday is listed")
        return None
    if closes != time(0) and closes <= opens:
        r.problem(
            "send-window-never-opens",
            f"{where}.to",
            f"{closes:%H:%M} is not after {opens:%H:%M} (for a window across midnight, "
            "use two windows: until 24:00 and from 00:00)",
        )
        return None
    return r.guard(
        "invalid-send-window", lambda: SendWindow(frozenset(days), opens, closes, calendar), where
    )


def load_send_window(data: Mapping[str, Any], where: str = "send_window") -> SendWindow:
    """A :class:`SendWindow` from ``{days = ["mon", ...], from = "09:00", to = "17:00"}``.

    Raises:
        DefinitionError: every problem (``send-window-never-opens`` and others), located.
    """
    out: list[Finding] = []
    window = _read_window(data, where, out)
    _raise(out)
    assert window is not None
    return window


def dump_send_window(window: SendWindow) -> dict[str, Any]:
    """A send window as plain data that :func:`load_send_window` reads back equal."""
    if not isinstance(window, SendWindow):
        raise InvalidInput("window", "must be a SendWindow", window)
    fmt = "%H:%M:%S" if window.opens.second or window.closes.second else "%H:%M"
    out: dict[str, Any] = {
        "days": weekday_names(window.days),
        "from": window.opens.strftime(fmt),
        "to": "24:00" if window.closes == time(0) else window.closes.strftime(fmt),
    }
    if window.calendar is not None:
        out["calendar"] = window.calendar
    return out


# ---------------------------------------------------------------- validation


def validate_timing(
    *,
    calendars: Mapping[str, Any] | None = None,
    due: Mapping[str, Any] | None = None,
    send_windows: Mapping[str, Any] | None = None,
    time_zones: Mapping[str, Any] | None = None,
) -> list[Finding]:
    """Every problem in a definition's time rules, as findings (empty when all is well).

    Each argument maps a location to plain data or to the built object:
    ``calendars`` maps calendar names (located at ``calendars.<name>``) to
    tables or :class:`BusinessCalendar`; ``due`` and ``send_windows`` map
    locations (``steps.send_info.due``) to tables, :class:`DueRule` or
    :class:`SendWindow`; ``time_zones`` maps locations (``time_zone``) to zone
    names. Never raises for a problem in the data; see the module's table of codes.
    """
    out: list[Finding] = []
    cals: dict[str, BusinessCalendar] = {}
    names: set[str] = set()
    if calendars is not None:
        if isinstance(calendars, Mapping):
            names = {k for k in calendars if isinstance(k, str)}
        cals = _read_calendars(calendars, "calendars", out)
    for where, value in (due or {}).items():
        rule = _read_due(value, where, out)
        if rule is not None and rule.calendar is not None and rule.calendar not in names:
            out.append(_unknown_calendar(rule.calendar, names, f"{where}.calendar"))
    for where, value in (send_windows or {}).items():
        window = _read_window(value, where, out)
        if window is None or window.calendar is None:
            continue
        if window.calendar not in names:
            out.append(_unknown_calendar(window.calendar, names, f"{where}.calendar"))
        elif window.calendar in cals and window.days <= cals[window.calendar].weekend:
            out.append(
                Finding(
                    "send-window-never-opens",
                    f"its days are all weekend days of calendar {window.calendar!r}",
                    f"{where}.days",
                )
            )
    for where, name in (time_zones or {}).items():
        if not _known_zone(name):
            out.append(
                Finding(
                    "unknown-time-zone",
                    f"{name!r} is not a time zone name such as 'Europe/Amsterdam'",
                    where,
                )
            )
    return out


def _unknown_calendar(name: str, names: set[str], where: str) -> Finding:
    close = difflib.get_close_matches(name, sorted(names), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    known = ", ".join(sorted(names)) or "none"
    return Finding(
        "unknown-calendar", f"calendar {name!r} is not defined (defined: {known}){hint}", where
    )


def _known_zone(name: Any) -> bool:
    if not isinstance(name, str):
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True

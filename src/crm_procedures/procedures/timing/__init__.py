"""Time in procedures, the pure core: business calendars, due rules, send windows (T1, T2).

Nothing here reads a clock or does I/O: instants come in, instants go out.

- :class:`BusinessCalendar`: weekends, public holidays of a country and
  region (the optional ``holidays`` package) or listed by hand, and the
  installation's closing days; :meth:`~BusinessCalendar.add_business_days`
  and :meth:`~BusinessCalendar.business_days_between`.
- :class:`DueRule` and :func:`due_at`: when a step becomes due.
- :class:`SendWindow` and :func:`next_opening`: when an automatic e-mail may go out.
- :mod:`~crm_procedures.procedures.timing.data`: the same as plain data, and
  :func:`validate_timing` with stable finding codes.

Wall-clock rule: where a wall-clock time is turned into an instant (``days``
and ``business_days`` due rules), a time the clocks skip moves forward by the
length of the gap (02:30 on the spring-forward night becomes 03:30) and a time
they repeat is its first occurrence. Send windows are read on the wall clock
itself (see :mod:`~crm_procedures.procedures.timing.send_window`).
"""

from crm_procedures.procedures.timing._local import WEEKDAYS
from crm_procedures.procedures.timing.business_calendar import (
    MAX_BUSINESS_DAYS,
    MAX_SPAN_DAYS,
    BusinessCalendar,
    holidays_available,
)
from crm_procedures.procedures.timing.data import (
    dump_calendar,
    dump_calendars,
    dump_due_rule,
    dump_send_window,
    load_calendar,
    load_calendars,
    load_due_rule,
    load_send_window,
    validate_timing,
)
from crm_procedures.procedures.timing.due import (
    MAX_DUE_DAYS,
    MAX_DUE_UNITS,
    Anchor,
    DueRule,
    DueUnit,
    check_due_rule,
    due_at,
)
from crm_procedures.procedures.timing.send_window import SEARCH_DAYS, SendWindow, next_opening

__all__ = [
    "MAX_BUSINESS_DAYS",
    "MAX_DUE_DAYS",
    "MAX_DUE_UNITS",
    "MAX_SPAN_DAYS",
    "SEARCH_DAYS",
    "WEEKDAYS",
    "Anchor",
    "BusinessCalendar",
    "DueRule",
    "DueUnit",
    "SendWindow",
    "check_due_rule",
    "due_at",
    "dump_calendar",
    "dump_calendars",
    "dump_due_rule",
    "dump_send_window",
    "holidays_available",
    "load_calendar",
    "load_calendars",
    "load_due_rule",
    "load_send_window",
    "next_opening",
    "validate_timing",
]

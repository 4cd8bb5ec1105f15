"""The results of the reports (P1): plain, immutable data.

Stores compute these (see :class:`crm_procedures.ports.ReportQueries`); the
report services in :mod:`crm_procedures.services.reports` check access and
hand them out; :func:`crm_procedures.services.reports.render_table` and
``to_csv`` turn them into text. Counts are whole numbers; ratios are derived
properties, so two stores that count alike produce equal results.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from fractions import Fraction
from typing import Any

import attrs

from crm_procedures.errors import InvalidInput
from crm_procedures.model._mappings import count_map

__all__ = [
    "ACQUISITION_GROUPS",
    "AcquisitionRow",
    "EmployeeRow",
    "Funnel",
    "FunnelRow",
    "TimelineItem",
    "ratio",
]

ACQUISITION_GROUPS: tuple[str, ...] = ("industry_code", "region", "source")
"""The relation fields the acquisition report can group by."""


def _counts(field: str, value: Any) -> Mapping[str, int]:
    return dict(sorted(count_map(field, value).items()))


def _steps(value: Any) -> Mapping[str, int]:
    return _counts("steps", value)


def _closed(value: Any) -> Mapping[str, int]:
    return _counts("closed", value)


def _outcomes(value: Any) -> Mapping[str, int]:
    return _counts("outcomes", value)


def ratio(part: int, whole: int) -> float | None:
    """``part / whole`` rounded to 4 places, or ``None`` when ``whole`` is 0.

    Raises:
        InvalidInput: the ratio is too large for a float.
    """
    if not whole:
        return None
    try:
        return round(part / whole, 4)
    except OverflowError:
        # Counts too large for a float divide exactly; only a ratio past
        # the float range cannot be given.
        try:
            return round(float(Fraction(part, whole)), 4)
        except OverflowError:
            raise InvalidInput("part", "is too large for a ratio", part) from None


@attrs.frozen
class FunnelRow:
    """One line of a funnel: a stage label key, its argument, and its count.

    ``stage`` is a ``report.funnel.*`` label key; ``argument`` fills its
    placeholder (the step or the close reason), empty when it has none.
    """

    stage: str
    argument: str
    count: int
    share: float | None


@attrs.frozen
class Funnel:
    """How far the relations of one project got (P1: negotiation progress).

    Attributes:
        project_id: the project.
        total: relations in the project (prospects the viewer may see).
        suspects: of those, still suspects (stage suspect): not yet
            approached, or closed by their first contact (W9).
        prospects: approached and not closed by the first contact (stage
            prospect or customer); with a period,
            only those that became a prospect inside it.
        steps: per step, the prospects that reached it (a step entry not
            superseded by a correction; inside the period when one is given).
        closed: per close reason, the prospects now closed (closed inside the
            period when one is given); ``""`` is "no reason recorded".
        won: prospects that became customers (inside the period when given).
        since: the period's start (inclusive), or ``None``.
        until: the period's end (exclusive), or ``None``.
    """

    project_id: str
    total: int
    suspects: int
    prospects: int
    steps: Mapping[str, int] = attrs.field(factory=dict, converter=_steps)
    closed: Mapping[str, int] = attrs.field(factory=dict, converter=_closed)
    won: int = 0
    since: datetime | None = None
    until: datetime | None = None

    def rows(self) -> list[FunnelRow]:
        """The funnel as table rows: total, suspects, prospects, steps, closed, won.

        Steps are listed most reached first (then by name), so the table reads
        from the top of the funnel down.
        """
        t = self.total
        out = [
            FunnelRow("report.funnel.total", "", t, ratio(t, t)),
            FunnelRow("report.funnel.suspects", "", self.suspects, ratio(self.suspects, t)),
            FunnelRow("report.funnel.prospects", "", self.prospects, ratio(self.prospects, t)),
        ]
        for step, n in sorted(self.steps.items(), key=lambda kv: (-kv[1], kv[0])):
            out.append(FunnelRow("report.funnel.step", step, n, ratio(n, t)))
        for reason, n in self.closed.items():
            out.append(FunnelRow("report.funnel.closed", reason, n, ratio(n, t)))
        out.append(FunnelRow("report.funnel.won", "", self.won, ratio(self.won, t)))
        return out


@attrs.frozen
class EmployeeRow:
    """The effectiveness of one employee (P1).

    Attributes:
        employee: the user id.
        activities: activities recorded (every kind).
        contacts: contact activities ("contacts made").
        meetings: meeting activities.
        tasks: task activities.
        completed: activities completed.
        outcomes: activities per recorded outcome (activities without an
            outcome are not listed).
        relations_contacted: distinct relations of the employee's contacts.
        appointments_booked: confirmed appointments in the employee's agenda.
        converted: relations contacted that have a confirmed appointment
            starting at or after the employee's first contact with them.
    """

    employee: str
    activities: int = 0
    contacts: int = 0
    meetings: int = 0
    tasks: int = 0
    completed: int = 0
    outcomes: Mapping[str, int] = attrs.field(factory=dict, converter=_outcomes)
    relations_contacted: int = 0
    appointments_booked: int = 0
    converted: int = 0

    @property
    def conversion(self) -> float | None:
        """From first contact to appointment: ``converted / relations_contacted``."""
        return ratio(self.converted, self.relations_contacted)


@attrs.frozen
class TimelineItem:
    """One event in the negotiation history of a relation (P1).

    Attributes:
        at: when it happened.
        kind: a ``report.timeline.*`` key suffix: ``activity``, ``step``,
            ``correction``, ``status``, ``stage`` or ``visit_report``.
        actor: who did it (employee, account manager or acting user).
        subject: what: the activity's subject, the step, the new status, the
            report's designation.
        detail: more: the activity kind and outcome, the role, the note.
        record_id: the activity, prospect or visit report it comes from.
        project_id: the project, when there is one.
    """

    at: datetime
    kind: str
    actor: str
    subject: str
    detail: str = ""
    record_id: str = ""
    project_id: str | None = None


@attrs.frozen
class AcquisitionRow:
    """Won against approached relations in one group (P1: chance per group).

    ``group`` is the value of the grouping field (``None``: not recorded).
    Both counts are given so that the reader sees the size of the sample.
    """

    group: str | None
    approached: int
    won: int

    @property
    def win_rate(self) -> float | None:
        """``won / approached``, or ``None`` when nothing was approached."""
        return ratio(self.won, self.approached)

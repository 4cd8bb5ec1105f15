"""The report queries of the in-memory store (P1).

The same counts as the SQL ``GROUP BY`` queries of
:mod:`crm_procedures.adapters.sql.reports`, computed from the records a
:class:`~crm_procedures.adapters.memory.MemoryUnitOfWork` sees (its own
writes included). The two are compared record for record by the test suite;
the rules they share are spelled out in :class:`ReportWindow` and on each
method.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from crm_procedures.access.viewer import (
    ActivityScope,
    Viewer,
    may_see_activity,
    may_see_project,
    may_see_prospect,
)
from crm_procedures.adapters._common import sort_key, utc_us
from crm_procedures.errors import InvalidInput, NotFound
from crm_procedures.model._checks import require_aware
from crm_procedures.model.activity import Activity, ActivityKind
from crm_procedures.model.appointment import Appointment, AppointmentStatus
from crm_procedures.model.project import Project
from crm_procedures.model.prospect import EntryKind, Prospect, ProspectStatus, RelationStage
from crm_procedures.model.reports import (
    ACQUISITION_GROUPS,
    AcquisitionRow,
    EmployeeRow,
    Funnel,
)

if TYPE_CHECKING:
    from crm_procedures.adapters.memory import MemoryUnitOfWork

__all__ = ["MemoryReports", "ReportWindow", "activity_key", "check_group_by"]


def check_group_by(group_by: str) -> str:
    """``group_by`` if it is one of :data:`ACQUISITION_GROUPS`. Raises InvalidInput."""
    if group_by not in ACQUISITION_GROUPS:
        allowed = ", ".join(repr(g) for g in ACQUISITION_GROUPS)
        raise InvalidInput("group_by", f"{group_by!r} is not a grouping; use one of {allowed}")
    return group_by


class ReportWindow:
    """A period ``[since, until)`` as integer instants (microseconds since the epoch, UTC).

    Every store compares instants as these integers, with a missing datetime
    as ``NULL_KEY`` of :mod:`crm_procedures.adapters._common` (before
    every real instant), so memory and SQL agree to the microsecond.

    Raises:
        InvalidInput: a naive datetime, or ``until`` not after ``since``.
    """

    __slots__ = ("hi", "lo", "since", "until")

    def __init__(self, since: datetime | None, until: datetime | None) -> None:
        self.since = require_aware(since, "since") if since is not None else None
        self.until = require_aware(until, "until") if until is not None else None
        self.lo = utc_us(self.since) if self.since is not None else None
        self.hi = utc_us(self.until) if self.until is not None else None
        if self.lo is not None and self.hi is not None and self.hi <= self.lo:
            raise InvalidInput("until", "must lie after since", until)

    @property
    def open(self) -> bool:
        """True when no bound is given (every record counts)."""
        return self.lo is None and self.hi is None

    def holds(self, key: int) -> bool:
        """True when the instant ``key`` lies inside the period."""
        return (self.lo is None or key >= self.lo) and (self.hi is None or key < self.hi)


def activity_key(activity: Activity) -> int:
    """The instant an activity counts at: its start, else its creation, else NULL_KEY."""
    if activity.start is not None:
        return utc_us(activity.start)
    return sort_key(activity.created_at)


def _superseded(prospect: Prospect) -> set[int]:
    return {
        e.supersedes
        for e in prospect.history
        if e.kind is EntryKind.CORRECTION and e.supersedes is not None
    }


def _appointment_visible(viewer: Viewer | None, appointment: Appointment, visible: Any) -> bool:
    if not visible(appointment.project_id):
        return False
    if viewer is None:
        return True
    scope = viewer.activity_scope
    if scope is ActivityScope.ALL or appointment.employee == viewer.user_id:
        return True
    return scope is ActivityScope.GROUP and appointment.employee in viewer.group_members


class MemoryReports:
    """:class:`~crm_procedures.ports.ReportQueries` over a memory unit of work."""

    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._uow = uow

    # -- helpers over the unit of work's view of the records --

    def _project(self, project_id: str | None) -> Project | None:
        if project_id is None:
            return None
        found: Project | None = self._uow._current("project", project_id)
        return found

    def _visible_prospects(
        self, prospects: Iterable[Prospect], viewer: Viewer | None
    ) -> list[Prospect]:
        if viewer is None:
            return list(prospects)
        out = []
        for p in prospects:
            project = self._project(p.project_id)
            if project is not None and may_see_prospect(viewer, p, project):
                out.append(p)
        return out

    # -- the queries --

    def funnel(
        self,
        project_id: str,
        viewer: Viewer | None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Funnel:
        """The funnel of one project.

        Raises:
            NotFound: no such project, or the viewer may not see it.
            InvalidInput: a naive datetime or an empty period.
        """
        window = ReportWindow(since, until)
        project = self._project(project_id)
        if project is None or (viewer is not None and not may_see_project(viewer, project)):
            raise NotFound("project", project_id)
        population = self._visible_prospects(
            self._uow._records("prospect", "project_id", project_id), viewer
        )
        suspects = prospects = won = 0
        steps: Counter[str] = Counter()
        closed: Counter[str] = Counter()
        for p in population:
            if p.stage is RelationStage.SUSPECT:
                suspects += 1
            elif window.holds(sort_key(p.became_prospect_at)):
                prospects += 1
            superseded = _superseded(p)
            reached = {
                e.step
                for e in p.history
                if e.kind in (EntryKind.STEP, EntryKind.CORRECTION)
                and e.step is not None
                and e.seq not in superseded
                and window.holds(utc_us(e.at))
            }
            steps.update(reached)
            if p.status is ProspectStatus.CLOSED and (
                window.open
                or any(
                    e.kind is EntryKind.STATUS
                    and (e.detail or "").startswith("closed")
                    and window.holds(utc_us(e.at))
                    for e in p.history
                )
            ):
                closed[p.close_reason or ""] += 1
            if p.stage is RelationStage.CUSTOMER and (
                window.open
                or any(
                    e.kind is EntryKind.STAGE
                    and e.detail == RelationStage.CUSTOMER.value
                    and window.holds(utc_us(e.at))
                    for e in p.history
                )
            ):
                won += 1
        return Funnel(
            project_id=project_id,
            total=len(population),
            suspects=suspects,
            prospects=prospects,
            steps=steps,
            closed=closed,
            won=won,
            since=window.since,
            until=window.until,
        )

    def employee_activity(
        self,
        viewer: Viewer | None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[EmployeeRow]:
        """Activities and appointments per employee.

        An activity counts at :func:`activity_key`; an appointment at its
        start. A relation counts as converted when any confirmed appointment
        with it (in anyone's agenda) starts at or after the employee's first
        contact with it in the period.
        """
        window = ReportWindow(since, until)
        visible = self._uow._project_visibility(viewer)
        kinds: dict[str, Counter[str]] = defaultdict(Counter)
        outcomes: dict[str, Counter[str]] = defaultdict(Counter)
        completed: Counter[str] = Counter()
        first: dict[tuple[str, str], int] = {}
        for a in self._uow._records("activity"):
            if viewer is not None and not may_see_activity(viewer, a, self._project(a.project_id)):
                continue
            key = activity_key(a)
            if not window.holds(key):
                continue
            kinds[a.employee][a.kind.value] += 1
            if a.outcome is not None:
                outcomes[a.employee][a.outcome] += 1
            if a.completed_at is not None:
                completed[a.employee] += 1
            if a.kind is ActivityKind.CONTACT and a.relation_id is not None:
                pair = (a.employee, a.relation_id)
                held = first.get(pair)
                if held is None or key < held:
                    first[pair] = key
        booked: Counter[str] = Counter()
        starts: dict[str, list[int]] = defaultdict(list)
        for ap in self._uow._records("appointment"):
            if ap.status is not AppointmentStatus.CONFIRMED:
                continue
            start = utc_us(ap.start)
            if ap.relation_id is not None:
                starts[ap.relation_id].append(start)
            if window.holds(start) and _appointment_visible(viewer, ap, visible):
                booked[ap.employee] += 1
        contacted: Counter[str] = Counter()
        converted: Counter[str] = Counter()
        for (employee, relation), key in first.items():
            contacted[employee] += 1
            if any(s >= key for s in starts.get(relation, ())):
                converted[employee] += 1
        rows = []
        for employee in sorted(set(kinds) | set(booked)):
            k = kinds.get(employee, Counter())
            rows.append(
                EmployeeRow(
                    employee=employee,
                    activities=sum(k.values()),
                    contacts=k[ActivityKind.CONTACT.value],
                    meetings=k[ActivityKind.MEETING.value],
                    tasks=k[ActivityKind.TASK.value],
                    completed=completed[employee],
                    outcomes=outcomes.get(employee, {}),
                    relations_contacted=contacted[employee],
                    appointments_booked=booked[employee],
                    converted=converted[employee],
                )
            )
        return rows

    def acquisition(self, viewer: Viewer | None, group_by: str) -> list[AcquisitionRow]:
        """Approached and won relations per group of the relation's ``group_by`` field.

        A relation is approached when one of its visible prospects (any
        project) is past the suspect stage, and won when one is a customer.

        Raises:
            InvalidInput: ``group_by`` is not one of ``ACQUISITION_GROUPS``.
        """
        field = check_group_by(group_by)
        approached: set[str] = set()
        won: set[str] = set()
        for p in self._visible_prospects(self._uow._records("prospect"), viewer):
            if p.stage is not RelationStage.SUSPECT:
                approached.add(p.relation_id)
            if p.stage is RelationStage.CUSTOMER:
                won.add(p.relation_id)
        groups: dict[str | None, list[int]] = {}
        for rid in approached:
            relation = self._uow._current("relation", rid)
            value = getattr(relation, field) if relation is not None else None
            counts = groups.setdefault(value, [0, 0])
            counts[0] += 1
            counts[1] += rid in won
        ordered = sorted(groups.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))
        return [AcquisitionRow(group, a, w) for group, (a, w) in ordered]

    def prospects_of_relation(self, relation_id: str, viewer: Viewer | None) -> list[Prospect]:
        """The visible prospects of one relation, by project id then id."""
        found = [p for p in self._uow._records("prospect") if p.relation_id == relation_id]
        visible = self._visible_prospects(found, viewer)
        return [p.copy() for p in sorted(visible, key=lambda p: (p.project_id, p.id))]

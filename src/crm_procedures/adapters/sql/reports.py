"""The report queries of the SQL store (P1): SQLAlchemy Core ``GROUP BY`` queries.

Each report is a few aggregate queries over the store's tables
(:mod:`crm_procedures.adapters.sql.schema`); only the grouped counts travel
to Python. Visibility is part of every ``WHERE`` clause, with the same rules
as the lists (:mod:`crm_procedures.access.viewer`). The memory store computes
the same numbers in :mod:`crm_procedures.adapters.memory_reports`; the test
suite checks that the two agree.

Instants are compared as integer microseconds since the epoch. Activities and
appointments have such ``*_key`` columns; history entries and the moment a
suspect became a prospect are stored as text with their zone, so a period on
those is compared through an exact integer expression computed from the text
(only when a period is given: a report over all time never parses a date).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Integer,
    case,
    cast,
    distinct,
    exists,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.sql.elements import ColumnElement

from crm_procedures.access.viewer import ActivityScope, Viewer
from crm_procedures.adapters._common import NULL_KEY, some_unstorable
from crm_procedures.adapters.memory_reports import ReportWindow, check_group_by
from crm_procedures.adapters.sql import schema as s
from crm_procedures.adapters.sql._visibility import _invisible_projects
from crm_procedures.errors import NotFound
from crm_procedures.model.activity import ActivityKind
from crm_procedures.model.appointment import AppointmentStatus
from crm_procedures.model.prospect import EntryKind, Prospect, ProspectStatus, RelationStage
from crm_procedures.model.reports import AcquisitionRow, EmployeeRow, Funnel

__all__ = ["SqlReports"]

_P = s.prospects.c
_H = s.prospect_history.c
_A = s.activities.c
_AP = s.appointments.c
_R = s.relations.c


class SqlReports:
    """:class:`~crm_procedures.ports.ReportQueries` over an SQL unit of work.

    ``uow`` is a :class:`~crm_procedures.adapters.sql.store.SqlUnitOfWork`
    (anything with ``execute(statement)``, a ``dialect`` name and a
    ``prospects`` repository).
    """

    def __init__(self, uow: Any) -> None:
        self._uow = uow
        self._dialect: str = getattr(uow, "dialect", "sqlite")

    # -- dialect helpers --

    def _json_text(self, column: Any, key: str) -> ColumnElement[Any]:
        """A text field of the JSON record column (``NULL`` for JSON null)."""
        if self._dialect == "sqlite":
            extracted: ColumnElement[Any] = func.json_extract(column, f"$.{key}")
            return extracted
        as_text: ColumnElement[Any] = cast(column, JSON)[key].as_string()
        return as_text

    def _instant(self, column: Any) -> ColumnElement[Any]:
        """Integer microseconds since the epoch of a datetime stored as ISO text.

        The text is Python's ``isoformat`` (``YYYY-MM-DDTHH:MM:SS[.ffffff]+HH:MM``)
        optionally followed by ``[Zone/Name]``; the arithmetic is exact.
        """
        if self._dialect == "sqlite":
            wall = cast(func.strftime("%s", func.substr(column, 1, 19)), Integer)
            has_us = func.substr(column, 20, 1) == "."
            micros = case((has_us, cast(func.substr(column, 21, 6), Integer)), else_=0)
            at = case((has_us, 27), else_=20)
            sign = case((func.substr(column, at, 1) == "-", -1), else_=1)
            offset = (
                cast(func.substr(column, at + 1, 2), Integer) * 3600
                + cast(func.substr(column, at + 4, 2), Integer) * 60
            )
            return (wall - sign * offset) * 1_000_000 + micros
        stamp = cast(func.split_part(column, "[", 1), s.TEXT)
        return cast(func.extract("epoch", func.cast(stamp, _timestamptz())) * 1_000_000, s.KEY)

    def _window(self, key: Any, window: ReportWindow) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = []
        if window.lo is not None:
            out.append(key >= window.lo)
        if window.hi is not None:
            out.append(key < window.hi)
        return out

    # -- visibility --

    def _hidden_projects(self, viewer: Viewer | None) -> Any:
        # One definition of project visibility: the store's (deny entries included).
        return _invisible_projects(viewer)

    def _prospects_visible(self, viewer: Viewer | None) -> list[ColumnElement[bool]]:
        if viewer is None:
            return []
        out: list[ColumnElement[bool]] = []
        if not viewer.sees_preparing:
            out.append(_P.status != ProspectStatus.PREPARING.value)
        hidden = self._hidden_projects(viewer)
        if hidden is not None:
            out.append(_P.project_id.not_in(hidden))
        return out

    def _employee_scope(self, viewer: Viewer | None, column: Any) -> list[ColumnElement[bool]]:
        if viewer is None:
            return []
        scope = viewer.activity_scope
        if scope is ActivityScope.OWN:
            return [column == viewer.user_id]
        if scope is ActivityScope.GROUP:
            return [column.in_(sorted(viewer.group_members | {viewer.user_id}))]
        return []

    def _project_scope(self, viewer: Viewer | None, column: Any) -> list[ColumnElement[bool]]:
        hidden = self._hidden_projects(viewer)
        if hidden is None:
            return []
        return [or_(column.is_(None), column.not_in(hidden))]

    # -- the queries --

    def funnel(
        self,
        project_id: str,
        viewer: Viewer | None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Funnel:
        """The funnel of one project: the visibility check and two aggregate statements.

        The counts per stage and status (:meth:`_status_counts`) and the
        prospects per step (over ``ix_history_funnel``); a period adds three
        counts of the moments inside it.

        Raises:
            NotFound: no such project, or the viewer may not see it.
            InvalidInput: a naive datetime or an empty period.
        """
        window = ReportWindow(since, until)
        if some_unstorable(project_id):
            raise NotFound("project", project_id)  # as the memory store: no such project
        seen = select(s.projects.c.id).where(s.projects.c.id == project_id)
        hidden = self._hidden_projects(viewer)
        if hidden is not None:
            seen = seen.where(s.projects.c.id.not_in(hidden))
        if self._uow.execute(seen).first() is None:
            raise NotFound("project", project_id)
        # The project is visible (checked above), so every prospect of it is too,
        # but for those in preparation: no per-row test of the hidden projects
        # (an anti-join probe per prospect cost a quarter of the funnel's time).
        hide_preparing = viewer is not None and not viewer.sees_preparing
        mine: list[ColumnElement[bool]] = [_P.project_id == project_id]
        if hide_preparing:
            mine.append(_P.status != ProspectStatus.PREPARING.value)

        total = suspects = approached = won = 0
        closed: Counter[str] = Counter()
        for stage, status, reason, n in self._uow.execute(self._status_counts(project_id)):
            if hide_preparing and status == ProspectStatus.PREPARING.value:
                continue  # the same rows as ``mine`` leaves out
            total += n
            if stage == RelationStage.SUSPECT.value:
                suspects += n
            else:
                approached += n
            if window.open:
                if status == ProspectStatus.CLOSED.value:
                    closed[reason or ""] += n
                if stage == RelationStage.CUSTOMER.value:
                    won += n

        if not window.open:
            became = self._instant(_P.became_prospect_at)
            q = select(func.count()).where(
                *mine,
                _P.stage != RelationStage.SUSPECT.value,
                _P.became_prospect_at.is_not(None),
                *self._window(became, window),
            )
            approached = int(self._uow.execute(q).scalar_one())
            # A prospect without a recorded moment counts at NULL_KEY, like in memory.
            if window.holds(NULL_KEY):
                q = select(func.count()).where(
                    *mine,
                    _P.stage != RelationStage.SUSPECT.value,
                    _P.became_prospect_at.is_(None),
                )
                approached += int(self._uow.execute(q).scalar_one())

            h = s.prospect_history.alias("h")

            def entry_in_window(kind: str, detail: ColumnElement[bool]) -> ColumnElement[bool]:
                return exists().where(
                    h.c.prospect_id == _P.id,
                    h.c.kind == kind,
                    detail,
                    *self._window(self._instant(h.c.at), window),
                )

            q_closed = (
                select(_P.close_reason, func.count())
                .where(
                    *mine,
                    _P.status == ProspectStatus.CLOSED.value,
                    entry_in_window(EntryKind.STATUS.value, h.c.detail.like("closed%")),
                )
                .group_by(_P.close_reason)
            )
            for reason, n in self._uow.execute(q_closed):
                closed[reason or ""] += n
            q_won = select(func.count()).where(
                *mine,
                _P.stage == RelationStage.CUSTOMER.value,
                entry_in_window(EntryKind.STAGE.value, h.c.detail == RelationStage.CUSTOMER.value),
            )
            won = int(self._uow.execute(q_won).scalar_one())

        # History rows name their prospect's project and whether a correction
        # supersedes them (schema version 5): the count runs over ix_history_funnel.
        step_conditions: list[ColumnElement[bool]] = [
            _H.superseded == 0,
            _H.kind.in_([EntryKind.STEP.value, EntryKind.CORRECTION.value]),
        ]
        if not window.open:
            step_conditions.extend(self._window(self._instant(_H.at), window))
        counted = select(_H.step, func.count(func.distinct(_H.prospect_id)))
        if hide_preparing:
            q_steps = counted.select_from(
                s.prospect_history.join(s.prospects, _P.id == _H.prospect_id)
            ).where(_H.project_id == project_id, _H.step.is_not(None), *mine, *step_conditions)
            q_steps = q_steps.group_by(_H.step)
        elif self._dialect == "sqlite":
            # the project is visible (checked above) and so is every prospect of it
            q_steps = self._steps_by_seek(project_id, step_conditions)
        else:
            q_steps = counted.where(
                _H.project_id == project_id, _H.step.is_not(None), *step_conditions
            )
            q_steps = q_steps.group_by(_H.step)
        # (a step whose entries all fall outside the conditions counts 0: not reached)
        steps = {step: int(n) for step, n in self._uow.execute(q_steps) if n}
        return Funnel(
            project_id=project_id,
            total=total,
            suspects=suspects,
            prospects=approached,
            steps=steps,
            closed=closed,
            won=won,
            since=window.since,
            until=window.until,
        )

    def _steps_by_seek(self, project_id: str, conditions: list[ColumnElement[bool]]) -> Any:
        """``(step, prospects)`` of a project's history on SQLite, one step range at a time.

        A recursive query finds the distinct steps by seeking ``ix_history_funnel
        (project_id, superseded, step, prospect_id, kind)``, then counts the
        distinct prospects of each step's range in index order. A ``GROUP BY step``
        over the same range also reads and compares every row's step: 10% slower.
        A step with no entry meeting ``conditions`` counts 0.
        """
        h = s.prospect_history.alias("h")
        live = [h.c.project_id == project_id, h.c.superseded == 0]
        first = select(func.min(h.c.step)).where(*live, h.c.step.is_not(None))
        found = select(first.scalar_subquery().label("step")).cte("funnel_steps", recursive=True)
        following = select(func.min(h.c.step)).where(*live, h.c.step > found.c.step)
        found = found.union_all(
            select(following.scalar_subquery()).where(found.c.step.is_not(None))
        )
        prospects = select(func.count(distinct(_H.prospect_id))).where(
            _H.project_id == project_id, _H.step == found.c.step, *conditions
        )
        return select(found.c.step, prospects.scalar_subquery()).where(found.c.step.is_not(None))

    def _status_counts(self, project_id: str) -> Any:
        """``(stage, status, close_reason, count)`` of a project's prospects, in one statement.

        On SQLite the counts are read without decoding a row: a recursive
        query finds the few distinct ``(stage, status)`` pairs by seeking
        ``ix_prospects_funnel (project_id, stage, status, close_reason)``
        (one ``min`` per pair), then counts each pair's index range; only the
        closed prospects are grouped by their reason. A ``GROUP BY`` over the
        same index reads and compares three columns of every row and takes
        about 1.5x as long. ``close_reason`` is ``None`` on the rows of a
        status other than closed. PostgreSQL runs the plain ``GROUP BY``.
        """
        if self._dialect != "sqlite":
            grouped = select(_P.stage, _P.status, _P.close_reason, func.count())
            grouped = grouped.where(_P.project_id == project_id)
            return grouped.group_by(_P.stage, _P.status, _P.close_reason)
        p = s.prospects.alias("p")
        of_project = p.c.project_id == project_id
        first_stage = select(func.min(p.c.stage)).where(of_project).scalar_subquery()
        stages = select(first_stage.label("stage")).cte("funnel_stages", recursive=True)
        next_stage = select(func.min(p.c.stage)).where(of_project, p.c.stage > stages.c.stage)
        stages = stages.union_all(
            select(next_stage.scalar_subquery()).where(stages.c.stage.is_not(None))
        )
        first_status = select(func.min(p.c.status)).where(of_project, p.c.stage == stages.c.stage)
        pairs = select(
            stages.c.stage.label("stage"), first_status.scalar_subquery().label("status")
        ).where(stages.c.stage.is_not(None))
        pairs_cte = pairs.cte("funnel_pairs", recursive=True)
        next_status = select(func.min(p.c.status)).where(
            of_project, p.c.stage == pairs_cte.c.stage, p.c.status > pairs_cte.c.status
        )
        pairs_cte = pairs_cte.union_all(
            select(pairs_cte.c.stage, next_status.scalar_subquery()).where(
                pairs_cte.c.status.is_not(None)
            )
        )
        found = pairs_cte.c
        in_pair = [of_project, p.c.stage == found.stage, p.c.status == found.status]
        closed = ProspectStatus.CLOSED.value
        open_counts = select(
            found.stage,
            found.status,
            literal(None, s.TEXT),
            select(func.count()).where(*in_pair).scalar_subquery(),
        ).where(found.status.is_not(None), found.status != closed)
        # The closed ranges in index order (an IN list is sorted): grouped without a sort.
        closed_stages = select(found.stage).where(found.status == closed)
        closed_counts = (
            select(p.c.stage, p.c.status, p.c.close_reason, func.count())
            .where(of_project, p.c.stage.in_(closed_stages), p.c.status == closed)
            .group_by(p.c.stage, p.c.status, p.c.close_reason)
        )
        return union_all(open_counts, closed_counts)

    def employee_activity(
        self,
        viewer: Viewer | None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[EmployeeRow]:
        """Activities and appointments per employee, in three aggregate queries."""
        window = ReportWindow(since, until)
        when = case((_A.start_key != NULL_KEY, _A.start_key), else_=_A.created_key)
        kind = _A.kind
        visible = [
            *self._employee_scope(viewer, _A.employee),
            *self._project_scope(viewer, _A.project_id),
            *self._window(when, window),
        ]
        outcome = _A.outcome
        q = (
            select(
                _A.employee,
                kind,
                outcome,
                func.count(),
                func.sum(case((_A.completed == true(), 1), else_=0)),
            )
            .where(*visible)
            .group_by(_A.employee, kind, outcome)
        )
        kinds: dict[str, Counter[str]] = defaultdict(Counter)
        outcomes: dict[str, Counter[str]] = defaultdict(Counter)
        completed: Counter[str] = Counter()
        for employee, k, out, n, done in self._uow.execute(q):
            kinds[employee][k] += n
            if out is not None:
                outcomes[employee][out] += n
            completed[employee] += int(done or 0)

        # Relations contacted: distinct per employee, read in the order of the
        # index (kind, employee, relation_id), so no group of every (employee,
        # relation) pair is built and sorted again.
        contact = [*visible, kind == ActivityKind.CONTACT.value, _A.relation_id.is_not(None)]
        q_contacted = (
            select(_A.employee, func.count(distinct(_A.relation_id)))
            .where(*contact)
            .group_by(_A.employee)
        )
        contacted = {employee: int(n) for employee, n in self._uow.execute(q_contacted)}

        # Converted: the relation's latest confirmed appointment is no earlier
        # than the employee's first contact with it, that is: some contact of
        # the employee lies at or before that appointment.
        ap_relation = _AP.relation_id
        latest = (
            select(ap_relation.label("relation_id"), func.max(_AP.start_key).label("last_key"))
            .where(_AP.status == AppointmentStatus.CONFIRMED.value, ap_relation.is_not(None))
            .group_by(ap_relation)
            .subquery("latest_appointment")
        )
        q_conv = (
            select(_A.employee, func.count(distinct(_A.relation_id)))
            .select_from(latest.join(s.activities, _A.relation_id == latest.c.relation_id))
            .where(*contact, when <= latest.c.last_key)
            .group_by(_A.employee)
        )
        converted = {employee: int(n) for employee, n in self._uow.execute(q_conv)}

        q_booked = (
            select(_AP.employee, func.count())
            .where(
                _AP.status == AppointmentStatus.CONFIRMED.value,
                *self._employee_scope(viewer, _AP.employee),
                *self._project_scope(viewer, _AP.project_id),
                *self._window(_AP.start_key, window),
            )
            .group_by(_AP.employee)
        )
        booked = {employee: int(n) for employee, n in self._uow.execute(q_booked)}

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
                    relations_contacted=contacted.get(employee, 0),
                    appointments_booked=booked.get(employee, 0),
                    converted=converted.get(employee, 0),
                )
            )
        return rows

    def acquisition(self, viewer: Viewer | None, group_by: str) -> list[AcquisitionRow]:
        """Approached and won relations per group, in one aggregate query.

        Raises:
            InvalidInput: ``group_by`` is not one of ``ACQUISITION_GROUPS``.
        """
        field = check_group_by(group_by)
        per_relation = (
            select(
                _P.relation_id.label("relation_id"),
                func.max(case((_P.stage == RelationStage.CUSTOMER.value, 1), else_=0)).label("won"),
            )
            .where(_P.stage != RelationStage.SUSPECT.value, *self._prospects_visible(viewer))
            .group_by(_P.relation_id)
            .subquery("per_relation")
        )
        group = self._json_text(_R.data, field).label("grp")
        q = (
            select(group, func.count(), func.sum(per_relation.c.won))
            .select_from(per_relation.outerjoin(s.relations, _R.id == per_relation.c.relation_id))
            .group_by(group)
        )
        rows = [AcquisitionRow(g, int(n), int(w or 0)) for g, n, w in self._uow.execute(q)]
        return sorted(rows, key=lambda r: (r.group is None, r.group or ""))

    def prospects_of_relation(self, relation_id: str, viewer: Viewer | None) -> list[Prospect]:
        """The visible prospects of one relation, by project id then id."""
        q = (
            select(_P.id)
            .where(_P.relation_id == relation_id, *self._prospects_visible(viewer))
            .order_by(_P.project_id, _P.id)
        )
        ids = [row[0] for row in self._uow.execute(q)]
        return [self._uow.prospects.get(pid) for pid in ids]

    # -- the service level report (T1): adapters/sql/_service_level.py --

    def overdue_work(self, now: datetime, project_id: str | None, viewer: Viewer | None) -> Any:
        """Overdue work per owner and step, counted in the database."""
        from crm_procedures.adapters.sql import _service_level as service_level

        return service_level.overdue_work(self._uow, now, project_id, viewer)

    def step_analytics(self, project_id: str, viewer: Viewer | None) -> Any:
        """Visits and time in step per step, counted in the database."""
        from crm_procedures.adapters.sql import _service_level as service_level

        return service_level.step_analytics(self._uow, project_id, viewer)

    def template_results(
        self, project_id: str, viewer: Viewer | None, templates: dict[str, tuple[str, ...]]
    ) -> Any:
        """Sends and outcomes per e-mail template, counted in the database."""
        from crm_procedures.adapters.sql import _service_level as service_level

        return service_level.template_results(self._uow, project_id, viewer, templates)


def _timestamptz() -> Any:
    from sqlalchemy.dialects.postgresql import TIMESTAMP

    return TIMESTAMP(timezone=True)

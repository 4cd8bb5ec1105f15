"""The service level report's queries on the SQL store (T1).

The numbers are those of the reference computation in
:mod:`crm_procedures.model.service_level`, counted in the database:

- overdue work is one ``GROUP BY owner, due_step`` over the due columns;
- time in step pairs each effective step entry with the next one through
  ``LEAD() OVER (PARTITION BY prospect ORDER BY seq)``, and the percentiles
  are nearest-rank: ``ROW_NUMBER()`` within the step, the row at rank
  ``ceil(p * n)``; counts and percentiles come from one statement, and only
  one row per step travels to Python;
- results per template count sends and distinct prospects per outcome.

An entry is effective unless a correction of the same prospect supersedes
it (the ``superseded`` flag of migration 8). Instants are the history's
integer ``at_us`` (migration 9), so time in step is a subtraction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import bindparam, case, func, select

from crm_procedures.access.viewer import Viewer
from crm_procedures.adapters._common import EPOCH, utc_us
from crm_procedures.adapters.sql import schema as s
from crm_procedures.adapters.sql._visibility import _prospect_visible
from crm_procedures.model._checks import require_aware
from crm_procedures.model.prospect import EntryKind, ProspectStatus, RelationStage
from crm_procedures.model.service_level import (
    VISIT_ENDS,
    OverdueRow,
    StepRow,
    TemplateRow,
    Visit,
    _outcome_of,
    _sort_overdue,
    _template_table,
    step_rows_of_visits,
)

__all__ = ["overdue_work", "step_analytics", "template_results"]

_P = s.prospects.c
_H = s.prospect_history.c


def _visible(viewer: Viewer | None) -> list[Any]:
    return _prospect_visible(viewer)


def overdue_work(
    uow: Any, now: datetime, project_id: str | None, viewer: Viewer | None
) -> list[OverdueRow]:
    """Overdue steps people must perform, per owner and step."""
    where = [
        _P.status == ProspectStatus.RUNNING.value,
        _P.next_due_key < utc_us(require_aware(now, "now")),
        _P.due_automatic == False,  # noqa: E712 (SQL, not Python)
        _P.due_step.is_not(None),
        *_visible(viewer),
    ]
    if project_id is not None:
        where.append(_P.project_id == project_id)
    statement = (
        select(_P.owner, _P.due_step, func.count(), func.min(_P.next_due_key))
        .where(*where)
        .group_by(_P.owner, _P.due_step)
    )
    return _sort_overdue(
        OverdueRow(
            None if owner is None else str(owner),
            str(step),
            int(n),
            EPOCH + timedelta(microseconds=int(oldest)),
        )
        for owner, step, n, oldest in uow.execute(statement)
    )


def _effective(uow: Any, project_id: Any, viewer: Viewer | None, *, cte: bool = True) -> Any:
    """The project's effective step entries with the prospect's outcome columns.

    ``t`` is the entry's instant in microseconds: the ``at_us`` column every
    insert writes (migration 9), else (a row written by other means) ``at``
    parsed in SQL.
    """
    from crm_procedures.adapters.sql.reports import SqlReports

    instant = func.coalesce(_H.at_us, SqlReports(uow)._instant(_H.at))
    statement = (
        select(
            _H.prospect_id.label("pid"),
            _H.seq.label("seq"),
            _H.step.label("step"),
            instant.label("t"),
            _P.status.label("status"),
            _P.stage.label("stage"),
            _P.sequence_exit.label("exit"),
        )
        .select_from(s.prospect_history.join(s.prospects, _P.id == _H.prospect_id))
        .where(
            _P.project_id == project_id,
            _H.kind.in_((EntryKind.STEP.value, EntryKind.CORRECTION.value)),
            _H.step.is_not(None),
            _H.superseded == 0,  # migration 8: set when a correction supersedes the entry
            *_visible(viewer),
        )
    )
    return statement.cte("effective") if cte else statement.subquery("effective")


def step_analytics(uow: Any, project_id: str, viewer: Viewer | None) -> list[StepRow]:
    """Per step of the project: visits, how they ended, median and p90 time in step.

    One read of the project's effective visits in ``(prospect, seq)`` order
    (the history's primary key: no sort on SQLite), each with its instant in
    microseconds and its prospect's end code, streamed through
    :func:`~crm_procedures.model.service_level.step_rows_of_visits`, which
    pairs each visit with the next and takes the nearest-rank percentiles of
    the integer durations. (Window functions in SQL, ``LEAD`` then
    ``ROW_NUMBER`` over every visit, cost several times this on SQLite.)
    """

    def build() -> Any:
        eff = _effective(uow, bindparam("sl_project", ""), viewer, cte=False)
        end = case(
            (eff.c.stage == RelationStage.CUSTOMER.value, VISIT_ENDS.index("won")),
            (eff.c.status == ProspectStatus.CLOSED.value, VISIT_ENDS.index("dropped_out")),
            else_=VISIT_ENDS.index("waiting"),
        )
        return select(eff.c.pid, eff.c.step, eff.c.t, end).order_by(eff.c.pid, eff.c.seq)

    if uow.dialect == "sqlite":  # the driver's cursor streams; its rows are plain tuples
        cursor = uow.prepared(("step_analytics", viewer), build, sl_project=project_id)
        rows: Iterable[Visit] = cursor
        return step_rows_of_visits(rows)
    statement = build().execution_options(yield_per=_STREAM)  # a server-side cursor
    return step_rows_of_visits(uow.execute(statement, {"sl_project": project_id}))


_STREAM: Final = 10_000
"""Rows fetched at a time while streaming visits (a server-side cursor on PostgreSQL)."""


def template_results(
    uow: Any, project_id: str, viewer: Viewer | None, templates: dict[str, tuple[str, ...]]
) -> list[TemplateRow]:
    """Per template: sends, and distinct receiving prospects per outcome."""
    sent: dict[str, int] = defaultdict(int)
    outcome: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    if templates:
        eff = _effective(uow, project_id, viewer)
        step_template = {step: t for t, steps in templates.items() for step in steps}
        sends = (
            select(eff.c.step, func.count())
            .where(eff.c.step.in_(sorted(step_template)))
            .group_by(eff.c.step)
        )
        for step, n in uow.execute(sends):
            sent[step_template[str(step)]] += int(n)
        for template, steps in templates.items():
            got = (
                select(eff.c.pid, eff.c.status, eff.c.stage, eff.c.exit)
                .where(eff.c.step.in_(sorted(steps)))
                .distinct()
                .subquery()
            )
            grouped = select(
                got.c.status,
                got.c.stage,
                got.c.exit.is_not(None),
                func.count(),
            ).group_by(got.c.status, got.c.stage, got.c.exit.is_not(None))
            o = outcome[template]
            for status, stage, exited, n in uow.execute(grouped):
                o["prospects"] += int(n)
                o[_outcome_of(str(status), str(stage))] += int(n)
                if exited:
                    o["exited"] += int(n)
    return _template_table(templates, sent, outcome)

"""The service level report's queries on the SQL store (T1).

The numbers are those of the reference computation in
:mod:`crm_procedures.model.service_level`, counted in the database:

- overdue work is one ``GROUP BY owner, due_step`` over the due columns;
- time in step pairs each effective step entry with the next one through
  ``LEAD() OVER (PARTITION BY prospect ORDER BY seq)``, and the percentiles
  are nearest-rank: ``ROW_NUMBER()`` within the step, the row at rank
  ``ceil(p * n)``; only one row per step travels to Python;
- results per template count sends and distinct prospects per outcome.

An entry is effective unless a correction of the same prospect supersedes
it (a ``NOT EXISTS`` on the history's primary key).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, exists, func, select
from sqlalchemy.orm import aliased

from crm_procedures.access.viewer import Viewer
from crm_procedures.adapters._common import EPOCH, utc_us
from crm_procedures.adapters.sql import schema as s
from crm_procedures.model._checks import require_aware
from crm_procedures.model.prospect import EntryKind, ProspectStatus, RelationStage
from crm_procedures.model.service_level import (
    OverdueRow,
    StepRow,
    TemplateRow,
    _outcome_of,
    _sort_overdue,
    _step_rows,
    _template_table,
)

__all__ = ["overdue_work", "step_analytics", "template_results"]

_P = s.prospects.c
_H = s.prospect_history.c


def _visible(viewer: Viewer | None) -> list[Any]:
    from crm_procedures.adapters.sql.store import _prospect_visible

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


def _effective(uow: Any, project_id: str, viewer: Viewer | None) -> Any:
    """The project's effective step entries with the prospect's outcome columns."""
    from crm_procedures.adapters.sql.reports import SqlReports

    later = aliased(s.prospect_history)
    superseded = exists().where(
        and_(later.c.prospect_id == _H.prospect_id, later.c.supersedes == _H.seq)
    )
    instant = SqlReports(uow)._instant(_H.at)
    return (
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
            ~superseded,
            *_visible(viewer),
        )
        .cte("effective")
    )


def step_analytics(uow: Any, project_id: str, viewer: Viewer | None) -> list[StepRow]:
    """Per step of the project: visits, how they ended, median and p90 time in step."""
    eff = _effective(uow, project_id, viewer)
    nxt = func.lead(eff.c.t).over(partition_by=eff.c.pid, order_by=eff.c.seq)
    paired = select(eff.c.step, eff.c.status, eff.c.stage, eff.c.t, nxt.label("nt")).cte("paired")
    won = paired.c.stage == RelationStage.CUSTOMER.value
    closed = paired.c.status == ProspectStatus.CLOSED.value
    last = paired.c.nt.is_(None)
    counts_q = select(
        paired.c.step,
        func.count(),
        func.count(paired.c.nt),
        func.sum(case((and_(last, ~won, closed), 1), else_=0)),
        func.sum(case((and_(last, won), 1), else_=0)),
    ).group_by(paired.c.step)
    counts: dict[str, dict[str, int]] = {}
    for step, reached, moved, dropped, n_won in uow.execute(counts_q):
        reached, moved, dropped, n_won = int(reached), int(moved), int(dropped), int(n_won)
        counts[str(step)] = {
            "reached": reached,
            "moved_on": moved,
            "dropped_out": dropped,
            "won": n_won,
            "waiting": reached - moved - dropped - n_won,
        }
    durations = (
        select(paired.c.step, (paired.c.nt - paired.c.t).label("d"))
        .where(paired.c.nt.is_not(None))
        .cte("durations")
    )
    ranked = select(
        durations.c.step,
        durations.c.d,
        func.row_number().over(partition_by=durations.c.step, order_by=durations.c.d).label("rn"),
        func.count().over(partition_by=durations.c.step).label("n"),
    ).cte("ranked")
    median_rank = (ranked.c.n + 1) // 2
    p90_rank = (ranked.c.n * 9 + 9) // 10
    pct_q = (
        select(
            ranked.c.step,
            func.max(case((ranked.c.rn == median_rank, ranked.c.d))),
            func.max(case((ranked.c.rn == p90_rank, ranked.c.d))),
        )
        .where((ranked.c.rn == median_rank) | (ranked.c.rn == p90_rank))
        .group_by(ranked.c.step)
    )
    times: dict[str, list[int]] = {}
    rows = _step_rows(counts, times)
    found = {str(step): (median, p90) for step, median, p90 in uow.execute(pct_q)}
    out: list[StepRow] = []
    for row in rows:
        median, p90 = found.get(row.step, (None, None))
        out.append(
            StepRow(
                row.step,
                row.reached,
                row.moved_on,
                row.dropped_out,
                row.won,
                row.waiting,
                None if median is None else timedelta(microseconds=int(median)),
                None if p90 is None else timedelta(microseconds=int(p90)),
            )
        )
    return out


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

"""The service level report (T1): overdue work, time in step, results per template.

::

    overdue_work(app.ctx, "manager")                   # per owner and step
    step_analytics(app.ctx, "manager", "campaign-1")   # reached, moved on, ..., p90
    template_results(app.ctx, "manager", "campaign-1") # e-mails sent, what became of them

Like the other reports (:mod:`crm_procedures.services.reports`), each needs
the ``report.read`` permission and counts only what the actor may see. A
store's report queries (:func:`~crm_procedures.services.reports.report_queries`)
may count these itself by offering ``overdue_work``, ``step_analytics`` and
``template_results`` (the SQL store does, in the database); without them
the service computes the same numbers from the prospects
(:mod:`crm_procedures.model.service_level` says what is counted).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from crm_procedures.model._checks import require_aware
from crm_procedures.model.prospect import Prospect
from crm_procedures.model.service_level import (
    OverdueRow,
    StepRow,
    TemplateRow,
    overdue_rows,
    template_rows,
)
from crm_procedures.model.service_level import (
    step_analytics as compute_steps,
)
from crm_procedures.ports import UnitOfWork
from crm_procedures.services.context import Context
from crm_procedures.services.reports import _viewer, report_queries

__all__ = [
    "OverdueRow",
    "StepRow",
    "TemplateRow",
    "overdue_work",
    "step_analytics",
    "template_results",
]

_PAGE = 5000


def _queries(uow: UnitOfWork, name: str) -> Any:
    queries = getattr(uow, "reports", None)
    return None if queries is None else getattr(report_queries(uow), name, None)


def _prospects(uow: UnitOfWork, project_id: str | None, viewer: Any) -> list[Prospect]:
    if project_id is not None:
        return _paged(uow, project_id, viewer)
    out: list[Prospect] = []
    for project in uow.projects.visible(viewer):
        out.extend(_paged(uow, project.id, viewer))
    return out


def _paged(uow: UnitOfWork, project_id: str, viewer: Any) -> list[Prospect]:
    out: list[Prospect] = []
    while True:
        page = uow.prospects.of_project(project_id, viewer, limit=_PAGE, offset=len(out))
        out.extend(page)
        if len(page) < _PAGE:
            return out


def overdue_work(
    ctx: Context, actor: str, now: datetime | None = None, project_id: str | None = None
) -> list[OverdueRow]:
    """Overdue work per employee and step: running prospects whose next step people
    must perform was due before ``now`` (default: the clock's time), grouped by owner
    (``None``: nobody assigned) and step, with their count and the oldest due time.

    Raises:
        AccessDenied: the actor is unknown, inactive or lacks ``report.read``.
        NotFound: an unknown (or invisible) project.
        InvalidInput: a naive ``now``.
    """
    at = ctx.now() if now is None else require_aware(now, "now")
    with ctx.store.unit_of_work(read_only=True) as uow:
        viewer = _viewer(uow, actor)
        if project_id is not None:
            project_id = uow.projects.get(project_id, viewer).id
        query = _queries(uow, "overdue_work")
        if query is not None:
            rows: list[OverdueRow] = query(at, project_id, viewer)
            return rows
        return overdue_rows(_prospects(uow, project_id, viewer), at)


def step_analytics(ctx: Context, actor: str, project_id: str) -> list[StepRow]:
    """Per step of a project: how many prospects reached it, moved on, dropped out,
    were won or are waiting, and the median and 90th percentile time in the step.

    Raises:
        AccessDenied: the actor is unknown, inactive or lacks ``report.read``.
        NotFound: an unknown (or invisible) project.
    """
    with ctx.store.unit_of_work(read_only=True) as uow:
        viewer = _viewer(uow, actor)
        project = uow.projects.get(project_id, viewer)
        query = _queries(uow, "step_analytics")
        if query is not None:
            rows: list[StepRow] = query(project.id, viewer)
            return rows
        return compute_steps(_paged(uow, project.id, viewer))


def template_results(ctx: Context, actor: str, project_id: str) -> list[TemplateRow]:
    """Per e-mail template of a project's procedure: e-mails sent, and how many of
    the prospects that received it were won, closed, still run, or left the
    automatic sequence on an event.

    Raises:
        AccessDenied: the actor is unknown, inactive or lacks ``report.read``.
        NotFound: an unknown (or invisible) project.
        InvalidInput: the project runs no procedure.
    """
    from crm_procedures.services.campaigns import _procedure_of

    with ctx.store.unit_of_work(read_only=True) as uow:
        viewer = _viewer(uow, actor)
        project = uow.projects.get(project_id, viewer)
        defs, proc = _procedure_of(ctx, uow, project)
        templates: dict[str, list[str]] = {}
        for key in proc.steps:
            step = defs.steps.get(key)
            if step is not None and step.template is not None:
                templates.setdefault(step.template, []).append(key)
        by_template = {t: tuple(steps) for t, steps in templates.items()}
        query = _queries(uow, "template_results")
        if query is not None:
            rows: list[TemplateRow] = query(project.id, viewer, by_template)
            return rows
        return template_rows(_paged(uow, project.id, viewer), by_template)

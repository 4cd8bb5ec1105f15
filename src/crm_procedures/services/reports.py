"""Reports on recorded work (P1): funnel, employee effectiveness, negotiation
timeline, acquisition per group; and their text, CSV forms.

Every report takes the service :class:`~crm_procedures.services.context.Context`
and the acting user, needs the ``report.read`` permission, and counts only
what that user may see. The counting happens inside the store (SQL
``GROUP BY`` for the SQL store; see :class:`~crm_procedures.ports.ReportQueries`),
not by loading records into Python.

::

    funnel(app.ctx, "manager", "campaign-1")
    print(render_table(employee_activity(app.ctx, "manager"), language="nl"))
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from crm_procedures.access.viewer import Viewer
from crm_procedures.errors import AccessDenied, CapabilityMissing, InvalidInput
from crm_procedures.locales import label, message
from crm_procedures.model.activity import Activity
from crm_procedures.model.prospect import EntryKind
from crm_procedures.model.reports import (
    ACQUISITION_GROUPS,
    AcquisitionRow,
    EmployeeRow,
    Funnel,
    FunnelRow,
    TimelineItem,
)
from crm_procedures.ports import ReportQueries, UnitOfWork
from crm_procedures.services.context import Context, resolve_viewer

__all__ = [
    "ACQUISITION_GROUPS",
    "AcquisitionRow",
    "EmployeeRow",
    "Funnel",
    "FunnelRow",
    "TimelineItem",
    "acquisition",
    "employee_activity",
    "funnel",
    "funnel_stage_label",
    "negotiation_timeline",
    "render_table",
    "report_queries",
    "to_csv",
]

REPORT_PERMISSION = "report.read"
_PAGE = 1000


def report_queries(uow: UnitOfWork) -> ReportQueries:
    """The report queries of a unit of work: its ``reports`` attribute.

    Report queries are a capability of the unit of work
    (:class:`~crm_procedures.ports.ReportingUnitOfWork`): the memory and SQL
    stores offer theirs the same way a host's store adapter does.

    Raises:
        CapabilityMissing: the unit of work has no ``reports`` attribute.
    """
    found = getattr(uow, "reports", None)
    if found is None:
        raise CapabilityMissing(
            "reports",
            type(uow).__name__,
            "give the unit of work a 'reports' attribute implementing "
            "crm_procedures.ports.ReportQueries (see docs/how-to/store-adapter.md)",
        )
    queries: ReportQueries = found
    return queries


def _viewer(uow: UnitOfWork, actor: str) -> Viewer:
    viewer = resolve_viewer(uow, actor)
    if not viewer.has(REPORT_PERMISSION):
        raise AccessDenied(actor, REPORT_PERMISSION, "reports")
    return viewer


def funnel(
    ctx: Context,
    actor: str,
    project_id: str,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Funnel:
    """How far the relations of a project got: suspects, prospects, steps, closed, won.

    With a period (``since`` inclusive, ``until`` exclusive), the prospects,
    steps reached, closings and wins count only when they happened inside it.

    Raises:
        AccessDenied: the actor is unknown, inactive or lacks ``report.read``.
        NotFound: no such project, or the actor may not see it.
        InvalidInput: a naive datetime, or ``until`` not after ``since``.
    """
    with ctx.store.unit_of_work(read_only=True) as uow:
        viewer = _viewer(uow, actor)
        return report_queries(uow).funnel(project_id, viewer, since, until)


def employee_activity(
    ctx: Context,
    actor: str,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[EmployeeRow]:
    """Per employee: activities by kind and outcome, contacts made, appointments
    booked, and the conversion from first contact to appointment.

    Only the activities the actor may see are counted (own, group's or all,
    P4); appointments follow the same scope.

    Raises:
        AccessDenied: the actor is unknown, inactive or lacks ``report.read``.
        InvalidInput: a naive datetime, or ``until`` not after ``since``.
    """
    with ctx.store.unit_of_work(read_only=True) as uow:
        viewer = _viewer(uow, actor)
        return report_queries(uow).employee_activity(viewer, since, until)


def acquisition(ctx: Context, actor: str, group_by: str = "industry_code") -> list[AcquisitionRow]:
    """Won against approached relations per industry code, region or source.

    Raises:
        AccessDenied: the actor is unknown, inactive or lacks ``report.read``.
        InvalidInput: ``group_by`` is not one of ``industry_code``, ``region``,
            ``source``.
    """
    if group_by not in ACQUISITION_GROUPS:
        allowed = ", ".join(repr(g) for g in ACQUISITION_GROUPS)
        raise InvalidInput("group_by", f"{group_by!r} is not a grouping; use one of {allowed}")
    with ctx.store.unit_of_work(read_only=True) as uow:
        viewer = _viewer(uow, actor)
        return report_queries(uow).acquisition(viewer, group_by)


def _activity_time(a: Activity) -> datetime | None:
    return a.start or a.created_at or a.completed_at


def _activities(uow: UnitOfWork, relation_id: str, viewer: Viewer) -> list[Activity]:
    out: list[Activity] = []
    while True:
        page = uow.activities.of_relation(relation_id, viewer, limit=_PAGE, offset=len(out))
        out.extend(page)
        if len(page) < _PAGE:
            return out


_ENTRY_KINDS = {
    EntryKind.STEP: "step",
    EntryKind.CORRECTION: "correction",
    EntryKind.STATUS: "status",
    EntryKind.STAGE: "stage",
}


def negotiation_timeline(ctx: Context, actor: str, relation_id: str) -> list[TimelineItem]:
    """The negotiation history of one relation in time order (P1).

    Merges the relation's activities (those the actor may see), the
    procedure history of its prospects in every project the actor may see,
    and its visit reports. Activities without any recorded time are left out.

    Raises:
        AccessDenied: the actor is unknown, inactive or lacks ``report.read``.
        NotFound: no such relation.
    """
    items: list[tuple[TimelineItem, int]] = []
    with ctx.store.unit_of_work(read_only=True) as uow:
        viewer = _viewer(uow, actor)
        uow.relations.get(relation_id)
        for a in _activities(uow, relation_id, viewer):
            at = _activity_time(a)
            if at is None:
                continue
            detail = a.kind.value if a.outcome is None else f"{a.kind.value}: {a.outcome}"
            item = TimelineItem(
                at, "activity", a.employee, a.subject or a.kind.value, detail, a.id, a.project_id
            )
            items.append((item, 0))
        for p in report_queries(uow).prospects_of_relation(relation_id, viewer):
            for e in p.history:
                if e.kind in (EntryKind.STEP, EntryKind.CORRECTION):
                    subject = e.step or "-"
                    detail = e.role or ""
                    if e.supersedes is not None:
                        detail = f"{detail} (corrects #{e.supersedes})".strip()
                else:
                    subject = e.detail or ""
                    detail = ""
                if e.note:
                    detail = f"{detail}: {e.note}" if detail else e.note
                item = TimelineItem(
                    e.at, _ENTRY_KINDS[e.kind], e.actor, subject, detail, p.id, p.project_id
                )
                items.append((item, e.seq))
        offset = 0
        while True:
            page = uow.visit_reports.search(relation_id=relation_id, limit=_PAGE, offset=offset)
            for r in page:
                detail = " / ".join(x for x in (r.visit_type or "", r.subject) if x)
                items.append(
                    (
                        TimelineItem(
                            r.start, "visit_report", r.account_manager, r.designation, detail, r.id
                        ),
                        0,
                    )
                )
            offset += len(page)
            if len(page) < _PAGE:
                break
    items.sort(key=lambda pair: (pair[0].at, pair[0].record_id, pair[1], pair[0].kind))
    return [item for item, _seq in items]


# -- text and CSV --------------------------------------------------------------


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _counts(value: Any) -> str:
    return ", ".join(f"{k or '-'}: {n}" for k, n in dict(value).items()) or "-"


def _close_reason(reason: str, language: str) -> str:
    if not reason:
        return label("report.unknown_group", language)
    try:
        return label(f"choice.close_reason.{reason}", language)
    except InvalidInput:
        return reason


def funnel_stage_label(row: FunnelRow, language: str) -> str:
    """What a funnel row is called in ``language`` ("Step reached: call", "Closed: No budget")."""
    if row.stage == "report.funnel.step":
        return message(row.stage, language, step=row.argument)
    if row.stage == "report.funnel.closed":
        return message(row.stage, language, reason=_close_reason(row.argument, language))
    return label(row.stage, language)


Column = tuple[str, Callable[[Any, str], str], Callable[[Any], object], bool]
"""(heading key, text cell, CSV cell, right-aligned)."""

_COLUMNS: dict[type[Any], list[Column]] = {
    FunnelRow: [
        (
            "stage",
            funnel_stage_label,
            lambda r: (
                r.stage.removeprefix("report.funnel.") + (f":{r.argument}" if r.argument else "")
            ),
            False,
        ),
        ("count", lambda r, _l: str(r.count), lambda r: r.count, True),
        ("share", lambda r, _l: _percent(r.share), lambda r: r.share, True),
    ],
    EmployeeRow: [
        ("employee", lambda r, _l: r.employee, lambda r: r.employee, False),
        ("activities", lambda r, _l: str(r.activities), lambda r: r.activities, True),
        ("contacts", lambda r, _l: str(r.contacts), lambda r: r.contacts, True),
        ("meetings", lambda r, _l: str(r.meetings), lambda r: r.meetings, True),
        ("tasks", lambda r, _l: str(r.tasks), lambda r: r.tasks, True),
        ("completed", lambda r, _l: str(r.completed), lambda r: r.completed, True),
        (
            "relations_contacted",
            lambda r, _l: str(r.relations_contacted),
            lambda r: r.relations_contacted,
            True,
        ),
        (
            "appointments_booked",
            lambda r, _l: str(r.appointments_booked),
            lambda r: r.appointments_booked,
            True,
        ),
        ("converted", lambda r, _l: str(r.converted), lambda r: r.converted, True),
        ("conversion", lambda r, _l: _percent(r.conversion), lambda r: r.conversion, True),
        ("outcomes", lambda r, _l: _counts(r.outcomes), lambda r: _counts(r.outcomes), False),
    ],
    TimelineItem: [
        ("at", lambda r, _l: r.at.isoformat(timespec="minutes"), lambda r: r.at.isoformat(), False),
        ("kind", lambda r, lang: label(f"report.timeline.{r.kind}", lang), lambda r: r.kind, False),
        ("actor", lambda r, _l: r.actor, lambda r: r.actor, False),
        ("subject", lambda r, _l: r.subject, lambda r: r.subject, False),
        ("detail", lambda r, _l: r.detail, lambda r: r.detail, False),
    ],
    AcquisitionRow: [
        (
            "group",
            lambda r, lang: r.group if r.group else label("report.unknown_group", lang),
            lambda r: r.group or "",
            False,
        ),
        ("approached", lambda r, _l: str(r.approached), lambda r: r.approached, True),
        ("won", lambda r, _l: str(r.won), lambda r: r.won, True),
        ("win_rate", lambda r, _l: _percent(r.win_rate), lambda r: r.win_rate, True),
    ],
}


def _rows(rows: Funnel | Sequence[Any]) -> tuple[list[Any], list[Column]]:
    items = rows.rows() if isinstance(rows, Funnel) else list(rows)
    if not items:
        return [], []
    kind = type(items[0])
    columns = _COLUMNS.get(kind)
    if columns is None or any(type(r) is not kind for r in items):
        known = ", ".join(sorted(c.__name__ for c in _COLUMNS))
        raise InvalidInput("rows", f"must be a Funnel or a list of one of: {known}", kind.__name__)
    return items, columns


def render_table(rows: Funnel | Sequence[Any], language: str = "en") -> str:
    """A plain-text table of a report, headings in ``language`` (en, nl, pl).

    Accepts a :class:`Funnel` or a list of report rows (all of one kind).
    An empty list renders as an empty string.

    Raises:
        InvalidInput: an unknown language, or rows that are not report rows.
    """
    label("report.none", language)  # refuses an unknown language even for no rows
    items, columns = _rows(rows)
    if not items:
        return ""
    headings = [label(f"report.column.{key}", language) for key, *_ in columns]
    cells = [[text(r, language) for _k, text, _c, _right in columns] for r in items]
    widths = [max(len(x) for x in [h, *(row[i] for row in cells)]) for i, h in enumerate(headings)]

    def line(values: list[str]) -> str:
        parts = [
            v.rjust(w) if right else v.ljust(w)
            for v, w, (_k, _t, _c, right) in zip(values, widths, columns)
        ]
        return "  ".join(parts).rstrip()

    out = [line(headings), "  ".join("-" * w for w in widths)]
    out.extend(line(row) for row in cells)
    return "\n".join(out) + "\n"


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _safe_cell(value: object) -> str:
    text = "" if value is None else str(value)
    # A spreadsheet runs a cell that starts like a formula; a leading quote makes it text.
    return "'" + text if text.startswith(_FORMULA_START) else text


def to_csv(rows: Funnel | Sequence[Any], language: str | None = None) -> str:
    """The report as CSV text (``\\r\\n`` line ends, a heading row first).

    Headings are the column keys, or labels in ``language`` when given.
    Cells that a spreadsheet would run as a formula (starting with ``=``,
    ``+``, ``-``, ``@``, a tab or a carriage return) get a leading ``'``.

    Raises:
        InvalidInput: an unknown language, or rows that are not report rows.
    """
    if language is not None:
        label("report.none", language)
    items, columns = _rows(rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if columns:
        writer.writerow(
            [
                _safe_cell(key if language is None else label(f"report.column.{key}", language))
                for key, *_ in columns
            ]
        )
    for r in items:
        writer.writerow([_safe_cell(cell(r)) for _k, _t, cell, _right in columns])
    return buffer.getvalue()

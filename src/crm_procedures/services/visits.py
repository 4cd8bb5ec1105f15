"""Visit-report services (V1-V5): record, search, follow up and hand over visit reports.

A visit report belongs to a relation but is queried on its own (V2): all
reports of one account manager, of a period, of a visit type, or matching a
keyword (V3), through the store's ``visit_reports.search``. Every active user
sees the reports they are account manager of; ``visit_report.read`` (or
``visit_report.write``) shows every report, so that knowledge of customers
is shared and stays with the organisation (V5). The store applies this
inside its query (:func:`~crm_procedures.access.viewer.may_see_visit_report`),
so a search, a get and a count agree. Writing needs ``visit_report.write``.

Every change is recorded in the audit log (who, when, what), which is the
report's history; :func:`reassign` relies on it to keep the trail when an
account manager leaves.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import attrs

from crm_procedures.access.permissions import require, require_activity_write
from crm_procedures.errors import InvalidInput
from crm_procedures.ids import ActivityId, DocumentId, RelationId, UserId, VisitReportId
from crm_procedures.model._checks import non_empty, one_line, require_aware
from crm_procedures.model.activity import Activity, ActivityKind
from crm_procedures.model.audit import Change
from crm_procedures.model.relation import Relation
from crm_procedures.model.visit_report import VisitReport
from crm_procedures.ports import UnitOfWork
from crm_procedures.services._records import (
    active_user,
    audit,
    check_page,
    evolve,
    load_contacts,
    require_contacts_of,
    settings_for,
)
from crm_procedures.services.context import Context, resolve_viewer
from crm_procedures.services.projects import check_document, store_document
from crm_procedures.services.record_settings import VISIT_TYPE_DICTIONARY, RecordSettings

__all__ = [
    "PERIODS",
    "REPORT_FIELDS",
    "Attachment",
    "FollowUpTask",
    "Reassignment",
    "VisitCount",
    "action_to_follow_up",
    "create_visit_report",
    "get_report",
    "reassign",
    "report_history",
    "search_reports",
    "update_visit_report",
    "visit_counts",
]

REPORT_FIELDS: frozenset[str] = frozenset(
    {
        "designation",
        "start",
        "end",
        "address",
        "postcode",
        "city",
        "subject",
        "visit_type",
        "keywords",
        "text",
        "action",
        "contact_ids",
    }
)
"""Fields :func:`update_visit_report` accepts."""


@attrs.frozen
class Attachment:
    """A file to attach to a visit report when it is created (V1).

    Raises :class:`InvalidInput` for an empty name or content that is not bytes.
    """

    name: str = attrs.field(validator=non_empty)
    content: bytes = attrs.field()
    media_type: str = attrs.field(default="application/octet-stream", validator=one_line)

    @content.validator
    def _bytes(self, _attribute: Any, value: Any) -> None:
        if not isinstance(value, bytes):
            raise InvalidInput("content", "must be bytes", type(value).__name__)


def _address_of(relation: Relation) -> tuple[str, str, str]:
    visit = [a for a in relation.addresses if a.kind == "visit"] or list(relation.addresses)
    if not visit:
        return "", "", ""
    return visit[0].street, visit[0].postcode, visit[0].city


def create_visit_report(
    ctx: Context,
    actor: str,
    *,
    designation: str,
    relation_id: str,
    start: datetime,
    end: datetime,
    contact_ids: Iterable[str] = (),
    address: str | None = None,
    postcode: str | None = None,
    city: str | None = None,
    subject: str = "",
    visit_type: str | None = None,
    keywords: Iterable[str] = (),
    text: str = "",
    action: str = "",
    account_manager: str | None = None,
    attachments: Sequence[Attachment] = (),
    settings: RecordSettings | None = None,
) -> VisitReport:
    """Record a visit report with every V1 field.

    The account manager defaults to the actor. Address, postcode and city
    default to the relation's visit address when none is given. Attachments
    are stored in the context's BlobStore, in the same unit of work as the
    report; when one is over the size limit nothing is stored.

    Raises:
        AccessDenied: the actor lacks ``visit_report.write``.
        NotFound: the relation does not exist.
        InvalidInput: an empty designation, a naive datetime, an end before
            the start, a contact of another relation, a visit type not in (or
            deactivated in) the ``visit_type`` dictionary, an unknown account
            manager, an attachment over the size limit or without blob store.
    """
    cfg = settings_for(ctx, settings)
    files = list(attachments)
    for i, item in enumerate(files):
        if not isinstance(item, Attachment):
            raise InvalidInput(f"attachments[{i}]", "must be an Attachment", item)
        check_document(cfg, item.name, item.content, f"attachments[{i}].content")
    with ctx.store.unit_of_work() as uow:
        viewer = resolve_viewer(uow, actor)
        require(viewer, "visit_report.write", "a new visit report")
        relation = uow.relations.get(relation_id)
        manager = account_manager if account_manager is not None else viewer.user_id
        active_user(uow, manager, "account_manager")
        cfg.require(VISIT_TYPE_DICTIONARY, visit_type, "visit_type", new=True)
        contacts = load_contacts(uow, contact_ids)
        street, pc, town = _address_of(relation)
        report_id = VisitReportId(ctx.new_id())
        report = VisitReport(
            id=report_id,
            designation=designation,
            relation_id=relation.id,
            account_manager=UserId(manager),
            start=start,
            end=end,
            contact_ids=require_contacts_of(contacts, relation.id),
            address=street if address is None else address,
            postcode=pc if postcode is None else postcode,
            city=town if city is None else city,
            subject=subject,
            visit_type=visit_type,
            keywords=tuple(keywords),
            text=text,
            action=action,
        )
        documents: list[DocumentId] = []
        for item in files:
            doc = store_document(
                uow,
                ctx,
                actor,
                owner_kind="visit_report",
                owner_id=report_id,
                name=item.name,
                content=item.content,
                media_type=item.media_type,
            )
            documents.append(doc.id)
        stored = uow.visit_reports.add(evolve(report, attachments=tuple(documents)))
        audit(uow, ctx, actor, "visit_report", None, stored)
        uow.commit()
    return stored


def _load_for_write(uow: UnitOfWork, ctx: Context, actor: str, report_id: str) -> VisitReport:
    viewer = resolve_viewer(uow, actor)
    report = uow.visit_reports.get(report_id, viewer)
    require(viewer, "visit_report.write", f"visit report {report.id}")
    return report


def update_visit_report(
    ctx: Context,
    actor: str,
    report_id: str,
    *,
    settings: RecordSettings | None = None,
    **fields: Any,
) -> VisitReport:
    """Change fields of a visit report (see :data:`REPORT_FIELDS`).

    Attachments are added with
    :func:`crm_procedures.services.projects.attach_document` (owner kind
    ``visit_report``); they are listed on the report by their documents.

    Raises:
        NotFound: no such report.
        AccessDenied: the actor lacks ``visit_report.write``.
        InvalidInput: an unknown field, a value the report refuses, a contact of
            another relation, a visit type not in its dictionary.
    """
    for name in fields:
        if name not in REPORT_FIELDS:
            allowed = ", ".join(sorted(REPORT_FIELDS))
            raise InvalidInput(name, f"is not a changeable report field; allowed: {allowed}")
    cfg = settings_for(ctx, settings)
    with ctx.store.unit_of_work() as uow:
        old = _load_for_write(uow, ctx, actor, report_id)
        changes = dict(fields)
        if "contact_ids" in changes:
            contacts = load_contacts(uow, changes["contact_ids"])
            changes["contact_ids"] = require_contacts_of(contacts, old.relation_id)
        new = evolve(old, **changes)
        if new.visit_type != old.visit_type:
            cfg.require(VISIT_TYPE_DICTIONARY, new.visit_type, "visit_type", new=True)
        if new == old:
            return old
        stored = uow.visit_reports.save(new)
        audit(uow, ctx, actor, "visit_report", old, stored)
        uow.commit()
    return stored


def get_report(ctx: Context, actor: str, report_id: str) -> VisitReport:
    """One visit report.

    Raises:
        NotFound: no such report.
        AccessDenied: the actor is unknown or inactive.
    """
    with ctx.store.unit_of_work(read_only=True) as uow:
        viewer = resolve_viewer(uow, actor)
        return uow.visit_reports.get(report_id, viewer)


def search_reports(
    ctx: Context,
    actor: str,
    *,
    account_manager: str | None = None,
    relation_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    visit_type: str | None = None,
    keyword: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[VisitReport]:
    """Visit reports matching every given filter, newest first, one page (V2, V3).

    ``since <= start < until``; ``keyword`` matches keywords, subject and text
    case- and accent-insensitively. No relation is needed to find reports.

    Raises:
        AccessDenied: the actor is unknown or inactive.
        InvalidInput: a naive datetime, ``until`` before ``since``, a page size
            outside 1..1000 or a negative offset.
    """
    check_page(limit, offset)
    if since is not None:
        require_aware(since, "since")
    if until is not None:
        require_aware(until, "until")
    if since is not None and until is not None and until < since:
        raise InvalidInput("until", "must not lie before since", until)
    with ctx.store.unit_of_work(read_only=True) as uow:
        viewer = resolve_viewer(uow, actor)
        return uow.visit_reports.search(
            account_manager=account_manager,
            relation_id=relation_id,
            visit_type=visit_type,
            since=since,
            until=until,
            keyword=keyword,
            limit=limit,
            offset=offset,
            viewer=viewer,
        )


def report_history(ctx: Context, actor: str, report_id: str) -> list[Change]:
    """Every recorded change of a visit report, oldest first (V3, V5).

    Raises:
        NotFound: no such report.
    """
    with ctx.store.unit_of_work(read_only=True) as uow:
        viewer = resolve_viewer(uow, actor)
        uow.visit_reports.get(report_id, viewer)
        return uow.audit.of_record("visit_report", report_id)


@attrs.frozen
class FollowUpTask:
    """What :func:`action_to_follow_up` did: the report, now linked, and the new task."""

    report: VisitReport
    activity: Activity


def action_to_follow_up(
    ctx: Context,
    actor: str,
    report_id: str,
    due: datetime,
    *,
    employee: str | None = None,
    subject: str | None = None,
) -> FollowUpTask:
    """Turn the report's action into a task activity, linked on the report (V4).

    The task is for ``employee`` (default: the report's account manager), on
    the report's relation and contacts, due at ``due``; its note is the action
    text and its subject the first line of the action (or ``subject``).

    Raises:
        NotFound: no such report.
        AccessDenied: the actor lacks ``visit_report.write``, or may not
            record activities for that employee.
        InvalidInput: the report has no action, is linked to a follow-up
            already, ``due`` is naive or in the past, or the employee is unknown.
    """
    require_aware(due, "due")
    with ctx.store.unit_of_work() as uow:
        viewer = resolve_viewer(uow, actor)
        old = _load_for_write(uow, ctx, actor, report_id)
        if not old.action.strip():
            raise InvalidInput("action", f"visit report {old.id} has no action to follow up")
        if old.follow_up_activity_id:
            raise InvalidInput(
                "follow_up_activity_id",
                f"visit report {old.id} has a follow-up already "
                f"(activity {old.follow_up_activity_id})",
                old.follow_up_activity_id,
            )
        now = ctx.now()
        if due < now:
            raise InvalidInput(
                "due", f"{due.isoformat()} is in the past (now is {now.isoformat()})", due
            )
        who = employee if employee is not None else old.account_manager
        active_user(uow, who, "employee")
        first_line = old.action.strip().splitlines()[0][:200]
        task = Activity(
            id=ActivityId(ctx.new_id()),
            kind=ActivityKind.TASK,
            employee=UserId(who),
            subject=subject if subject is not None else first_line,
            relation_id=RelationId(old.relation_id),
            contact_ids=old.contact_ids,
            note=old.action,
            due=due,
            created_at=now,
        )
        require_activity_write(viewer, task, None)
        stored_task = uow.activities.add(task)
        audit(uow, ctx, actor, "activity", None, stored_task, "follow-up")
        new = evolve(old, follow_up_activity_id=stored_task.id)
        stored = uow.visit_reports.save(new)
        audit(uow, ctx, actor, "visit_report", old, stored, "follow-up")
        uow.commit()
    return FollowUpTask(stored, stored_task)


@attrs.frozen
class Reassignment:
    """What :func:`reassign` moved from one account manager to another.

    Attributes:
        relations: the relations whose account manager changed.
        reports: the visit reports that changed hands.
    """

    relations: tuple[RelationId, ...]
    reports: tuple[VisitReportId, ...]


def reassign(ctx: Context, actor: str, from_user: str, to_user: str) -> Reassignment:
    """Hand every relation and visit report of one account manager to another (V5).

    For when an account manager leaves: the knowledge stays. Each moved record
    gets an audit entry (action ``reassign``) saying who moved it from whom to
    whom and when; the reports keep their text and history. All in one unit
    of work: either everything moves, or nothing.

    Raises:
        AccessDenied: the actor lacks ``visit_report.write``.
        InvalidInput: ``to_user`` is unknown or deactivated, or equals ``from_user``.
    """
    if from_user == to_user:
        raise InvalidInput("to_user", "must differ from from_user", to_user)
    with ctx.store.unit_of_work() as uow:
        viewer = resolve_viewer(uow, actor)
        require(viewer, "visit_report.write", f"the relations and reports of {from_user}")
        active_user(uow, to_user, "to_user")
        relations = uow.relations.by_account_manager(from_user)
        reports = _all_reports_of(uow, from_user)
        for relation in relations:
            stored = uow.relations.save(evolve(relation, account_manager=UserId(to_user)))
            audit(uow, ctx, actor, "relation", relation, stored, "reassign")
        for report in reports:
            stored_report = uow.visit_reports.save(evolve(report, account_manager=UserId(to_user)))
            audit(uow, ctx, actor, "visit_report", report, stored_report, "reassign")
        uow.commit()
    return Reassignment(
        tuple(r.id for r in relations),
        tuple(r.id for r in reports),
    )


def _all_reports_of(uow: UnitOfWork, user: str) -> list[VisitReport]:
    # Collected before any save, so paging is not disturbed by the changes.
    out: list[VisitReport] = []
    page = 500
    while True:
        batch = uow.visit_reports.search(account_manager=user, limit=page, offset=len(out))
        out.extend(batch)
        if len(batch) < page:
            return out


PERIODS: frozenset[str] = frozenset({"day", "week", "month", "year"})
"""The periods :func:`visit_counts` groups by."""


@attrs.frozen
class VisitCount:
    """One row of :func:`visit_counts`: how many visits of one manager, type and period.

    ``period`` is ``"2026-03-02"`` (day), ``"2026-W10"`` (ISO week),
    ``"2026-03"`` (month), ``"2026"`` (year), or ``""`` without a period;
    ``visit_type`` is ``""`` for reports without one.
    """

    account_manager: str
    visit_type: str
    period: str
    count: int


def _period_of(start: datetime, period: str | None) -> str:
    if period is None:
        return ""
    if period == "day":
        return start.date().isoformat()
    if period == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return f"{start.year}-{start.month:02d}"
    return str(start.year)


def visit_counts(
    ctx: Context,
    actor: str,
    *,
    period: str | None = "month",
    since: datetime | None = None,
    until: datetime | None = None,
    account_manager: str | None = None,
    visit_type: str | None = None,
) -> list[VisitCount]:
    """Visits per account manager, per visit type and per period (management reports).

    Counts the visit reports the actor may see with ``since <= start <
    until``; each report counts in the period of its start, in the time zone
    it was recorded in. Rows are ordered by account manager, visit type and
    period; a total is the sum of rows (group further as needed).

    Raises:
        AccessDenied: the actor lacks ``report.read``.
        InvalidInput: an unknown period, a naive datetime, ``until`` before
            ``since``.
    """
    if period is not None and period not in PERIODS:
        known = ", ".join(sorted(PERIODS))
        raise InvalidInput("period", f"is not a period; use one of {known} or None", period)
    if since is not None:
        require_aware(since, "since")
    if until is not None:
        require_aware(until, "until")
    if since is not None and until is not None and until < since:
        raise InvalidInput("until", "must not lie before since", until)
    counts: dict[tuple[str, str, str], int] = {}
    with ctx.store.unit_of_work(read_only=True) as uow:
        viewer = resolve_viewer(uow, actor)
        require(viewer, "report.read", "the visit reports' overview")
        offset, page = 0, 500
        while True:
            batch = uow.visit_reports.search(
                account_manager=account_manager,
                visit_type=visit_type,
                since=since,
                until=until,
                limit=page,
                offset=offset,
                viewer=viewer,
            )
            offset += len(batch)
            for r in batch:
                key = (r.account_manager, r.visit_type or "", _period_of(r.start, period))
                counts[key] = counts.get(key, 0) + 1
            if len(batch) < page:
                break
    return [VisitCount(m, t, p, n) for (m, t, p), n in sorted(counts.items())]

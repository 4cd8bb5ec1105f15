"""The cadence as user actions: due worklists, owners, pauses and exits (T1, T3).

Every move of a prospect (a step, a correction, a release, a close) keeps its
due fields up to date through :func:`keep_due`, which the campaign services
call before they save; the rules themselves are in
:mod:`crm_procedures.procedures.cadence`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Any

from crm_procedures.access.permissions import require
from crm_procedures.errors import InvalidInput, NotFound
from crm_procedures.ids import UserId
from crm_procedures.model._checks import require_aware
from crm_procedures.model.due import (
    DueCursor,
    DueEntry,
    check_cursor,
    check_page_size,
    due_entries,
)
from crm_procedures.model.project import Project
from crm_procedures.model.prospect import Prospect
from crm_procedures.ports import DuePages, UnitOfWork
from crm_procedures.procedures import cadence
from crm_procedures.procedures.procedure import Definitions, Procedure
from crm_procedures.procedures.timing._local import zone
from crm_procedures.services.context import Context, resolve_viewer

__all__ = [
    "DueFilter",
    "OwnerRule",
    "assign_owner",
    "assign_owners",
    "due_page",
    "due_worklist",
    "exit_sequence",
    "keep_due",
    "pause_prospect",
    "resume_prospect",
    "zone_of",
]

OwnerRule = Callable[[Project, Prospect, Sequence[str]], str | None]
"""A host's rule picking a prospect's owner among the role's members (``None``: leave it)."""


class DueFilter(enum.StrEnum):
    """Which due work a worklist shows.

    ``due_now``: due at or before now (overdue included); ``overdue``: due
    before the start of today; ``today``: due today; ``upcoming``: due after now.
    Days are those of the definitions' ``time_zone`` (UTC when none).
    """

    DUE_NOW = "due_now"
    OVERDUE = "overdue"
    TODAY = "today"
    UPCOMING = "upcoming"


def _timed(definitions: Definitions) -> bool:
    return any(s.due is not None or s.automatic for s in definitions.steps.values())


def zone_of(uow: UnitOfWork, definitions: Definitions, prospect: Prospect) -> tzinfo:
    """The wall clock of the prospect's due rules: its contact's zone, else the project's."""
    if prospect.contact_id is not None:
        contact = uow.contacts.find(prospect.contact_id)
        if contact is not None and contact.time_zone:
            return zone(contact.time_zone, "time_zone")
    return cadence.project_zone(definitions)


def _fixed_anchor(project: Project, tz: tzinfo) -> datetime | None:
    if project.start_date is None:
        return None
    return datetime.combine(project.start_date, time(0), tzinfo=tz)


def keep_due(
    uow: UnitOfWork,
    definitions: Definitions,
    procedure: Procedure,
    project: Project,
    prospect: Prospect,
) -> cadence.Due | None:
    """Set the prospect's due fields from the rules (before it is saved); returns the due step."""
    if not _timed(definitions) and prospect.next_due_at is None:
        return None
    tz = zone_of(uow, definitions, prospect)
    return cadence.refresh_due(
        definitions, procedure, prospect, tz=tz, fixed_at=_fixed_anchor(project, tz)
    )


def _load(
    ctx: Context, uow: UnitOfWork, actor: str, prospect_id: str
) -> tuple[Prospect, Project, Definitions, Procedure]:
    from crm_procedures.services.campaigns import _load as load_step

    _viewer, prospect, project, defs, proc = load_step(
        ctx, uow, actor, prospect_id, "prospect.write"
    )
    return prospect, project, defs, proc


def _audit(
    uow: UnitOfWork, actor: str, prospect: Prospect, at: datetime, action: str, what: str
) -> None:
    from crm_procedures.services.campaigns import _audit as audit

    audit(uow, actor, prospect, at, action, what)


def pause_prospect(ctx: Context, actor: str, prospect_id: str, until: datetime) -> Prospect:
    """Pause a prospect from now until ``until``: nothing of it falls due before then,
    and its due step's clock stands still meanwhile (the step falls due later by
    as long as the pause lasts; :func:`~crm_procedures.procedures.cadence.paused`).

    Raises:
        InvalidInput: a naive ``until`` or one not after now.
        NotFound / AccessDenied: as for performing a step.
    """
    with ctx.store.unit_of_work() as uow:
        prospect, project, defs, proc = _load(ctx, uow, actor, prospect_id)
        now = ctx.now()
        cadence.pause(prospect, until, now)
        keep_due(uow, defs, proc, project, prospect)
        stored = uow.prospects.save(prospect)
        _audit(uow, actor, stored, now, "pause", f"until {until.isoformat()}")
        uow.commit()
    return stored


def resume_prospect(ctx: Context, actor: str, prospect_id: str) -> Prospect:
    """End a prospect's pause now: its due step falls due by its rules, later by the
    time the pause lasted (at once when that has passed)."""
    with ctx.store.unit_of_work() as uow:
        prospect, project, defs, proc = _load(ctx, uow, actor, prospect_id)
        now = ctx.now()
        cadence.resume(prospect, now)
        keep_due(uow, defs, proc, project, prospect)
        stored = uow.prospects.save(prospect)
        _audit(uow, actor, stored, now, "resume", "")
        uow.commit()
    return stored


def exit_sequence(ctx: Context, actor: str, prospect_id: str, event: str) -> Prospect:
    """Record exit ``event`` (a reply, a bounce, ...): when the procedure's ``exit_on``
    names it, the prospect leaves the automatic sequence (its automatic steps are no
    longer due). An event the procedure does not name changes nothing.

    Raises:
        InvalidInput: ``event`` is not an exit event
            (:data:`~crm_procedures.procedures.cadence.EXIT_EVENTS`).
    """
    if event not in cadence.EXIT_EVENTS:
        raise InvalidInput(
            "event", f"{event!r} is not an exit event ({', '.join(cadence.EXIT_EVENTS)})", event
        )
    with ctx.store.unit_of_work() as uow:
        prospect, project, defs, proc = _load(ctx, uow, actor, prospect_id)
        if event not in proc.exit_on or prospect.sequence_exit is not None:
            return prospect
        prospect.sequence_exit = event
        keep_due(uow, defs, proc, project, prospect)
        stored = uow.prospects.save(prospect)
        _audit(uow, actor, stored, ctx.now(), "exit", event)
        uow.commit()
    return stored


def assign_owner(ctx: Context, actor: str, prospect_id: str, owner: str | None) -> Prospect:
    """Make ``owner`` (a user) the prospect's owner, or clear it with ``None``.

    Raises:
        NotFound: an unknown user or prospect.
        AccessDenied: the actor lacks ``prospect.write``.
    """
    with ctx.store.unit_of_work() as uow:
        prospect, _project, _defs, _proc = _load(ctx, uow, actor, prospect_id)
        if owner is not None and uow.users.find(owner) is None:
            raise NotFound("user", str(owner))
        prospect.owner = None if owner is None else UserId(owner)
        stored = uow.prospects.save(prospect)
        _audit(uow, actor, stored, ctx.now(), "owner", owner or "")
        uow.commit()
    return stored


def assign_owners(
    ctx: Context,
    actor: str,
    project_id: str,
    role: str,
    *,
    rule: OwnerRule | None = None,
    prospect_ids: Iterable[str] | None = None,
) -> int:
    """Give every prospect of the project without an owner one among ``role``'s members.

    Round robin in id order, continuing after the prospects that have one
    (so repeated calls spread new prospects evenly), unless ``rule`` picks
    (a host's rule: it returns a member, or ``None`` to leave the prospect
    without one). Returns how many prospects got an owner.

    Raises:
        InvalidInput: the project names no members for ``role``, or ``rule``
            returns somebody who is not one.
        AccessDenied: the actor lacks ``prospect.write``.
    """
    with ctx.store.unit_of_work() as uow:
        viewer = resolve_viewer(uow, actor)
        require(viewer, "prospect.write", "prospects")
        project = uow.projects.get(project_id, viewer)
        members = list(project.members.get(role, ()))
        if not members:
            raise InvalidInput(
                "role", f"project {project.id} names no members in role {role!r}", role
            )
        everyone = uow.prospects.of_project(project.id)
        wanted = None if prospect_ids is None else set(prospect_ids)
        turn = sum(1 for p in everyone if p.owner is not None)
        given = 0
        for prospect in everyone:
            if prospect.owner is not None or (wanted is not None and prospect.id not in wanted):
                continue
            if rule is None:
                owner: str | None = members[turn % len(members)]
                turn += 1
            else:
                owner = rule(project, prospect, tuple(members))
                if owner is not None and owner not in members:
                    raise InvalidInput(
                        "rule", f"picked {owner!r}, who is not a member in role {role!r}", owner
                    )
            if owner is None:
                continue
            prospect.owner = UserId(owner)
            uow.prospects.save(prospect)
            given += 1
        uow.commit()
    return given


def _range(which: DueFilter, now: datetime, tz: tzinfo) -> tuple[datetime | None, datetime | None]:
    local = now.astimezone(tz)
    today = datetime.combine(local.date(), time(0), tzinfo=tz)
    tomorrow = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=tz)
    if which is DueFilter.DUE_NOW:
        return None, now + timedelta(microseconds=1)
    if which is DueFilter.OVERDUE:
        return None, today
    if which is DueFilter.TODAY:
        return today, tomorrow
    return now + timedelta(microseconds=1), None


def _due_range(
    ctx: Context,
    uow: UnitOfWork,
    viewer: Any,
    which: DueFilter | str,
    project_id: str | None,
    role: str | None,
) -> tuple[datetime | None, datetime | None]:
    """``[since, until)`` of ``which`` in the project's (else the definitions') days."""
    try:
        chosen = DueFilter(which)
    except ValueError:
        known = ", ".join(f.value for f in DueFilter)
        raise InvalidInput("which", f"{which!r} is not one of {known}", which) from None
    if role is not None and project_id is None:
        raise InvalidInput("project_id", "a worklist per role is per project: give project_id")
    now = ctx.now()
    tz = cadence.project_zone(ctx.definitions) if ctx.definitions is not None else None
    if project_id is not None:
        project = uow.projects.get(project_id, viewer)
        from crm_procedures.services.campaigns import _procedure_of

        defs, _proc = _procedure_of(ctx, uow, project)
        tz = cadence.project_zone(defs)
    return _range(chosen, require_aware(now, "now"), tz or UTC)


def due_worklist(
    ctx: Context,
    actor: str,
    *,
    which: DueFilter | str = DueFilter.DUE_NOW,
    project_id: str | None = None,
    role: str | None = None,
    owner: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Prospect]:
    """The steps people must perform, by due time: per role (of a project) and/or per owner.

    Lists running prospects whose next due step is not automatic, filtered
    by ``which`` (:class:`DueFilter`), visible to ``actor``, earliest due first.
    Whole prospects with their history: a page that only shows the due steps
    is :func:`due_page` (small rows from the due index, much cheaper).

    Raises:
        InvalidInput: an unknown filter, ``role`` without ``project_id``, or a bad page.
        NotFound: an unknown (or invisible) project.
    """
    with ctx.store.unit_of_work(read_only=True) as uow:
        viewer = resolve_viewer(uow, actor)
        since, until = _due_range(ctx, uow, viewer, which, project_id, role)
        return uow.prospects.due(
            project_id=project_id,
            role=role,
            owner=owner,
            since=since,
            until=until,
            automatic=False,
            viewer=viewer,
            limit=limit,
            offset=offset,
        )


def due_page(
    ctx: Context,
    actor: str,
    *,
    which: DueFilter | str = DueFilter.DUE_NOW,
    project_id: str | None = None,
    role: str | None = None,
    owner: str | None = None,
    limit: int = 50,
    after: DueEntry | DueCursor | None = None,
) -> list[DueEntry]:
    """The worklist of :func:`due_worklist` as small rows: one :class:`DueEntry` per
    prospect (its step, role, owner, due time), read from the store's due index.

    A worklist page shows these; a host loads a prospect when the user opens
    it. Pass the last entry of a page as ``after`` for the next page. A store
    without ``due_page`` (:class:`~crm_procedures.ports.DuePages`) is served
    from ``due`` with the same result.

    Raises:
        InvalidInput: an unknown filter, ``role`` without ``project_id``, a bad
            page size or cursor.
        NotFound: an unknown (or invisible) project.
    """
    check_page_size(limit)
    cursor = check_cursor(after)
    with ctx.store.unit_of_work(read_only=True) as uow:
        viewer = resolve_viewer(uow, actor)
        since, until = _due_range(ctx, uow, viewer, which, project_id, role)
        repo = uow.prospects
        if isinstance(repo, DuePages):
            return repo.due_page(
                project_id=project_id,
                role=role,
                owner=owner,
                since=since,
                until=until,
                automatic=False,
                viewer=viewer,
                limit=limit,
                after=after,
            )
        found: list[Prospect] = []
        while True:  # without the capability: every due prospect of the range, in pages
            page = repo.due(
                project_id=project_id,
                role=role,
                owner=owner,
                since=since,
                until=until,
                automatic=False,
                viewer=viewer,
                limit=_FALLBACK_PAGE,
                offset=len(found),
            )
            found.extend(page)
            if len(page) < _FALLBACK_PAGE:
                return due_entries(found, cursor, limit)


_FALLBACK_PAGE = 1000

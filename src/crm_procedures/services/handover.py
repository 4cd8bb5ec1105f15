"""Hand over an employee's open work in one call, for when they leave (P3, V5).

:func:`hand_over` moves everything that is still to be done or owned from one
employee to another, in one unit of work (all or nothing): open activities
and tasks (follow-up tasks included), future appointments (the attendees get
an updated invitation with the new organiser), prospects they own, relations
they are account manager of, and their visit reports. Completed activities
and past appointments stay with who did them: they are history. Every moved
record gets an audit entry with action ``hand-over``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import attrs

from crm_procedures.access.permissions import require
from crm_procedures.errors import InvalidInput
from crm_procedures.ids import UserId
from crm_procedures.model.activity import Activity
from crm_procedures.model.appointment import Appointment
from crm_procedures.model.audit import Change
from crm_procedures.model.prospect import Prospect
from crm_procedures.ports import UnitOfWork
from crm_procedures.services._records import active_user, audit, evolve
from crm_procedures.services.context import Context, resolve_viewer

__all__ = ["HandOver", "hand_over"]

_PAGE = 500
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_END_OF_TIME = datetime(9999, 1, 1, tzinfo=UTC)
_ACTION = "hand-over"


@attrs.frozen
class HandOver:
    """What :func:`hand_over` moved, by record kind (ids, in the order they moved).

    Attributes:
        activities: open activities and tasks.
        appointments: future (and still recurring) appointments.
        invitations: the outbox keys of the updated invitations sent.
        prospects: prospects the employee owned.
        relations: relations the employee was account manager of.
        visit_reports: visit reports the employee was account manager of.
    """

    activities: tuple[str, ...]
    appointments: tuple[str, ...]
    invitations: tuple[str, ...]
    prospects: tuple[str, ...]
    relations: tuple[str, ...]
    visit_reports: tuple[str, ...]


def _all(fetch: Callable[[int, int], list[Any]]) -> list[Any]:
    # Collected before any save, so that moving records does not disturb the paging.
    out: list[Any] = []
    while True:
        batch = fetch(_PAGE, len(out))
        out.extend(batch)
        if len(batch) < _PAGE:
            return out


def _owned_prospects(uow: UnitOfWork, user: str) -> list[Prospect]:
    out: list[Prospect] = []
    for project in uow.projects.visible(None):
        pid = project.id

        def page(n: int, o: int, pid: str = pid) -> list[Prospect]:
            return uow.prospects.of_project(pid, None, None, n, o)

        out.extend(p for p in _all(page) if p.owner == user)
    return out


def _future_appointments(uow: UnitOfWork, user: str, now: datetime) -> list[Appointment]:
    # Recurring series that began earlier still have occurrences to come.
    found = uow.appointments.agenda(user, _EPOCH, _END_OF_TIME)
    return [a for a in found if not a.cancelled and (a.start >= now or a.rrule is not None)]


def hand_over(ctx: Context, actor: str, from_user: str, to_user: str) -> HandOver:
    """Move the open work of ``from_user`` to ``to_user`` in one unit of work.

    ``from_user`` may be deactivated already (the usual case when somebody
    has left); ``to_user`` must be active. Moved appointments keep their UID,
    get a higher SEQUENCE and the new employee as organiser, and their
    attendees an updated invitation through the outbox.

    Raises:
        AccessDenied: the actor lacks ``activity.write`` or ``visit_report.write``.
        InvalidInput: the two users are the same, ``from_user`` does not
            exist, or ``to_user`` is unknown or deactivated.
    """
    if from_user == to_user:
        raise InvalidInput("to_user", "must differ from from_user", to_user)
    with ctx.store.unit_of_work() as uow:
        viewer = resolve_viewer(uow, actor)
        what = f"the open work of {from_user}"
        require(viewer, "activity.write", what)
        require(viewer, "visit_report.write", what)
        if not isinstance(from_user, str) or uow.users.find(from_user) is None:
            raise InvalidInput("from_user", f"there is no user {from_user!r}", from_user)
        successor = active_user(uow, to_user, "to_user")
        new_owner = UserId(successor.id)
        now = ctx.now()
        activities: list[Activity] = _all(
            lambda n, o: uow.activities.for_employee(from_user, None, True, n, o)
        )
        appointments = _future_appointments(uow, from_user, now)
        prospects = _owned_prospects(uow, from_user)
        relations = uow.relations.by_account_manager(from_user)
        reports = _all(
            lambda n, o: uow.visit_reports.search(account_manager=from_user, limit=n, offset=o)
        )
        for activity in activities:
            moved = uow.activities.save(evolve(activity, employee=new_owner))
            audit(uow, ctx, actor, "activity", activity, moved, _ACTION)
        invitations: list[str] = []
        for appointment in appointments:
            changes: dict[str, Any] = {"employee": new_owner, "sequence": appointment.sequence + 1}
            if successor.email:
                changes["organizer_email"] = successor.email
            moved_appointment = uow.appointments.save(evolve(appointment, **changes))
            audit(uow, ctx, actor, "appointment", appointment, moved_appointment, _ACTION)
            message = _invite(ctx, uow, moved_appointment, now)
            if message is not None:
                invitations.append(message)
        for prospect in prospects:
            prospect.owner = new_owner
            stored = uow.prospects.save(prospect)
            uow.audit.record(
                Change(
                    "prospect",
                    prospect.id,
                    stored.version,
                    now,
                    actor,
                    _ACTION,
                    {"owner": (from_user, to_user)},
                )
            )
        for relation in relations:
            moved_relation = uow.relations.save(evolve(relation, account_manager=new_owner))
            audit(uow, ctx, actor, "relation", relation, moved_relation, _ACTION)
        for report in reports:
            moved_report = uow.visit_reports.save(evolve(report, account_manager=new_owner))
            audit(uow, ctx, actor, "visit_report", report, moved_report, _ACTION)
        uow.commit()
    return HandOver(
        tuple(a.id for a in activities),
        tuple(a.id for a in appointments),
        tuple(invitations),
        tuple(p.id for p in prospects),
        tuple(r.id for r in relations),
        tuple(r.id for r in reports),
    )


def _invite(ctx: Context, uow: UnitOfWork, appointment: Appointment, now: datetime) -> str | None:
    """Record the updated invitation the agenda sends when an appointment changes."""
    from crm_procedures.services.agenda import _invitation

    message = _invitation(ctx, uow, appointment, "REQUEST", now)
    return None if message is None else message.key

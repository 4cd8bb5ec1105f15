"""Activity services (P2-P7, L4): contacts, meetings and tasks as users record them.

Each function takes the :class:`~crm_procedures.services.context.Context` and
the acting user's id, opens one unit of work, resolves the actor's viewer,
checks the write rule of :mod:`crm_procedures.access.permissions` (everybody
records and changes their own activities; another employee's need
``activity.write``), applies the pure rules of
:mod:`crm_procedures.model.activity_rules`, records an audit
:class:`~crm_procedures.model.audit.Change` and commits. Times come from the
context's clock, ids from its id generator.

Channel, priority and category are choice keys checked against the
installation's dictionaries (``settings`` or ``ctx.definitions``); see
:mod:`crm_procedures.services.record_settings`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import attrs

from crm_procedures.access.permissions import require_activity_write
from crm_procedures.errors import ActivityFrozen, InvalidInput, RuleViolation
from crm_procedures.ids import ActivityId, AppointmentId, ProjectId, RelationId, UserId
from crm_procedures.model import activity_rules as rules
from crm_procedures.model.activity import Activity, ActivityKind
from crm_procedures.model.appointment import Appointment
from crm_procedures.model.audit import Change
from crm_procedures.model.money import Money
from crm_procedures.model.project import Project
from crm_procedures.policies.rules import check as check_rules
from crm_procedures.ports import UnitOfWork
from crm_procedures.services._records import (
    active_user,
    audit,
    check_page,
    load_contacts,
    settings_for,
)
from crm_procedures.services.agenda import Occurrence, book_appointment_in
from crm_procedures.services.context import SYSTEM_USER, Context, resolve_viewer
from crm_procedures.services.mandatory_rules import rules_in
from crm_procedures.services.record_settings import (
    ACTIVITY_CATEGORY_DICTIONARY,
    ACTIVITY_CHANNEL_DICTIONARY,
    ACTIVITY_PRIORITY_DICTIONARY,
    RecordSettings,
)

__all__ = [
    "AgendaEntry",
    "activities_of_project",
    "activities_of_relation",
    "activity_history",
    "add_to_agenda",
    "complete_activity",
    "create_activity",
    "create_contact",
    "create_meeting",
    "create_task",
    "edit_note",
    "enforce_entry_rules",
    "follow_ups_of",
    "get_activity",
    "my_activities",
    "pause_activity_timer",
    "resume_activity_timer",
    "schedule_follow_up",
    "set_activity_contacts",
    "start_activity_timer",
    "stop_activity_timer",
    "update_activity",
]

_CHOICE_FIELDS = (
    ("channel", ACTIVITY_CHANNEL_DICTIONARY),
    ("priority", ACTIVITY_PRIORITY_DICTIONARY),
    ("category", ACTIVITY_CATEGORY_DICTIONARY),
)


def _check_choices(settings: RecordSettings, old: Activity | None, new: Activity) -> None:
    for field, dictionary in _CHOICE_FIELDS:
        value = getattr(new, field)
        # Only a value chosen now must be active; an old one stays valid.
        if old is None or value != getattr(old, field):
            settings.require(dictionary, value, field, new=True)


def _check_people(uow: UnitOfWork, old: Activity | None, new: Activity) -> None:
    if old is None or new.employee != old.employee:
        active_user(uow, new.employee, "employee")
    before = set(old.participants) if old is not None else set()
    for i, user in enumerate(new.participants):
        if user not in before:
            active_user(uow, user, f"participants[{i}]")


def _project_of(uow: UnitOfWork, activity: Activity) -> Project | None:
    return uow.projects.find(activity.project_id) if activity.project_id else None


def enforce_entry_rules(uow: UnitOfWork, old: Activity | None, new: Activity) -> None:
    """Apply the installation's mandatory-data rules to an activity being entered (A2, A3).

    A blocking violation that ``new`` brings (and ``old`` did not have) raises
    :class:`~crm_procedures.errors.RuleViolation`; so with the rule "every
    customer contact gets a short note", completing a contact without a note
    is refused. Without adopted rules nothing is checked.
    """
    ruleset = rules_in(uow)
    if ruleset is None:
        return
    before = {v.key for v in check_rules([old], ruleset)} if old is not None else set()
    blocking = [v for v in check_rules([new], ruleset) if v.blocking and v.key not in before]
    if blocking:
        raise RuleViolation(blocking)


# --- creating ---------------------------------------------------------------------------


def create_activity(
    ctx: Context,
    actor: str,
    kind: ActivityKind | str,
    *,
    relation_id: str | None = None,
    project_id: str | None = None,
    contact_ids: Iterable[str] = (),
    employee: str | None = None,
    subject: str = "",
    channel: str | None = None,
    priority: str | None = None,
    category: str | None = None,
    place: str = "",
    note: str = "",
    start: datetime | None = None,
    end: datetime | None = None,
    due: datetime | None = None,
    expected_cost: Money | None = None,
    actual_cost: Money | None = None,
    participants: Iterable[str] = (),
    settings: RecordSettings | None = None,
    start_timer: bool = False,
) -> Activity:
    """Record a new activity of ``kind`` (contact, meeting or task).

    With ``start_timer`` the activity's timer starts now, as the form opens
    (the Polish ERP's way); otherwise it starts when asked
    (:func:`start_activity_timer`).

    Defaults as the seed's forms fill them in: the employee is the acting user
    (P5), and the relation is the project's when the activity is recorded on a
    project (L4). The contacts must belong to the relation, and may be the
    project's one-off contacts (P6, L1). A contact and a meeting need a
    relation, a contact person and an employee (P5, P7).

    Raises:
        NotFound: the project or relation does not exist, or the project is
            not visible to the actor.
        AccessDenied: the actor records for another employee without
            ``activity.write``, or is unknown.
        InvalidInput: an unknown kind, a relation that differs from the
            project's, a contact of another relation (named), a missing required
            field, a choice not in its dictionary, a float cost, a naive
            datetime, an unknown or inactive employee.
    """
    cfg = settings_for(ctx, settings)
    try:
        kind = ActivityKind(kind)
    except ValueError:
        allowed = ", ".join(repr(k.value) for k in ActivityKind)
        raise InvalidInput("kind", f"{kind!r} is not an activity kind; use {allowed}") from None
    with ctx.store.unit_of_work() as uow:
        viewer = resolve_viewer(uow, actor)
        project = uow.projects.get(project_id, viewer) if project_id is not None else None
        if project is not None:
            if relation_id is None:
                relation_id = project.relation_id
            elif relation_id != project.relation_id:
                raise InvalidInput(
                    "relation_id",
                    f"project {project.id} is under relation {project.relation_id}, "
                    f"not {relation_id}",
                    relation_id,
                )
        if relation_id is not None:
            relation_id = uow.relations.get(relation_id).id
        if employee is None:
            if actor == SYSTEM_USER:
                raise InvalidInput("employee", "give the employee of an activity made by a job")
            employee = actor
        draft = Activity(
            id=ActivityId(ctx.new_id()),
            kind=kind,
            employee=UserId(employee),
            subject=subject,
            relation_id=RelationId(relation_id) if relation_id is not None else None,
            project_id=ProjectId(project.id) if project is not None else None,
            participants=tuple(participants),
            channel=channel,
            priority=priority,
            category=category,
            place=place,
            note=note,
            start=start,
            end=end,
            due=due,
            expected_cost=expected_cost,
            actual_cost=actual_cost,
            created_at=ctx.now(),
        )
        contacts = load_contacts(uow, contact_ids, project)
        activity = rules.check_required(rules.set_contacts(draft, contacts))
        if not isinstance(start_timer, bool):
            raise InvalidInput("start_timer", "must be true or false", start_timer)
        if start_timer:
            activity = rules.start_timer(activity, ctx.now())
        _check_choices(cfg, None, activity)
        _check_people(uow, None, activity)
        require_activity_write(viewer, activity, project)
        enforce_entry_rules(uow, None, activity)
        stored = uow.activities.add(activity)
        audit(uow, ctx, actor, "activity", None, stored)
        uow.commit()
    return stored


def create_contact(ctx: Context, actor: str, **fields: Any) -> Activity:
    """Record a contact (one employee with a relation's contact person), P2/P5.

    Takes the keyword arguments of :func:`create_activity`; raises as it does.
    """
    return create_activity(ctx, actor, ActivityKind.CONTACT, **fields)


def create_meeting(ctx: Context, actor: str, **fields: Any) -> Activity:
    """Record a meeting (participants, a time frame, a place, costs), P2/P7.

    Takes the keyword arguments of :func:`create_activity`; raises as it does.
    """
    return create_activity(ctx, actor, ActivityKind.MEETING, **fields)


def create_task(ctx: Context, actor: str, **fields: Any) -> Activity:
    """Record a task (L4: "the secretariat sends information"); needs only an employee.

    Takes the keyword arguments of :func:`create_activity`; raises as it does.
    """
    return create_activity(ctx, actor, ActivityKind.TASK, **fields)


# --- changing ---------------------------------------------------------------------------


def _modify(
    ctx: Context,
    actor: str,
    activity_id: str,
    step: Callable[[UnitOfWork, Activity, datetime], Activity],
    *,
    action: str = "update",
    settings: RecordSettings | None = None,
) -> Activity:
    """Load, check, change with ``step``, check again, save, audit, commit."""
    cfg = settings_for(ctx, settings)
    with ctx.store.unit_of_work() as uow:
        viewer = resolve_viewer(uow, actor)
        old = uow.activities.get(activity_id, viewer)
        project = _project_of(uow, old)
        require_activity_write(viewer, old, project)
        new = step(uow, old, ctx.now())
        if new == old:
            return old
        _check_choices(cfg, old, new)
        _check_people(uow, old, new)
        # Handing an activity to someone else is a write on their activity too.
        require_activity_write(viewer, new, project)
        enforce_entry_rules(uow, old, new)
        stored = uow.activities.save(new)
        audit(uow, ctx, actor, "activity", old, stored, action)
        uow.commit()
    return stored


def update_activity(
    ctx: Context,
    actor: str,
    activity_id: str,
    *,
    settings: RecordSettings | None = None,
    **fields: Any,
) -> Activity:
    """Change fields of an open activity (see ``activity_rules.CHANGEABLE_FIELDS``).

    Raises:
        NotFound: no such activity, or the actor may not see it.
        AccessDenied: the actor may not write it (or hand it to that employee).
        ActivityFrozen: the activity is completed.
        InvalidInput: an unknown or managed field, a value refused by the model
            or by a dictionary, an unknown employee, a required field emptied.
    """
    return _modify(
        ctx,
        actor,
        activity_id,
        lambda _uow, a, _now: rules.change(a, **fields),
        settings=settings,
    )


def edit_note(ctx: Context, actor: str, activity_id: str, note: str) -> Activity:
    """Replace the note of an open activity (it stays editable until completion, P5).

    Raises:
        NotFound: no such activity, or the actor may not see it.
        AccessDenied: the actor may not write it.
        ActivityFrozen: the activity is completed.
        InvalidInput: the note holds control characters.
    """
    return _modify(ctx, actor, activity_id, lambda _uow, a, _now: rules.set_note(a, note))


def set_activity_contacts(
    ctx: Context,
    actor: str,
    activity_id: str,
    contact_ids: Iterable[str],
    *,
    relation_id: str | None = None,
) -> Activity:
    """Set the contact persons of an activity (P6), optionally with a new relation.

    Raises:
        NotFound: no such activity, or the actor may not see it; an unknown relation.
        AccessDenied: the actor may not write it.
        ActivityFrozen: the activity is completed.
        InvalidInput: an unknown contact; a contact of another relation (named);
            contacts without a relation; a contact activity left without one.
    """
    ids = tuple(contact_ids) if not isinstance(contact_ids, str) else (contact_ids,)

    def step(uow: UnitOfWork, a: Activity, _now: datetime) -> Activity:
        if relation_id is not None:
            uow.relations.get(relation_id)
        contacts = load_contacts(uow, ids, _project_of(uow, a))
        return rules.set_contacts(a, contacts, relation_id)

    return _modify(ctx, actor, activity_id, step)


def start_activity_timer(ctx: Context, actor: str, activity_id: str) -> Activity:
    """Start the activity's timer now (P5 "Start").

    Raises:
        NotFound, AccessDenied: as for every change.
        ActivityFrozen: the activity is completed.
        InvalidInput: the timer runs already, or ran before (resume it).
    """
    return _modify(
        ctx, actor, activity_id, lambda _u, a, now: rules.start_timer(a, now), action="timer"
    )


def pause_activity_timer(ctx: Context, actor: str, activity_id: str) -> Activity:
    """Pause the activity's running timer now (P5 "Pause").

    Raises:
        NotFound, AccessDenied: as for every change.
        ActivityFrozen: the activity is completed.
        InvalidInput: the timer is not running.
    """
    return _modify(
        ctx, actor, activity_id, lambda _u, a, now: rules.pause_timer(a, now), action="timer"
    )


def resume_activity_timer(ctx: Context, actor: str, activity_id: str) -> Activity:
    """Resume the activity's paused timer now.

    Raises:
        NotFound, AccessDenied: as for every change.
        ActivityFrozen: the activity is completed.
        InvalidInput: the timer is running already.
    """
    return _modify(
        ctx, actor, activity_id, lambda _u, a, now: rules.resume_timer(a, now), action="timer"
    )


def stop_activity_timer(ctx: Context, actor: str, activity_id: str) -> Activity:
    """Stop the activity's timer now (a paused timer stays as it is).

    Raises:
        NotFound, AccessDenied: as for every change.
        ActivityFrozen: the activity is completed.
    """
    return _modify(
        ctx, actor, activity_id, lambda _u, a, now: rules.stop_timer(a, now), action="timer"
    )


def complete_activity(
    ctx: Context,
    actor: str,
    activity_id: str,
    *,
    note: str | None = None,
    outcome: str | None = None,
) -> Activity:
    """Complete the activity now, after setting its final note and outcome if given.

    From then on it is frozen (P5 "Completed"). A running timer stops now.

    Raises:
        NotFound, AccessDenied: as for every change.
        ActivityFrozen: the activity was completed already.
        InvalidInput: a note or outcome the model refuses.
    """

    def step(_uow: UnitOfWork, a: Activity, now: datetime) -> Activity:
        changes: dict[str, Any] = {}
        if note is not None:
            changes["note"] = note
        if outcome is not None:
            changes["outcome"] = outcome
        return rules.complete(rules.change(a, **changes), now)

    return _modify(ctx, actor, activity_id, step, action="complete")


def schedule_follow_up(
    ctx: Context,
    actor: str,
    activity_id: str,
    *,
    in_hours: int | None = None,
    in_days: int | None = None,
    in_weeks: int | None = None,
    on: date | datetime | None = None,
    business_days: bool = False,
) -> Activity:
    """Create the analogous next activity N hours/days/weeks later or on a date (P5).

    See :func:`crm_procedures.model.activity_rules.follow_up` for how the time
    is computed (zone-aware; ``business_days`` skips Saturdays and Sundays).
    The original activity is only read, so a completed one can be followed up.

    Raises:
        NotFound: no such activity, or the actor may not see it.
        AccessDenied: the actor may not write activities of its employee.
        InvalidInput: no or conflicting interval, a naive datetime, or a
            follow-up in the past.
    """
    with ctx.store.unit_of_work() as uow:
        viewer = resolve_viewer(uow, actor)
        original = uow.activities.get(activity_id, viewer)
        project = _project_of(uow, original)
        nxt = rules.follow_up(
            original,
            in_hours=in_hours,
            in_days=in_days,
            in_weeks=in_weeks,
            on=on,
            business_days=business_days,
            now=ctx.now(),
            new_id=ctx.new_id(),
        )
        require_activity_write(viewer, nxt, project)
        stored = uow.activities.add(nxt)
        audit(uow, ctx, actor, "activity", None, stored, "follow-up")
        uow.commit()
    return stored


# --- the agenda -------------------------------------------------------------------------


@attrs.frozen
class AgendaEntry:
    """What :func:`add_to_agenda` did.

    Attributes:
        activity: the activity, now carrying ``appointment_id``.
        appointment: the appointment in the employee's agenda.
        conflicts: occurrences of the employee's other appointments that
            overlap it (only when booked with ``allow_conflicts=True``).
    """

    activity: Activity
    appointment: Appointment
    conflicts: tuple[Occurrence, ...] = ()


def add_to_agenda(
    ctx: Context,
    actor: str,
    activity_id: str,
    *,
    allow_conflicts: bool = False,
    invite_contact: bool = True,
    settings: RecordSettings | None = None,
) -> AgendaEntry:
    """Put an open activity in its employee's agenda (P5 "add to the employee's agenda").

    The appointment runs from the activity's start (or due time) to its end,
    or for ``settings.appointment_minutes``; its title is the subject, its
    place the activity's place. It is booked through the agenda service
    (:func:`crm_procedures.services.agenda.book_appointment_in`), which records
    the invitation to the contact in the outbox, in the same unit of work
    that links the appointment on the activity: both happen, or neither. A
    meeting's participants are the appointment's participants: they are
    invited with the employee and their calendars get it (P2, I2).

    Raises:
        NotFound: no such activity, or the actor may not see it.
        AccessDenied: the actor may not write it or manage that agenda.
        ActivityFrozen: the activity is completed.
        InvalidInput: the activity has no start or due time, or is in the
            agenda already.
        AppointmentConflict: it overlaps other appointments of the employee or
            of a participant, and ``allow_conflicts`` is false.
    """
    cfg = settings_for(ctx, settings)
    with ctx.store.unit_of_work() as uow:
        viewer = resolve_viewer(uow, actor)
        old = uow.activities.get(activity_id, viewer)
        require_activity_write(viewer, old, _project_of(uow, old))
        if old.completed:
            raise ActivityFrozen(old.id, "appointment_id")
        if old.appointment_id:
            raise InvalidInput(
                "appointment_id",
                f"activity {old.id} is in the agenda already (appointment {old.appointment_id})",
                old.appointment_id,
            )
        start = old.start or old.due
        if start is None:
            raise InvalidInput(
                "start", "give the activity a start or due time before adding it to the agenda"
            )
        end = old.end if old.end is not None and old.end > start else None
        booking = book_appointment_in(
            uow,
            ctx,
            viewer,
            employee=old.employee,
            start=start,
            end=end or start + timedelta(minutes=cfg.appointment_minutes),
            title=old.subject or old.kind.value.capitalize(),
            relation_id=old.relation_id,
            contact_id=old.contact_ids[0] if old.contact_ids else None,
            project_id=old.project_id,
            location=old.place,
            description=old.note,
            allow_conflicts=allow_conflicts,
            invite_contact=invite_contact,
            participants=old.participants,
        )
        new = rules.change(old, appointment_id=AppointmentId(booking.appointment.id))
        stored = uow.activities.save(new)
        audit(uow, ctx, actor, "activity", old, stored, "agenda")
        uow.commit()
    return AgendaEntry(stored, booking.appointment, tuple(booking.conflicts))


# --- reading ----------------------------------------------------------------------------


def get_activity(ctx: Context, actor: str, activity_id: str) -> Activity:
    """The activity, if the actor may see it (P4).

    Raises:
        NotFound: no such activity, or the actor may not see it.
    """
    with ctx.store.unit_of_work(read_only=True) as uow:
        viewer = resolve_viewer(uow, actor)
        return uow.activities.get(activity_id, viewer)


_EPOCH_KEY = datetime(1970, 1, 1, tzinfo=UTC)


def _kind_filter(kind: ActivityKind | str | None) -> str | None:
    if kind is None:
        return None
    try:
        return ActivityKind(kind).value
    except ValueError:
        allowed = ", ".join(repr(k.value) for k in ActivityKind)
        raise InvalidInput("kind", f"{kind!r} is not an activity kind; use {allowed}") from None


def my_activities(
    ctx: Context,
    actor: str,
    *,
    employee: str | None = None,
    open_only: bool = False,
    kind: ActivityKind | str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Activity]:
    """ "My activities" across all relations (P3), newest first, one page.

    ``employee`` lists another employee's activities instead, as far as the
    actor may see them (P4). ``kind`` keeps one kind (the contacts, meetings
    and tasks tabs), filtered inside the query so pages stay full.

    Raises:
        InvalidInput: a page size outside 1..1000, a negative offset, or an
            unknown kind.
    """
    check_page(limit, offset)
    wanted = _kind_filter(kind)
    with ctx.store.unit_of_work(read_only=True) as uow:
        viewer = resolve_viewer(uow, actor)
        who = employee if employee is not None else viewer.user_id
        return uow.activities.for_employee(
            who, viewer, open_only=open_only, limit=limit, offset=offset, kind=wanted
        )


def activities_of_relation(
    ctx: Context,
    actor: str,
    relation_id: str,
    *,
    kind: ActivityKind | str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Activity]:
    """All activities of one relation the actor may see (P3, P4), newest first, one page.

    ``kind`` keeps one kind, as for :func:`my_activities`.

    Raises:
        InvalidInput: a page size outside 1..1000, a negative offset, or an
            unknown kind.
    """
    check_page(limit, offset)
    wanted = _kind_filter(kind)
    with ctx.store.unit_of_work(read_only=True) as uow:
        viewer = resolve_viewer(uow, actor)
        return uow.activities.of_relation(
            relation_id, viewer, limit=limit, offset=offset, kind=wanted
        )


def activities_of_project(
    ctx: Context,
    actor: str,
    project_id: str,
    *,
    kind: ActivityKind | str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Activity]:
    """The activities of one project the actor may see (L4), newest first, one page.

    ``kind`` keeps one kind, as for :func:`my_activities`.

    Raises:
        NotFound: no such project, or the actor may not see it.
        InvalidInput: a page size outside 1..1000, a negative offset, or an
            unknown kind.
    """
    check_page(limit, offset)
    wanted = _kind_filter(kind)
    with ctx.store.unit_of_work(read_only=True) as uow:
        viewer = resolve_viewer(uow, actor)
        uow.projects.get(project_id, viewer)
        return uow.activities.of_project(
            project_id, viewer, limit=limit, offset=offset, kind=wanted
        )


def follow_ups_of(ctx: Context, actor: str, activity_id: str) -> list[Activity]:
    """The follow-ups of an activity that the actor may see, oldest first (P5).

    The forward link of ``follow_up_of``: from an activity to the activities
    scheduled after it. Follow-ups are on the same relation (or project, or
    employee for a task without either), so they are found among those.

    Raises:
        NotFound: no such activity, or the actor may not see it.
    """
    with ctx.store.unit_of_work(read_only=True) as uow:
        viewer = resolve_viewer(uow, actor)
        original = uow.activities.get(activity_id, viewer)
        relation_id, project_id = original.relation_id, original.project_id

        def fetch(n: int, o: int) -> list[Activity]:
            if relation_id is not None:
                return uow.activities.of_relation(relation_id, viewer, n, o)
            if project_id is not None:
                return uow.activities.of_project(project_id, viewer, n, o)
            return uow.activities.for_employee(original.employee, viewer, False, n, o)

        found: list[Activity] = []
        seen = 0
        while True:
            batch = fetch(500, seen)
            seen += len(batch)
            found.extend(a for a in batch if a.follow_up_of == original.id)
            if len(batch) < 500:
                break
    return sorted(found, key=lambda a: (a.created_at or _EPOCH_KEY, a.id))


def activity_history(ctx: Context, actor: str, activity_id: str) -> list[Change]:
    """Every recorded change of an activity the actor may see, oldest first.

    Raises:
        NotFound: no such activity, or the actor may not see it.
    """
    with ctx.store.unit_of_work(read_only=True) as uow:
        viewer = resolve_viewer(uow, actor)
        uow.activities.get(activity_id, viewer)
        return uow.audit.of_record("activity", activity_id)

"""Campaigns: running prospects of a project through a procedure (WATCH W1-W10).

Each function is one user action in one unit of work: it loads what it needs
through the store (visibility applied), asks the engine
(:mod:`crm_procedures.procedures.runtime`) whether and how the action goes,
records the side effects (an e-mail, an appointment with its invitation) in
the outbox, appends an audit entry, and commits. Nothing is written when
anything fails.

Who may act in which role: a user acts as role ``R`` on a project when the
project lists them among ``members[R]``; when the project lists nobody for
``R``, any user whose ``roles`` include ``R`` may. Holders of ``admin`` may act
in every role. Writing also needs ``prospect.write`` (corrections
``prospect.correct``).

A campaign pins the version of the definitions it started with: the bundle is
stored through the store's definition repository, and every step is checked
against that stored version, so a changed procedure never rewrites a running
campaign.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import attrs

from crm_procedures.access.permissions import require
from crm_procedures.access.viewer import Viewer
from crm_procedures.errors import AccessDenied, DefinitionError, InvalidInput, NotFound
from crm_procedures.ids import ActivityId, ProjectId, ProspectId, RelationId, UserId
from crm_procedures.model._checks import MAX_LINE, require_aware
from crm_procedures.model.activity import Activity, ActivityKind
from crm_procedures.model.appointment import Appointment
from crm_procedures.model.audit import Change
from crm_procedures.model.project import Project
from crm_procedures.model.prospect import HistoryEntry, Prospect, ProspectStatus
from crm_procedures.ports import Store, UnitOfWork
from crm_procedures.procedures import runtime
from crm_procedures.procedures.definitions import dump_definitions, load_definitions
from crm_procedures.procedures.effects import BookAppointment, CustomEffect, Effect, SendEmail
from crm_procedures.procedures.procedure import Definitions, Procedure
from crm_procedures.procedures.templates import render, template_values
from crm_procedures.procedures.validation import errors as _errors
from crm_procedures.procedures.validation import validate as _validate
from crm_procedures.services.context import Context, resolve_viewer

__all__ = [
    "DEFINITIONS_KEY",
    "StepHandler",
    "StepResult",
    "add_prospects",
    "close_prospect",
    "correct_step",
    "definitions_of",
    "mark_won",
    "perform_step",
    "prospect_history",
    "release",
    "reopen_prospect",
    "start_campaign",
    "worklist",
]

DEFINITIONS_KEY = "definitions"
"""The key under which campaigns store the definitions bundle they pin."""

StepHandler = Callable[[UnitOfWork, Context, Prospect, CustomEffect], None]
"""Carries out the effect of an installation's own step kind, inside the unit of work."""


@attrs.frozen
class StepResult:
    """What performing a step did.

    Attributes:
        prospect: the prospect as stored after the step.
        effects: the effects the engine returned.
        message_keys: outbox keys of the e-mails and invitations recorded.
        appointment: the appointment booked by a make-appointment step.
    """

    prospect: Prospect
    effects: tuple[Effect, ...]
    message_keys: tuple[str, ...] = ()
    appointment: Appointment | None = None


# Stored definitions are immutable per version: cache the structured bundle
# per store so a step does not parse the TOML-shaped data again.
_BUNDLES: weakref.WeakKeyDictionary[Any, dict[int, Definitions]] = weakref.WeakKeyDictionary()


def _definitions_at(store: Store, uow: UnitOfWork, version: int) -> Definitions:
    per_store = _BUNDLES.setdefault(store, {})
    found = per_store.get(version)
    if found is None:
        found = load_definitions(uow.definitions.get(DEFINITIONS_KEY, version))
        per_store[version] = found
    return found


def _pin_definitions(ctx: Context, uow: UnitOfWork) -> tuple[Definitions, int]:
    """Validate and store the context's definitions (unless the latest stored version equals them).

    A bundle with error findings is refused before anything is stored: pinned,
    it would make every later step of the campaign fail.
    """
    if ctx.definitions is None:
        raise InvalidInput(
            "definitions", "the application has no definitions; load a procedure first"
        )
    found = _errors(_validate(ctx.definitions))
    if found:
        raise DefinitionError(found)
    data = dump_definitions(ctx.definitions)
    versions = uow.definitions.versions(DEFINITIONS_KEY)
    if versions and uow.definitions.get(DEFINITIONS_KEY, versions[-1]) == data:
        return ctx.definitions, versions[-1]
    return ctx.definitions, uow.definitions.put(DEFINITIONS_KEY, data)


def definitions_of(ctx: Context, project_id: str) -> Definitions:
    """The definitions bundle a campaign project is pinned to. Raises NotFound."""
    with ctx.store.unit_of_work(read_only=True) as uow:
        project = uow.projects.get(project_id)
        return _procedure_of(ctx, uow, project)[0]


def _procedure_of(ctx: Context, uow: UnitOfWork, project: Project) -> tuple[Definitions, Procedure]:
    if project.procedure is None or project.procedure_version is None:
        raise InvalidInput(
            "project", f"project {project.id} runs no procedure; start it with start_campaign"
        )
    defs = _definitions_at(ctx.store, uow, project.procedure_version)
    return defs, defs.procedure(project.procedure)


def _require_role(uow: UnitOfWork, viewer: Viewer, project: Project, role: str) -> None:
    if viewer.has("admin"):
        return
    members = project.members.get(role)
    if members:
        if viewer.user_id in members:
            return
    else:
        user = uow.users.find(viewer.user_id)
        if user is not None and role in user.roles:
            return
    raise AccessDenied(viewer.user_id, f"role:{role}", f"project {project.id}")


def _audit(
    uow: UnitOfWork, actor: str, prospect: Prospect, at: datetime, action: str, what: str
) -> None:
    uow.audit.record(
        Change(
            record_kind="prospect",
            record_id=prospect.id,
            version=prospect.version,
            at=at,
            actor=actor,
            action=action,
            changes={"history": ("", what)},
        )
    )


def start_campaign(
    ctx: Context,
    actor: str,
    *,
    relation_id: str,
    name: str,
    procedure: str,
    description: str = "",
    responsible: str | None = None,
    members: Mapping[str, Iterable[str]] | None = None,
    linked_users: Iterable[str] = (),
    linked_groups: Iterable[str] = (),
    start_date: date | None = None,
    end_date: date | None = None,
) -> Project:
    """Create a campaign project under ``relation_id`` (the client) running ``procedure``.

    The installation's definitions are validated and stored (a new version
    only when they changed) and the project pins that version.

    Raises:
        NotFound: unknown relation or procedure.
        AccessDenied: the actor lacks ``project.write``.
        InvalidInput: bad field values; a member role the procedure does not know.
        DefinitionError: the installation's definitions have error findings
            (:func:`~crm_procedures.procedures.validation.validate`); nothing is stored.
    """
    with ctx.store.unit_of_work() as uow:
        viewer = resolve_viewer(uow, actor)
        require(viewer, "project.write", "campaigns")
        if uow.relations.find(relation_id) is None:
            raise NotFound("relation", relation_id)
        defs, version = _pin_definitions(ctx, uow)
        proc = defs.procedure(procedure)
        roles = dict(members or {})
        for role in roles:
            if role not in proc.roles:
                known = ", ".join(repr(r) for r in proc.roles)
                raise InvalidInput("members", f"role {role!r} is not in {procedure!r} ({known})")
        for users in roles.values():
            for user_id in users:
                if uow.users.find(user_id) is None:
                    raise NotFound("user", user_id)
        project = Project(
            id=ProjectId(ctx.new_id()),
            relation_id=RelationId(relation_id),
            name=name,
            description=description,
            start_date=start_date,
            end_date=end_date,
            responsible=UserId(responsible) if responsible else UserId(actor),
            members={r: tuple(u) for r, u in roles.items()},
            linked_users=frozenset(linked_users),
            linked_groups=frozenset(linked_groups),
            procedure=procedure,
            procedure_version=version,
        )
        stored = uow.projects.add(project)
        uow.audit.record(
            Change(
                record_kind="project",
                record_id=stored.id,
                version=stored.version,
                at=ctx.now(),
                actor=actor,
                action="create",
                changes={"procedure": ("", f"{procedure} (definitions v{version})")},
            )
        )
        uow.commit()
    return stored


def add_prospects(
    ctx: Context,
    actor: str,
    project_id: str,
    relations: Sequence[tuple[str, str | None]],
) -> list[Prospect]:
    """Add relations (each with an optional contact id) to a campaign as suspects.

    They start in status *preparing*. Bulk loading from a file goes through
    :func:`crm_procedures.services.imports.import_suspects`.

    Raises:
        NotFound: unknown project, relation or contact.
        InvalidInput: a contact that does not belong to its relation.
        AccessDenied: the actor lacks ``prospect.write``.
    """
    with ctx.store.unit_of_work() as uow:
        viewer = resolve_viewer(uow, actor)
        require(viewer, "prospect.write", "prospects")
        project = uow.projects.get(project_id, viewer)
        made: list[Prospect] = []
        for relation_id, contact_id in relations:
            if uow.relations.find(relation_id) is None:
                raise NotFound("relation", relation_id)
            if contact_id is not None:
                contact = uow.contacts.find(contact_id)
                if contact is None:
                    raise NotFound("contact", contact_id)
                if contact.relation_id != relation_id:
                    raise InvalidInput(
                        "contact_id",
                        f"contact {contact_id} belongs to relation {contact.relation_id}, "
                        f"not {relation_id}",
                        contact_id,
                    )
            made.append(
                Prospect(
                    id=ProspectId(ctx.new_id()),
                    project_id=project.id,
                    relation_id=RelationId(relation_id),
                    contact_id=contact_id,
                )
            )
        uow.prospects.add_many(made)
        uow.commit()
    for p in made:
        p.version = 1
    return made


def release(
    ctx: Context, actor: str, project_id: str, prospect_ids: Iterable[str] | None = None
) -> int:
    """Release prospects in preparation (all of the project's, or the given ones) to running.

    Returns how many were released; prospects not in preparation are left as they are.

    Raises:
        NotFound: unknown project or prospect.
        AccessDenied: the actor lacks ``prospect.write``.
    """
    with ctx.store.unit_of_work() as uow:
        viewer = resolve_viewer(uow, actor)
        require(viewer, "prospect.write", "prospects")
        project = uow.projects.get(project_id, viewer)
        now = ctx.now()
        if prospect_ids is None:
            todo = uow.prospects.of_project(
                project.id, Viewer.system(), status=ProspectStatus.PREPARING
            )
        else:
            # A prospect named twice is released once (not loaded twice and saved stale).
            todo = [uow.prospects.get(pid) for pid in dict.fromkeys(prospect_ids)]
        released = 0
        for prospect in todo:
            if prospect.project_id != project.id:
                raise NotFound("prospect", prospect.id)
            if prospect.status is not ProspectStatus.PREPARING:
                continue
            runtime.release(prospect, UserId(actor), now)
            uow.prospects.save(prospect)
            released += 1
        uow.commit()
    return released


def _load(
    ctx: Context, uow: UnitOfWork, actor: str, prospect_id: str, permission: str
) -> tuple[Viewer, Prospect, Project, Definitions, Procedure]:
    viewer = resolve_viewer(uow, actor)
    prospect = uow.prospects.get(prospect_id, viewer)
    project = uow.projects.get(prospect.project_id, viewer)
    require(viewer, permission, f"prospect {prospect.id}")
    defs, proc = _procedure_of(ctx, uow, project)
    return viewer, prospect, project, defs, proc


def perform_step(
    ctx: Context,
    actor: str,
    prospect_id: str,
    step: str,
    *,
    role: str,
    note: str = "",
    appointment_start: datetime | None = None,
    appointment_with: str | None = None,
    location: str = "",
    next_action_at: datetime | None = None,
    handlers: Mapping[str, StepHandler] | None = None,
    expected_version: int | None = None,
    record_activity: bool = True,
) -> StepResult:
    """``actor``, acting as ``role``, performs ``step`` on a prospect.

    A send-e-mail step renders its template for the prospect's contact and
    records the e-mail in the outbox; a make-appointment step books an
    appointment of the step's duration at ``appointment_start`` with
    ``appointment_with`` (default: the first project member in the step's
    ``appointment_with`` role, else the actor) and records its invitation;
    a step of an installation's own kind calls its handler from ``handlers``.
    All of it commits together with the step, or not at all.

    With ``record_activity`` the step is also recorded as a completed
    activity of the actor (a contact by phone, or by e-mail for an e-mail
    step; a task when the prospect has no contact person), so activity lists
    and per-employee reports include the campaign's work.

    ``expected_version`` is the prospect version the user saw; when the
    store holds another one the step is refused with ConcurrencyConflict
    (two users acting on one prospect at once cannot both win).

    Raises:
        NotFound: unknown (or invisible) prospect.
        AccessDenied: the actor may not act in ``role`` or lacks ``prospect.write``.
        TransitionNotAllowed, ProspectClosed, ProspectNotReleased: refused by the engine.
        ConcurrencyConflict: somebody else changed the prospect meanwhile.
        InvalidInput: a make-appointment step without ``appointment_start``; an
            e-mail step on a prospect without a contact with an e-mail address.
    """
    with ctx.store.unit_of_work() as uow:
        viewer, prospect, project, defs, proc = _load(
            ctx, uow, actor, prospect_id, "prospect.write"
        )
        if expected_version is not None and expected_version != prospect.version:
            from crm_procedures.errors import ConcurrencyConflict

            raise ConcurrencyConflict("prospect", prospect.id, expected_version, prospect.version)
        _require_role(uow, viewer, project, role)
        now = ctx.now()
        effects = runtime.perform(proc, prospect, step, role, UserId(actor), now, note)
        if next_action_at is not None:
            prospect.next_action_at = require_aware(next_action_at, "next_action_at")
        keys: list[str] = []
        appointment: Appointment | None = None
        seq = len(prospect.history)
        for effect in effects:
            if isinstance(effect, SendEmail):
                keys.append(_send_email(ctx, uow, defs, project, prospect, effect, actor, seq))
            elif isinstance(effect, BookAppointment):
                appointment, key = _book(
                    ctx,
                    uow,
                    viewer,
                    project,
                    prospect,
                    effect,
                    appointment_start,
                    appointment_with,
                    location,
                    defs,
                )
                keys.append(key)
            else:
                handler = (handlers or {}).get(effect.kind)
                if handler is None:
                    raise InvalidInput(
                        "handlers",
                        f"step {effect.step!r} is of kind {effect.kind!r}; pass a handler "
                        f"for it (handlers={{{effect.kind!r}: ...}})",
                    )
                handler(uow, ctx, prospect, effect)
        if record_activity:
            uow.activities.add(
                _step_activity(ctx, defs, project, prospect, step, actor, note, now, appointment)
            )
        stored = uow.prospects.save(prospect)
        _audit(uow, actor, stored, now, "perform", f"{role}: {step}")
        uow.commit()
    return StepResult(stored, effects, tuple(keys), appointment)


def _step_activity(
    ctx: Context,
    defs: Definitions,
    project: Project,
    prospect: Prospect,
    step: str,
    actor: str,
    note: str,
    now: datetime,
    appointment: Appointment | None,
) -> Activity:
    definition = defs.step(step)
    has_contact = prospect.contact_id is not None
    return Activity(
        id=ActivityId(ctx.new_id()),
        kind=ActivityKind.CONTACT if has_contact else ActivityKind.TASK,
        employee=UserId(actor),
        subject=definition.name,
        relation_id=prospect.relation_id,
        project_id=project.id,
        contact_ids=(prospect.contact_id,) if prospect.contact_id else (),
        channel=("email" if definition.kind == "send_email" else "phone") if has_contact else None,
        note=note,
        outcome=step,
        start=now,
        end=now,
        appointment_id=appointment.id if appointment else None,
        created_at=now,
        completed_at=now,
    )


def _send_email(
    ctx: Context,
    uow: UnitOfWork,
    defs: Definitions,
    project: Project,
    prospect: Prospect,
    effect: SendEmail,
    actor: str,
    seq: int,
) -> str:
    from crm_procedures.services.messages import build_email, outbox_message_for_email

    if effect.contact_id is None:
        raise InvalidInput(
            "contact_id",
            f"step {effect.step!r} sends an e-mail, but prospect {prospect.id} has no contact "
            "person; set one first",
        )
    contact = uow.contacts.get(effect.contact_id)
    if not contact.email:
        raise InvalidInput(
            "contact.email",
            f"contact {contact.full_name} has no e-mail address; step {effect.step!r} cannot "
            "send its e-mail",
        )
    relation = uow.relations.get(prospect.relation_id)
    sender = uow.users.find(actor)
    sender_name = sender.name if sender else ctx.sender_name
    template = defs.template(effect.template)
    values = template_values(
        contact, relation, project, sender_name, ctx.sender_email, language=template.language
    )
    rendered = render(template, values)
    key = f"prospect:{prospect.id}:entry:{seq}:mail"
    msg = build_email(
        sender=(sender_name, ctx.sender_email),
        to=(contact.full_name, contact.email),
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        key=key,
        date=ctx.now(),
        reply_to=(sender.name, sender.email) if sender and sender.email else None,
    )
    uow.outbox.add(outbox_message_for_email(msg, key, ctx.now(), ctx.new_id))
    return key


def _book(
    ctx: Context,
    uow: UnitOfWork,
    viewer: Viewer,
    project: Project,
    prospect: Prospect,
    effect: BookAppointment,
    start: datetime | None,
    with_user: str | None,
    location: str,
    defs: Definitions,
) -> tuple[Appointment, str]:
    from crm_procedures.services.agenda import book_appointment_in

    if start is None:
        raise InvalidInput(
            "appointment_start",
            f"step {effect.step!r} books an appointment: give appointment_start",
        )
    require_aware(start, "appointment_start")
    employee = with_user
    if employee is None and effect.with_role is not None:
        members = project.members.get(effect.with_role, ())
        employee = members[0] if members else None
    employee = employee or viewer.user_id
    relation = uow.relations.get(prospect.relation_id)
    step_name = defs.step(effect.step).name
    # The matrix authorised this step, which includes booking in the agenda
    # of the employee the procedure names: the actor acts with that right.
    booking_viewer = attrs.evolve(
        viewer, permissions=viewer.permissions | {"activity.write", "activity.read_all"}
    )
    try:
        end = start + timedelta(minutes=effect.duration_minutes)
    except OverflowError:
        raise InvalidInput(
            "appointment_start",
            f"an appointment of {effect.duration_minutes} minutes from {start} would end "
            "after the year 9999",
            start,
        ) from None
    title = f"{step_name}: {relation.name}"
    if len(title) > MAX_LINE:
        # A long relation name after the step's name: the title is one readable line.
        title = title[: MAX_LINE - 1] + "\u2026"
    result = book_appointment_in(
        uow,
        ctx,
        booking_viewer,
        employee=employee,
        start=start,
        end=end,
        title=title,
        relation_id=prospect.relation_id,
        contact_id=prospect.contact_id,
        project_id=project.id,
        prospect_id=prospect.id,
        location=location,
        description=f"{project.name}",
        allow_conflicts=True,
    )
    key = result.invitation.key if result.invitation is not None else result.appointment.uid
    return result.appointment, key


def correct_step(
    ctx: Context,
    actor: str,
    prospect_id: str,
    supersedes_seq: int,
    step: str | None,
    *,
    role: str,
    note: str = "",
) -> Prospect:
    """Correct a wrongly registered history entry (W7); nothing is deleted.

    Raises:
        AccessDenied: the actor may not act in ``role`` or lacks ``prospect.correct``.
        TransitionNotAllowed / InvalidInput: the role has no correction right for
            that step, or the entry does not exist.
    """
    with ctx.store.unit_of_work() as uow:
        viewer, prospect, project, _defs, proc = _load(
            ctx, uow, actor, prospect_id, "prospect.correct"
        )
        _require_role(uow, viewer, project, role)
        now = ctx.now()
        runtime.correct(proc, prospect, supersedes_seq, step, role, UserId(actor), now, note)
        stored = uow.prospects.save(prospect)
        _audit(uow, actor, stored, now, "correct", f"{role}: #{supersedes_seq} -> {step}")
        uow.commit()
    return stored


def close_prospect(
    ctx: Context, actor: str, prospect_id: str, reason: str, *, note: str = ""
) -> Prospect:
    """Close a prospect (W8) with one of the procedure's close reasons.

    Raises:
        InvalidInput: ``reason`` is not a configured close reason.
        AccessDenied: the actor lacks ``prospect.write``.
    """
    with ctx.store.unit_of_work() as uow:
        _viewer, prospect, _project, _defs, proc = _load(
            ctx, uow, actor, prospect_id, "prospect.write"
        )
        now = ctx.now()
        runtime.close(proc, prospect, reason, UserId(actor), now, note)
        stored = uow.prospects.save(prospect)
        _audit(uow, actor, stored, now, "close", reason)
        uow.commit()
    return stored


def reopen_prospect(ctx: Context, actor: str, prospect_id: str, *, note: str = "") -> Prospect:
    """Reopen a closed prospect (status running again, history kept)."""
    with ctx.store.unit_of_work() as uow:
        _viewer, prospect, _project, _defs, _proc = _load(
            ctx, uow, actor, prospect_id, "prospect.write"
        )
        now = ctx.now()
        runtime.reopen(prospect, UserId(actor), now, note)
        stored = uow.prospects.save(prospect)
        _audit(uow, actor, stored, now, "reopen", "")
        uow.commit()
    return stored


def mark_won(ctx: Context, actor: str, prospect_id: str, *, note: str = "") -> Prospect:
    """Record that the prospect became a customer (stage customer)."""
    with ctx.store.unit_of_work() as uow:
        _viewer, prospect, _project, _defs, _proc = _load(
            ctx, uow, actor, prospect_id, "prospect.write"
        )
        now = ctx.now()
        runtime.mark_won(prospect, UserId(actor), now, note)
        stored = uow.prospects.save(prospect)
        _audit(uow, actor, stored, now, "won", "")
        uow.commit()
    return stored


def worklist(
    ctx: Context, actor: str, project_id: str, role: str, *, limit: int = 50, offset: int = 0
) -> list[Prospect]:
    """The running prospects on which ``role`` may do something now, by next-action time.

    The engine computes after which last steps the role may act; the store
    selects those prospects in its query (no filtering in Python).
    """
    with ctx.store.unit_of_work(read_only=True) as uow:
        viewer = resolve_viewer(uow, actor)
        project = uow.projects.get(project_id, viewer)
        _defs, proc = _procedure_of(ctx, uow, project)
        steps = runtime.worklist_last_steps(proc, role)
        if not steps:
            return []
        return uow.prospects.worklist(project.id, steps, viewer, limit=limit, offset=offset)


def prospect_history(ctx: Context, actor: str, prospect_id: str) -> list[HistoryEntry]:
    """The prospect's whole history, oldest first (corrections included)."""
    with ctx.store.unit_of_work(read_only=True) as uow:
        viewer = resolve_viewer(uow, actor)
        return list(uow.prospects.get(prospect_id, viewer).history)

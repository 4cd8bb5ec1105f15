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
in every role. Performing steps also needs ``prospect.perform``, closing,
reopening and winning ``prospect.status``, adding suspects ``prospect.import``
(``prospect.write`` holds all three; corrections need ``prospect.correct``).

A campaign pins the version of the definitions it started with: the bundle is
stored through the store's definition repository, and every step is checked
against that stored version, so a changed procedure never rewrites a running
campaign.
"""

from __future__ import annotations

import difflib
import warnings
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, cast

import attrs

from crm_procedures.access.permissions import require
from crm_procedures.access.viewer import Viewer, may_see_project, may_see_prospect
from crm_procedures.errors import (
    AccessDenied,
    ConcurrencyConflict,
    DefinitionError,
    InvalidInput,
    NotFound,
    ProspectNotReleased,
)
from crm_procedures.ids import ActivityId, ProjectId, ProspectId, RelationId, UserId
from crm_procedures.model._checks import require_aware
from crm_procedures.model.activity import Activity, ActivityKind
from crm_procedures.model.appointment import Appointment
from crm_procedures.model.audit import Change
from crm_procedures.model.outbox import OutboxMessage
from crm_procedures.model.project import Project
from crm_procedures.model.prospect import (
    BulkStatusChange,
    HistoryEntry,
    Prospect,
    ProspectStatus,
)
from crm_procedures.policies.rules import Violation
from crm_procedures.ports import BulkAuditLog, BulkProspectChanges, Store, UnitOfWork
from crm_procedures.procedures import runtime
from crm_procedures.procedures.definitions import dump_definitions, load_definitions
from crm_procedures.procedures.effects import CustomEffect, Effect
from crm_procedures.procedures.outcomes import apply_outcome
from crm_procedures.procedures.procedure import Definitions, Procedure
from crm_procedures.procedures.validation import errors as _errors
from crm_procedures.procedures.validation import validate as _validate
from crm_procedures.services._step_notes import check_step_note
from crm_procedures.services.cadence import keep_due
from crm_procedures.services.context import Context, resolve_viewer
from crm_procedures.services.previews import StepPreview
from crm_procedures.services.step_kinds import (
    StepContext,
    StepInputs,
    StepKind,
    _StepUnitOfWork,
    legacy_kinds,
)

__all__ = [
    "BULK_BATCH",
    "DEFINITIONS_KEY",
    "StepHandler",
    "StepPreview",
    "StepResult",
    "add_prospects",
    "close_all",
    "close_prospect",
    "correct_step",
    "definitions_of",
    "mark_won",
    "perform_step",
    "preview_step",
    "prospect_history",
    "release",
    "release_all",
    "reopen_prospect",
    "start_campaign",
    "worklist",
]

DEFINITIONS_KEY = "definitions"
"""The key under which campaigns store the definitions bundle they pin."""

StepHandler = Callable[[UnitOfWork, Context, Prospect, CustomEffect], None]
"""Deprecated: an old-style handler for ``perform_step(handlers=...)``; register a
:class:`~crm_procedures.services.step_kinds.StepKind` on the application instead."""


@attrs.frozen
class StepResult:
    """What performing a step did.

    Attributes:
        prospect: the prospect as stored after the step.
        effects: the effects the engine returned.
        message_keys: outbox keys of the e-mails and invitations recorded.
        appointment: the appointment booked by a make-appointment step.
        warnings: violations of the installation's non-blocking note rules by
            the contact the step recorded (A3); empty when it keeps them.
    """

    prospect: Prospect
    effects: tuple[Effect, ...]
    message_keys: tuple[str, ...] = ()
    appointment: Appointment | None = None
    warnings: tuple[Violation, ...] = ()


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
    if members:
        hint = (
            f"membership of the project in role {role!r} grants it (members: "
            f"{', '.join(members)}); add the user to the project's members[{role!r}]"
        )
    else:
        hint = (
            f"the project names no members for role {role!r}, so the user's roles grant it; "
            f"give the user the role {role!r} or name them among the project's members"
        )
    raise AccessDenied(viewer.user_id, f"role:{role}", f"project {project.id}", hint)


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


def _relation_pairs(value: Any) -> list[tuple[str, str | None]]:
    """``value`` as ``(relation id, contact id or None)`` pairs, or InvalidInput naming the item."""
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise InvalidInput("relations", "must be a list of (relation id, contact id) pairs", value)
    out: list[tuple[str, str | None]] = []
    for i, pair in enumerate(value):
        if (
            not isinstance(pair, tuple | list)
            or len(pair) != 2
            or not isinstance(pair[0], str)
            or not (pair[1] is None or isinstance(pair[1], str))
        ):
            raise InvalidInput(
                f"relations[{i}]",
                "must be a (relation id, contact id or None) pair",
                pair,
            )
        out.append((pair[0], pair[1]))
    return out


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
        AccessDenied: the actor lacks ``prospect.import``.
    """
    with ctx.store.unit_of_work() as uow:
        viewer = resolve_viewer(uow, actor)
        require(viewer, "prospect.import", "prospects")
        project = uow.projects.get(project_id, viewer)
        made: list[Prospect] = []
        for relation_id, contact_id in _relation_pairs(relations):
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
        AccessDenied: the actor lacks ``prospect.import``.
    """
    with ctx.store.unit_of_work() as uow:
        viewer = resolve_viewer(uow, actor)
        require(viewer, "prospect.import", "prospects")
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
        timed = project.procedure is not None and project.procedure_version is not None
        defs, proc = _procedure_of(ctx, uow, project) if timed else (None, None)
        for prospect in todo:
            if prospect.project_id != project.id:
                raise NotFound("prospect", prospect.id)
            if prospect.status is not ProspectStatus.PREPARING:
                continue
            runtime.release(prospect, UserId(actor), now)
            if defs is not None and proc is not None:
                keep_due(uow, defs, proc, project, prospect)
            uow.prospects.save(prospect)
            released += 1
        uow.commit()
    return released


def _prospect_for(uow: UnitOfWork, viewer: Viewer, prospect_id: str) -> Prospect:
    """The prospect as ``viewer`` may see it; says "not released" to those who may know it."""
    try:
        return uow.prospects.get(prospect_id, viewer)
    except NotFound:
        found = uow.prospects.find(prospect_id) if isinstance(prospect_id, str) else None
        if found is not None and found.status is ProspectStatus.PREPARING:
            project = uow.projects.find(found.project_id)
            if project is not None and may_see_project(viewer, project):
                raise ProspectNotReleased(found.id) from None
        raise


def _load(
    ctx: Context, uow: UnitOfWork, actor: str, prospect_id: str, permission: str
) -> tuple[Viewer, Prospect, Project, Definitions, Procedure]:
    viewer = resolve_viewer(uow, actor)
    prospect = _prospect_for(uow, viewer, prospect_id)
    project = uow.projects.get(prospect.project_id, viewer)
    require(viewer, permission, f"prospect {prospect.id}")
    defs, proc = _procedure_of(ctx, uow, project)
    return viewer, prospect, project, defs, proc


def _loaded(
    ctx: Context,
    uow: UnitOfWork,
    actor: str,
    prospect: Prospect,
    project: Project,
    viewer: Viewer | None = None,
) -> tuple[Viewer, Prospect, Project, Definitions, Procedure]:
    """What :func:`_load` gives, for a prospect and project read in ``uow`` without a viewer.

    The same checks, on the records in hand: the actor sees the prospect (a
    prospect in preparation is "not released" to those who see its project),
    holds ``prospect.perform``, and the project runs a procedure. ``viewer``
    is the actor's, when the caller resolved it already in ``uow``.
    """
    if viewer is None:
        viewer = resolve_viewer(uow, actor)
    if prospect.project_id != project.id:
        raise InvalidInput("project", f"prospect {prospect.id} is not of project {project.id}")
    if not may_see_prospect(viewer, prospect, project):
        if prospect.status is ProspectStatus.PREPARING and may_see_project(viewer, project):
            raise ProspectNotReleased(prospect.id)
        raise NotFound("prospect", prospect.id)
    require(viewer, "prospect.perform", f"prospect {prospect.id}")
    defs, proc = _procedure_of(ctx, uow, project)
    return viewer, prospect, project, defs, proc


def _read_for_step(uow: UnitOfWork, prospect_id: str) -> tuple[Prospect, Project]:
    """The prospect (with its history) and its project, read with no visibility check."""
    prospect = uow.prospects.find(prospect_id) if isinstance(prospect_id, str) else None
    if prospect is None:
        raise NotFound("prospect", str(prospect_id))
    project = uow.projects.find(prospect.project_id)
    if project is None:
        raise NotFound("project", prospect.project_id)
    return prospect, project


def _did_you_mean(word: object, known: Iterable[str]) -> str:
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, list(known), n=3)
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def _check_step_and_role(proc: Procedure, step: str, role: str) -> None:
    if not isinstance(step, str) or step not in proc.steps:
        raise InvalidInput(
            "step",
            f"{step!r} is not a step of procedure {proc.key!r}{_did_you_mean(step, proc.steps)}",
            step,
        )
    if not isinstance(role, str) or role not in proc.roles:
        known = ", ".join(repr(r) for r in proc.roles)
        raise InvalidInput(
            "role",
            f"{role!r} is not a role of procedure {proc.key!r} ({known})"
            f"{_did_you_mean(role, proc.roles)}",
            role,
        )


def _registry(ctx: Context, handlers: Mapping[str, StepHandler] | None) -> Mapping[str, StepKind]:
    if not handlers:
        return ctx.step_kinds
    warnings.warn(
        "perform_step(handlers=...) is deprecated; register the kinds once with "
        "CrmApp(step_kinds=[StepKind(key, handler)])",
        DeprecationWarning,
        stacklevel=3,
    )
    return {**ctx.step_kinds, **{k.key: k for k in legacy_kinds(handlers)}}


def _perform_in(
    ctx: Context,
    uow: UnitOfWork,
    actor: str,
    prospect_id: str,
    step: str,
    role: str,
    note: str,
    inputs: StepInputs,
    kinds: Mapping[str, StepKind],
    next_action_at: datetime | None,
    expected_version: int | None,
    record_activity: bool,
    *,
    note_rule: bool = True,
    loaded: tuple[Prospect, Project] | None = None,
    step_uow: _StepUnitOfWork | None = None,
) -> tuple[StepResult, tuple[OutboxMessage, ...]]:
    """Perform the step inside ``uow`` (the caller commits, or not for a preview).

    With ``note_rule`` (a person's step) the activity the step records is held
    to the installation's note rules; the scheduler's automatic steps, which
    no person performs, are not.

    ``loaded`` is the prospect (with its history) and project the caller read
    in this unit of work (the scheduler, to check the due step and its send
    window): they are not read again, and the actor's right to see them, the
    permission and the role are checked on them as on a fresh read.
    ``step_uow`` is the step's view of ``uow`` the caller read through (the
    contact is read once per step); by default a new one.
    """
    if loaded is None:
        # Read without the viewer's conditions in SQL and checked here as
        # _loaded checks the scheduler's records: the same answers (unknown
        # actor, not found, not released, no right), cheaper statements.
        known = resolve_viewer(uow, actor)
        loaded = _read_for_step(uow, prospect_id)
        viewer, prospect, project, defs, proc = _loaded(ctx, uow, actor, *loaded, viewer=known)
    else:
        viewer, prospect, project, defs, proc = _loaded(ctx, uow, actor, *loaded)
    if expected_version is not None and expected_version != prospect.version:
        raise ConcurrencyConflict("prospect", prospect.id, expected_version, prospect.version)
    _check_step_and_role(proc, step, role)
    _require_role(uow, viewer, project, role)
    now = ctx.now()
    effects = runtime.perform(proc, prospect, step, role, UserId(actor), now, note)
    if next_action_at is not None:
        prospect.next_action_at = require_aware(next_action_at, "next_action_at")
    if step_uow is None:
        step_uow = _StepUnitOfWork(uow)
    appointment: Appointment | None = None
    for effect in effects:
        definition = defs.step(effect.step)
        kind = kinds.get(definition.kind)
        if kind is None:
            raise InvalidInput(
                "step_kinds",
                f"step {effect.step!r} is of kind {definition.kind!r}, which the application "
                f"does not know; register it: CrmApp(step_kinds=[StepKind({definition.kind!r}, "
                "handler)]) or the entry point group 'crm_procedures.step_kinds'",
            )
        step_ctx = StepContext(
            services=ctx,
            uow=cast(UnitOfWork, step_uow),
            viewer=viewer,
            actor=actor,
            role=role,
            project=project,
            prospect=prospect,
            definitions=defs,
            step=definition,
            effect=effect,
            now=now,
            inputs=inputs,
        )
        kind.handler(step_ctx)
        appointment = step_ctx.appointment or appointment
    outcome = apply_outcome(proc, prospect, defs.step(step), UserId(actor), now)
    if appointment is not None and "appointment_booked" in proc.exit_on:
        prospect.sequence_exit = prospect.sequence_exit or "appointment_booked"
    keep_due(cast(UnitOfWork, step_uow), defs, proc, project, prospect)
    warned: tuple[Violation, ...] = ()
    if record_activity:
        activity = _step_activity(ctx, defs, project, prospect, step, actor, note, now, appointment)
        if note_rule:
            # Raising here leaves the unit of work uncommitted: nothing of the step is stored.
            warned = check_step_note(ctx.store, uow, activity)
        uow.activities.add(activity)
    stored = uow.prospects.save(prospect)
    what = f"{role}: {step}" + (f" ({outcome})" if outcome else "")
    _audit(uow, actor, stored, now, "perform", what)
    messages = tuple(step_uow.outbox.messages)
    keys = tuple(dict.fromkeys(m.key for m in messages))
    return StepResult(stored, effects, keys, appointment, warned), messages


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
    subject: str | None = None,
    text: str | None = None,
    inputs: Mapping[str, Any] | None = None,
    handlers: Mapping[str, StepHandler] | None = None,
    expected_version: int | None = None,
    record_activity: bool = True,
) -> StepResult:
    """``actor``, acting as ``role``, performs ``step`` on a prospect.

    The step's kind is looked up in the application's registry
    (``CrmApp(step_kinds=...)``, the entry point group
    ``crm_procedures.step_kinds``, and the built-in kinds) and its handler is
    called with a :class:`~crm_procedures.services.step_kinds.StepContext`.
    A send-e-mail step renders its template for the prospect's contact
    (``subject`` and ``text`` replace the template's when the user edited
    them; they pass the same checks) and records the e-mail in the outbox; a
    make-appointment step books an appointment of the step's duration at
    ``appointment_start`` with ``appointment_with`` (default: the first
    project member in the step's ``appointment_with`` role, else the actor)
    and records its invitation. ``inputs`` are further values for a host's
    own kind (``ctx.inputs.values``). A step that declares an ``outcome``
    marks the prospect won or closes it. All of it commits together with the
    step, or not at all.

    ``handlers`` (deprecated) maps a kind to an old-style
    ``handler(uow, ctx, prospect, effect)`` for this call only.

    With ``record_activity`` the step is also recorded as a completed
    activity of the actor (a contact by phone, or by e-mail for an e-mail
    step; a task when the prospect has no contact person), so activity lists
    and per-employee reports include the campaign's work. ``note`` is the
    note of the history entry and of that activity, and the installation's
    note rules (A3: "a short note of every customer contact", see
    :mod:`~crm_procedures.services.mandatory_rules`) apply to the activity as
    they do when a contact is completed: a blocking rule refuses the step and
    nothing is stored; a warning comes back in ``StepResult.warnings``.

    ``expected_version`` is the prospect version the user saw; when the
    store holds another one the step is refused with ConcurrencyConflict
    (two users acting on one prospect at once cannot both win).

    Raises:
        NotFound: unknown (or invisible) prospect.
        ProspectNotReleased: the prospect is still being prepared (also to a
            user who may see the project but not prospects in preparation).
        AccessDenied: the actor may not act in ``role`` or lacks ``prospect.perform``.
        TransitionNotAllowed, ProspectClosed: refused by the engine.
        ConcurrencyConflict: somebody else changed the prospect meanwhile.
        InvalidInput: ``step`` or ``role`` is not in the procedure (the message
            names close matches); a make-appointment step without
            ``appointment_start``; an e-mail step on a prospect without a
            contact with an e-mail address; a kind nobody registered.
        TemplateError: an edited subject or text that fails the template checks.
        RuleViolation: the contact the step records breaks a blocking note
            rule of the installation (a missing or too short ``note``).
    """
    kinds = _registry(ctx, handlers)
    step_inputs = _inputs(appointment_start, appointment_with, location, subject, text, inputs)
    with ctx.store.unit_of_work() as uow:
        result, _messages = _perform_in(
            ctx,
            uow,
            actor,
            prospect_id,
            step,
            role,
            note,
            step_inputs,
            kinds,
            next_action_at,
            expected_version,
            record_activity,
        )
        uow.commit()
    return result


def _inputs(
    appointment_start: datetime | None,
    appointment_with: str | None,
    location: str,
    subject: str | None,
    text: str | None,
    values: Mapping[str, Any] | None,
) -> StepInputs:
    if values is not None and not isinstance(values, Mapping):
        raise InvalidInput("inputs", "must be a mapping of names to values", values)
    return StepInputs(appointment_start, appointment_with, location, subject, text, values or {})


def preview_step(
    ctx: Context,
    actor: str,
    prospect_id: str,
    step: str,
    *,
    role: str,
    appointment_start: datetime | None = None,
    appointment_with: str | None = None,
    location: str = "",
    subject: str | None = None,
    text: str | None = None,
    inputs: Mapping[str, Any] | None = None,
) -> StepPreview:
    """The e-mails (and other outbox messages) ``step`` would send, without storing anything.

    Runs exactly what :func:`perform_step` runs, with the same checks and the
    same ``subject``/``text`` edits, in a unit of work that is never
    committed. Show the result to the user, let them edit subject and text,
    and pass the edits to :func:`perform_step`.

    Raises:
        What :func:`perform_step` raises for the same arguments.
    """
    step_inputs = _inputs(appointment_start, appointment_with, location, subject, text, inputs)
    with ctx.store.unit_of_work() as uow:
        _result, messages = _perform_in(
            ctx,
            uow,
            actor,
            prospect_id,
            step,
            role,
            "",
            step_inputs,
            ctx.step_kinds,
            None,
            None,
            False,
        )
        from crm_procedures.services.messages import email_preview

        emails = tuple(e for e in map(email_preview, messages) if e is not None)
        # No commit: leaving the block rolls the unit of work back; nothing is stored.
    return StepPreview(step, emails, messages)


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
        viewer, prospect, project, defs, proc = _load(
            ctx, uow, actor, prospect_id, "prospect.correct"
        )
        _require_role(uow, viewer, project, role)
        now = ctx.now()
        runtime.correct(proc, prospect, supersedes_seq, step, role, UserId(actor), now, note)
        keep_due(uow, defs, proc, project, prospect)
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
        AccessDenied: the actor lacks ``prospect.status`` (or ``prospect.write``).
    """
    with ctx.store.unit_of_work() as uow:
        _viewer, prospect, project, defs, proc = _load(
            ctx, uow, actor, prospect_id, "prospect.status"
        )
        now = ctx.now()
        runtime.close(proc, prospect, reason, UserId(actor), now, note)
        keep_due(uow, defs, proc, project, prospect)
        stored = uow.prospects.save(prospect)
        _audit(uow, actor, stored, now, "close", reason)
        uow.commit()
    return stored


def reopen_prospect(ctx: Context, actor: str, prospect_id: str, *, note: str = "") -> Prospect:
    """Reopen a closed prospect (status running again, history kept)."""
    with ctx.store.unit_of_work() as uow:
        _viewer, prospect, project, defs, proc = _load(
            ctx, uow, actor, prospect_id, "prospect.status"
        )
        now = ctx.now()
        runtime.reopen(prospect, UserId(actor), now, note)
        keep_due(uow, defs, proc, project, prospect)
        stored = uow.prospects.save(prospect)
        _audit(uow, actor, stored, now, "reopen", "")
        uow.commit()
    return stored


def mark_won(ctx: Context, actor: str, prospect_id: str, *, note: str = "") -> Prospect:
    """Record that the prospect became a customer (stage customer)."""
    with ctx.store.unit_of_work() as uow:
        _viewer, prospect, project, defs, proc = _load(
            ctx, uow, actor, prospect_id, "prospect.status"
        )
        now = ctx.now()
        runtime.mark_won(prospect, UserId(actor), now, note)
        if "won" in proc.exit_on:
            prospect.sequence_exit = prospect.sequence_exit or "won"
        keep_due(uow, defs, proc, project, prospect)
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


BULK_BATCH = 1_000
"""How many prospects a bulk service changes per batch (one statement per table each)."""


def release_all(
    ctx: Context, actor: str, project_id: str, *, note: str = "", batch: int = BULK_BATCH
) -> int:
    """Release every prospect of the project in preparation (W8), in batches.

    The bulk form of :func:`release` for a campaign of many prospects: each
    released prospect gets the same status history entry as one released
    alone, and an audit entry (``release``); one unit of work, all or
    nothing. A store whose prospects repository has ``change_status_many``
    (:class:`~crm_procedures.ports.BulkProspectChanges`; memory, SQLite and
    PostgreSQL have) writes each batch with one statement per table; others
    change the prospects one at a time.

    Returns how many were released.

    Raises:
        NotFound: unknown project (or one the actor may not see).
        AccessDenied: the actor lacks ``prospect.write``.
        InvalidInput: ``note`` breaks the note rule; ``batch`` not 1 to 10,000.
    """
    with ctx.store.unit_of_work() as uow:
        viewer = resolve_viewer(uow, actor)
        require(viewer, "prospect.write", "prospects")
        project = uow.projects.get(project_id, viewer)
        change = runtime.release_change(UserId(actor), ctx.now(), note)
        done = _change_all(uow, project.id, change, "release", batch)
        uow.commit()
    return done


def close_all(
    ctx: Context,
    actor: str,
    project_id: str,
    reason: str,
    *,
    note: str = "",
    batch: int = BULK_BATCH,
) -> int:
    """Close every prospect of the project with ``reason`` (W8), in batches.

    The bulk form of :func:`close_prospect`: preparing and running prospects
    are closed, closed ones with another reason get this one, those closed
    with this reason are left alone. Each closed prospect gets the same
    status history entry and audit entry (``close``) as one closed alone;
    one unit of work, all or nothing; batches as in :func:`release_all`.

    Returns how many were closed.

    Raises:
        NotFound: unknown project (or one the actor may not see).
        AccessDenied: the actor lacks ``prospect.write``.
        InvalidInput: ``reason`` is not a close reason of the procedure,
            ``note`` breaks the note rule, ``batch`` not 1 to 10,000.
    """
    with ctx.store.unit_of_work() as uow:
        viewer = resolve_viewer(uow, actor)
        require(viewer, "prospect.write", "prospects")
        project = uow.projects.get(project_id, viewer)
        _defs, proc = _procedure_of(ctx, uow, project)
        change = runtime.close_change(proc, reason, UserId(actor), ctx.now(), note)
        done = _change_all(uow, project.id, change, "close", batch)
        uow.commit()
    return done


def _change_all(
    uow: UnitOfWork, project_id: str, change: BulkStatusChange, action: str, batch: int
) -> int:
    if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= 10_000:
        raise InvalidInput("batch", "must be a whole number from 1 to 10,000", batch)
    prospects = uow.prospects
    audit = uow.audit
    what = change.status.value if change.close_reason is None else change.close_reason
    after = ""
    total = 0
    while True:
        if isinstance(prospects, BulkProspectChanges):
            changed = prospects.change_status_many(project_id, change, after=after, limit=batch)
        else:
            changed = _change_one_by_one(uow, project_id, change, after, batch)
        if not changed:
            break
        entries = [
            Change(
                record_kind="prospect",
                record_id=pid,
                version=version,
                at=change.at,
                actor=change.actor,
                action=action,
                changes={"history": ("", what)},
            )
            for pid, version in changed
        ]
        if isinstance(audit, BulkAuditLog):
            audit.record_many(entries)
        else:
            for entry in entries:
                audit.record(entry)
        total += len(changed)
        after = changed[-1][0]
        if len(changed) < batch:
            break
    return total


def _change_one_by_one(
    uow: UnitOfWork, project_id: str, change: BulkStatusChange, after: str, limit: int
) -> list[tuple[str, int]]:
    """A store without ``change_status_many``: the batch through ``save``, one by one."""
    todo = [
        p
        for p in uow.prospects.of_project(project_id, Viewer.system())
        if p.id > after and change.changes(p)
    ][:limit]
    out = []
    for prospect in todo:
        change.apply(prospect)
        stored = uow.prospects.save(prospect)
        out.append((stored.id, stored.version))
    return out

"""What a user may do now with a prospect: the buttons a host application shows.

:func:`available_actions` answers, in one read, for each role the acting
user holds on the prospect's project: the steps that role may perform now
(labelled in the user's language), and whether the user may close, reopen,
correct or mark the prospect won. :func:`available_actions_many` does the
same for one page of a worklist in one unit of work.

The answer uses the same rules as the actions themselves
(:func:`~crm_procedures.services.campaigns.perform_step` and friends), so a
button shown is a call that the rules allow at the moment of reading.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

import attrs

from crm_procedures.access.viewer import Viewer
from crm_procedures.errors import AccessDenied, InvalidInput
from crm_procedures.locales import label as _label
from crm_procedures.model.project import Project
from crm_procedures.model.prospect import EntryKind, Prospect, ProspectStatus, RelationStage
from crm_procedures.ports import UnitOfWork
from crm_procedures.procedures.procedure import Definitions, Procedure
from crm_procedures.services.campaigns import _procedure_of, _prospect_for, _require_role
from crm_procedures.services.context import Context, resolve_viewer

__all__ = ["Action", "AvailableActions", "available_actions", "available_actions_many"]

STEP = "step"
CLOSE = "close"
REOPEN = "reopen"
CORRECT = "correct"
WON = "won"


@attrs.frozen
class Action:
    """One thing the user may do now.

    Attributes:
        name: ``"step"``, ``"close"``, ``"reopen"``, ``"correct"`` or ``"won"``.
        label: what the button says, in the user's language.
        role: the role the user acts in (steps and corrections), else ``None``.
        step: the step's key (``name == "step"``), else ``None``.
        choices: ``(key, label)`` of each close reason (``name == "close"``).
    """

    name: str
    label: str
    role: str | None = None
    step: str | None = None
    choices: tuple[tuple[str, str], ...] = ()


@attrs.frozen
class AvailableActions:
    """Everything the user may do now with one prospect.

    Attributes:
        prospect_id: the prospect.
        version: the prospect's version when read; pass it as
            ``expected_version`` so that a stale button is refused.
        status: the prospect's status.
        roles: the procedure roles the user holds on the project.
        actions: the actions, steps first (per role, in procedure order).
    """

    prospect_id: str
    version: int
    status: ProspectStatus
    roles: tuple[str, ...]
    actions: tuple[Action, ...]

    def steps(self, role: str | None = None) -> tuple[Action, ...]:
        """The step actions (of ``role`` only, when given)."""
        return tuple(a for a in self.actions if a.name == STEP and (role is None or a.role == role))

    def may(self, name: str, step: str | None = None, role: str | None = None) -> bool:
        """True when the action ``name`` (for ``step``/``role`` when given) is offered."""
        return any(
            a.name == name and (step is None or a.step == step) and (role is None or a.role == role)
            for a in self.actions
        )


@attrs.frozen
class _Project:
    project: Project
    definitions: Definitions
    procedure: Procedure
    roles: tuple[str, ...]


def _roles_held(uow: UnitOfWork, viewer: Viewer, project: Project, proc: Procedure) -> list[str]:
    held = []
    for role in proc.roles:
        try:
            _require_role(uow, viewer, project, role)
        except AccessDenied:  # the user does not hold this role
            continue
        held.append(role)
    return held


def _correctable(prospect: Prospect) -> bool:
    superseded = {e.supersedes for e in prospect.history if e.kind is EntryKind.CORRECTION}
    return any(
        e.kind in (EntryKind.STEP, EntryKind.CORRECTION) and e.seq not in superseded
        for e in prospect.history
    )


def _actions(viewer: Viewer, prospect: Prospect, info: _Project, language: str) -> AvailableActions:
    defs, proc = info.definitions, info.procedure
    actions: list[Action] = []
    performs = viewer.has("prospect.perform")
    changes_status = viewer.has("prospect.status")
    running = prospect.status is ProspectStatus.RUNNING
    if performs and running:
        for role in info.roles:
            allowed = proc.allowed(role, prospect.last_step)
            for key in proc.steps:
                if key in allowed:
                    step = defs.steps.get(key)
                    name = step.label(language) if step is not None else key
                    actions.append(Action(STEP, name, role=role, step=key))
    if viewer.has("prospect.correct") and running and _correctable(prospect):
        for role in info.roles:
            if role in proc.corrections:
                actions.append(Action(CORRECT, _label("action.correct", language), role=role))
    if changes_status:
        if prospect.status is not ProspectStatus.CLOSED and proc.close_reasons:
            choices = {c.key: c.label_in(language) for c in defs.close_reasons.choices}
            reasons = tuple((k, choices.get(k, k)) for k in proc.close_reasons)
            actions.append(Action(CLOSE, _label("action.close", language), choices=reasons))
        if prospect.status is ProspectStatus.CLOSED:
            actions.append(Action(REOPEN, _label("action.reopen", language)))
        if running and prospect.stage is not RelationStage.CUSTOMER:
            actions.append(Action(WON, _label("action.won", language)))
    return AvailableActions(
        prospect.id, prospect.version, prospect.status, info.roles, tuple(actions)
    )


def _language(ctx: Context, uow: UnitOfWork, actor: str) -> str:
    user = uow.users.find(actor)
    language = user.language if user is not None else ctx.language
    return language if language in ("en", "nl", "pl") else "en"


def available_actions_many(
    ctx: Context, actor: str, prospect_ids: Iterable[str]
) -> Mapping[str, AvailableActions]:
    """:func:`available_actions` for many prospects (one worklist page) in one read.

    Returns a mapping from each prospect id to its actions, in the order given.

    Raises:
        NotFound: an unknown prospect, or one the actor may not see.
        ProspectNotReleased: a prospect in preparation the actor may not see
            while seeing its project.
        InvalidInput: ``prospect_ids`` is not a collection of ids.
    """
    if isinstance(prospect_ids, str) or not isinstance(prospect_ids, Iterable):
        raise InvalidInput("prospect_ids", "must be a list of prospect ids", prospect_ids)
    ids = list(dict.fromkeys(prospect_ids))
    out: dict[str, AvailableActions] = {}
    with ctx.store.unit_of_work() as uow:
        viewer = resolve_viewer(uow, actor)
        language = _language(ctx, uow, actor)
        projects: dict[str, _Project] = {}
        for prospect_id in ids:
            prospect = _prospect_for(uow, viewer, prospect_id)
            info = projects.get(prospect.project_id)
            if info is None:
                project = uow.projects.get(prospect.project_id, viewer)
                defs, proc = _procedure_of(ctx, uow, project)
                roles = tuple(_roles_held(uow, viewer, project, proc))
                info = projects[project.id] = _Project(project, defs, proc, roles)
            out[prospect.id] = _actions(viewer, prospect, info, language)
    return MappingProxyType(out)


def available_actions(ctx: Context, actor: str, prospect_id: str) -> AvailableActions:
    """What ``actor`` may do now with one prospect: steps per role, close, reopen, correct, won.

    For each role of the procedure the actor holds on the prospect's project
    (a member in that role, a user with that role when the project names
    nobody for it, or an admin), the steps the matrix allows after the
    prospect's last step, labelled in the user's language (``Step.labels``,
    else its name). ``close`` (with its reasons), ``reopen``, ``won`` and
    ``correct`` are offered when the actor's permissions and the prospect's
    status allow them.

    Raises:
        NotFound: unknown (or invisible) prospect.
        ProspectNotReleased: a prospect in preparation the actor may not see
            while seeing its project.
    """
    return available_actions_many(ctx, actor, [prospect_id])[prospect_id]

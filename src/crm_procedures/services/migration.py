"""Moving a running campaign to a newer version of its definitions.

A campaign pins the version of the definitions it started with, so an edited
template or procedure never reaches it by itself. :func:`plan_migration`
shows, without storing anything, what moving it would change: the steps and
templates added, removed or changed, and the prospects whose last step no
longer exists (a blocking problem) or whose last step's e-mail changed.
:func:`migrate_campaign` applies the move: it pins the new version on the
project and records the move in the history of every prospect that is not
closed; a prospect whose last step is gone moves to the step ``map_steps``
names for it (a correction entry, so the procedure continues from there).

::

    plan = plan_migration(app.ctx, "pia", project.id)
    for line in plan.describe():
        print(line)
    if not plan.blocking:
        migrate_campaign(app.ctx, "pia", project.id)
    else:
        migrate_campaign(app.ctx, "pia", project.id, map_steps={"call_back": "call"})
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from crm_procedures.access.viewer import Viewer
from crm_procedures.errors import AccessDenied, InvalidInput, MigrationBlocked, NotFound
from crm_procedures.ids import UserId
from crm_procedures.model._checks import shown
from crm_procedures.model.audit import Change
from crm_procedures.model.project import Project
from crm_procedures.model.prospect import EntryKind, HistoryEntry, Prospect, ProspectStatus
from crm_procedures.ports import UnitOfWork
from crm_procedures.procedures.definitions import dump_definitions
from crm_procedures.procedures.procedure import Definitions, Procedure
from crm_procedures.procedures.validation import errors as _errors
from crm_procedures.procedures.validation import validate as _validate
from crm_procedures.services.campaigns import (
    DEFINITIONS_KEY,
    _definitions_at,
    _pin_definitions,
    _procedure_of,
)
from crm_procedures.services.context import Context, resolve_viewer

__all__ = [
    "MIGRATION_DETAIL",
    "MigrationPlan",
    "ProspectMove",
    "migrate_campaign",
    "plan_migration",
]

MIGRATION_DETAIL = "migration"
"""The ``detail`` of the correction entry that moves a prospect off a removed step."""

_PAGE = 500
_LEADER_ROLE = "project_leader"


@attrs.frozen
class ProspectMove:
    """What moving the campaign means for one prospect.

    Attributes:
        prospect_id: the prospect.
        status: its status (closed prospects move too; their history is not
            written, but a removed last step still blocks, since reopening
            would continue from it).
        last_step: its last step now (``None``: nothing done yet).
        new_step: the step it continues from after the move (``last_step``
            unless mapped; ``None`` when its step is gone and unmapped).
        problem: why the move is blocked for it, or ``None``.
        changes: what changes for it, in words (its step mapped, its last
            step's e-mail template changed or gone).
    """

    prospect_id: str
    status: ProspectStatus
    last_step: str | None
    new_step: str | None
    problem: str | None = None
    changes: tuple[str, ...] = ()


@attrs.frozen
class MigrationPlan:
    """What moving a campaign to other definitions would change (or changed).

    Attributes:
        project_id: the campaign.
        procedure: the procedure it runs.
        from_version: the definitions version it is pinned to now.
        to_version: the version it moves to (for the application's
            definitions not yet stored: the version they will be stored as).
        changes: differences between the two versions that matter to the
            campaign (steps, templates, roles), in words.
        prospects: one entry per prospect that is affected (blocked, mapped,
            or whose last step's template changed), by prospect id.
        problems: everything that blocks the move, in words (empty when it
            may go ahead).
        prospect_count: how many prospects the campaign has (all move).
    """

    project_id: str
    procedure: str
    from_version: int
    to_version: int
    changes: tuple[str, ...] = ()
    prospects: tuple[ProspectMove, ...] = ()
    problems: tuple[str, ...] = ()
    prospect_count: int = 0

    @property
    def blocking(self) -> bool:
        """True when :func:`migrate_campaign` would refuse the move."""
        return bool(self.problems)

    @property
    def unchanged(self) -> bool:
        """True when the campaign already runs that version."""
        return self.from_version == self.to_version

    def describe(self) -> list[str]:
        """The plan as lines of text for a person to read."""
        lines = [
            f"campaign {self.project_id} ({self.procedure}): definitions version "
            f"{self.from_version} -> {self.to_version}, {self.prospect_count} prospect(s)"
        ]
        lines.extend(f"  change: {c}" for c in self.changes)
        for move in self.prospects:
            for c in move.changes:
                lines.append(f"  prospect {move.prospect_id}: {c}")
        lines.extend(f"  BLOCKING: {p}" for p in self.problems)
        return lines


def _check_mapping(map_steps: Mapping[str, str] | None) -> dict[str, str]:
    if map_steps is None:
        return {}
    if not isinstance(map_steps, Mapping):
        raise InvalidInput("map_steps", "must map old step keys to new step keys", map_steps)
    out: dict[str, str] = {}
    for old, new in map_steps.items():
        if not isinstance(old, str) or not isinstance(new, str):
            raise InvalidInput(
                "map_steps", f"{old!r}: {new!r} must map a step key to a step key", map_steps
            )
        out[old] = new
    return out


def _authorise(uow: UnitOfWork, actor: str, project_id: str) -> tuple[Viewer, Project]:
    viewer = resolve_viewer(uow, actor)
    project = uow.projects.get(project_id, viewer)
    if viewer.has("admin"):
        return viewer, project
    leader = project.responsible == actor or actor in project.members.get(_LEADER_ROLE, ())
    if not (leader and viewer.has("project.write")):
        raise AccessDenied(
            actor,
            "project.write",
            f"project {project_id}",
            "moving a campaign to other definitions is for its project leader (the "
            "responsible user or a member in role 'project_leader', with 'project.write') "
            "or an admin",
        )
    return viewer, project


def _target(ctx: Context, uow: UnitOfWork, to_version: int | None) -> tuple[Definitions, int]:
    """The definitions to move to, and their (prospective) version number."""
    versions = uow.definitions.versions(DEFINITIONS_KEY)
    if to_version is None:
        if ctx.definitions is None:
            raise InvalidInput(
                "to_version",
                "the application has no definitions; give to_version or load definitions",
            )
        found = _errors(_validate(ctx.definitions))
        if found:
            from crm_procedures.errors import DefinitionError

            raise DefinitionError(found)
        data = dump_definitions(ctx.definitions)
        if versions and uow.definitions.get(DEFINITIONS_KEY, versions[-1]) == data:
            return ctx.definitions, versions[-1]
        return ctx.definitions, (versions[-1] + 1) if versions else 1
    if isinstance(to_version, bool) or not isinstance(to_version, int):
        raise InvalidInput("to_version", "must be a stored definitions version number", to_version)
    if to_version not in versions:
        known = ", ".join(str(v) for v in versions) or "none"
        raise NotFound(f"definitions version (stored versions: {known})", shown(to_version))
    return _definitions_at(ctx.store, uow, to_version), to_version


def _prospects(uow: UnitOfWork, project_id: str) -> list[Prospect]:
    out: list[Prospect] = []
    while True:
        page = uow.prospects.of_project(project_id, Viewer.system(), limit=_PAGE, offset=len(out))
        out.extend(page)
        if len(page) < _PAGE:
            return out


def _template_of(defs: Definitions, procedure: Procedure | None, step: str) -> str | None:
    if procedure is None or step not in procedure.steps or step not in defs.steps:
        return None
    return defs.steps[step].template


def _definition_changes(
    old: Definitions, new: Definitions, old_proc: Procedure, new_proc: Procedure | None
) -> list[str]:
    changes: list[str] = []
    if new_proc is None:
        return changes
    removed = [s for s in old_proc.steps if s not in new_proc.steps]
    added = [s for s in new_proc.steps if s not in old_proc.steps]
    if removed:
        changes.append("steps removed: " + ", ".join(removed))
    if added:
        changes.append("steps added: " + ", ".join(added))
    for key in new_proc.steps:
        if key in old_proc.steps and old.steps.get(key) != new.steps.get(key):
            changes.append(f"step {key!r} changed")
    used_old = {t for s in old_proc.steps if (t := _template_of(old, old_proc, s))}
    used_new = {t for s in new_proc.steps if (t := _template_of(new, new_proc, s))}
    for t in sorted(used_old - used_new):
        changes.append(f"template {t!r} is no longer used")
    for t in sorted(used_new - used_old):
        changes.append(f"template {t!r} is new")
    for t in sorted(used_old & used_new):
        if old.templates.get(t) != new.templates.get(t):
            changes.append(f"template {t!r} changed")
    if dict(old_proc.matrix) != dict(new_proc.matrix):
        changes.append("the matrix (who may do what after which step) changed")
    for role in sorted(set(old_proc.roles) - set(new_proc.roles)):
        changes.append(f"role {role!r} is no longer in the procedure")
    return changes


def _plan(
    ctx: Context,
    uow: UnitOfWork,
    project: Project,
    to_version: int | None,
    mapping: dict[str, str],
) -> tuple[MigrationPlan, Definitions, list[Prospect]]:
    old, old_proc = _procedure_of(ctx, uow, project)
    new, version = _target(ctx, uow, to_version)
    assert project.procedure is not None
    assert project.procedure_version is not None
    new_proc = new.procedures.get(project.procedure)
    problems: list[str] = []
    if new_proc is None:
        problems.append(
            f"procedure {project.procedure!r} does not exist in definitions version {version}"
        )
    for old_step, new_step in mapping.items():
        if old_step not in old_proc.steps:
            problems.append(f"map_steps names {old_step!r}, which is not a step of the campaign")
        if new_proc is not None and new_step not in new_proc.steps:
            problems.append(
                f"map_steps maps {old_step!r} to {new_step!r}, which is not a step of "
                f"{project.procedure!r} in definitions version {version}"
            )
    for role in project.members:
        if new_proc is not None and role not in new_proc.roles:
            problems.append(
                f"the project names members in role {role!r}, which procedure "
                f"{project.procedure!r} no longer has; change the members first"
            )
    prospects = _prospects(uow, project.id)
    moves: list[ProspectMove] = []
    for p in prospects:
        last = p.last_step
        if last is None or new_proc is None:
            continue
        changes: list[str] = []
        problem: str | None = None
        target: str | None = mapping.get(last, last)
        if last in mapping:
            changes.append(f"moves from step {last!r} to {target!r}")
        elif last not in new_proc.steps:
            target = None
            problem = (
                f"prospect {p.id} ({p.status.value}) stands at step {last!r}, which "
                f"definitions version {version} no longer has; map it with "
                f"map_steps={{{last!r}: <step>}}"
            )
            changes.append(f"its last step {last!r} no longer exists")
        if target is not None and last in old_proc.steps:
            before = _template_of(old, old_proc, last)
            after = _template_of(new, new_proc, target)
            if before is not None and after != before:
                changes.append(
                    f"the template {before!r} of its last step is no longer used"
                    + (f" (now {after!r})" if after else "")
                )
            elif before is not None and old.templates.get(before) != new.templates.get(before):
                changes.append(f"the e-mail of its last step (template {before!r}) changed")
        if changes:
            moves.append(ProspectMove(p.id, p.status, last, target, problem, tuple(changes)))
            if problem is not None:
                problems.append(problem)
    plan = MigrationPlan(
        project_id=project.id,
        procedure=project.procedure,
        from_version=project.procedure_version,
        to_version=version,
        changes=tuple(_definition_changes(old, new, old_proc, new_proc)),
        prospects=tuple(moves),
        problems=tuple(problems),
        prospect_count=len(prospects),
    )
    return plan, new, prospects


def plan_migration(
    ctx: Context,
    actor: str,
    project_id: str,
    to_version: int | None = None,
    *,
    map_steps: Mapping[str, str] | None = None,
) -> MigrationPlan:
    """What moving campaign ``project_id`` to other definitions would change (a dry run).

    ``to_version`` is a stored definitions version; ``None`` means the
    application's current definitions (``CrmApp(definitions=...)``), which
    :func:`migrate_campaign` stores as a new version when they differ from
    the latest. ``map_steps`` is what :func:`migrate_campaign` would get.
    Nothing is stored.

    Raises:
        AccessDenied: the actor is not the campaign's project leader
            (responsible or member in role ``project_leader``, with
            ``project.write``) nor an admin.
        NotFound: no such project, or no such definitions version.
        InvalidInput: the project runs no procedure; ``map_steps`` or
            ``to_version`` is malformed.
        DefinitionError: the application's definitions have error findings.
    """
    mapping = _check_mapping(map_steps)
    with ctx.store.unit_of_work(read_only=True) as uow:
        _viewer, project = _authorise(uow, actor, project_id)
        return _plan(ctx, uow, project, to_version, mapping)[0]


def _counting_entry(prospect: Prospect) -> HistoryEntry | None:
    superseded = {
        e.supersedes
        for e in prospect.history
        if e.kind is EntryKind.CORRECTION and e.supersedes is not None
    }
    for e in reversed(prospect.history):
        if (
            e.kind in (EntryKind.STEP, EntryKind.CORRECTION)
            and e.seq not in superseded
            and e.step is not None
        ):
            return e
    return None


def _record_move(
    prospect: Prospect, plan: MigrationPlan, move: ProspectMove | None, actor: str, at: Any
) -> None:
    seq = (prospect.history[-1].seq if prospect.history else 0) + 1
    moved = f"moved to definitions version {plan.to_version} (from {plan.from_version})"
    entry_of_step = _counting_entry(prospect)
    if (
        move is not None
        and move.new_step is not None
        and move.new_step != move.last_step
        and entry_of_step is not None
    ):
        prospect.history.append(
            HistoryEntry(
                seq,
                EntryKind.CORRECTION,
                at,
                UserId(actor),
                step=move.new_step,
                supersedes=entry_of_step.seq,
                detail=MIGRATION_DETAIL,
                note=f"{moved}: step {move.last_step!r} became {move.new_step!r}",
            )
        )
        prospect.last_step = move.new_step
        return
    if prospect.status is ProspectStatus.CLOSED:
        return
    prospect.history.append(
        HistoryEntry(
            seq, EntryKind.STATUS, at, UserId(actor), detail=prospect.status.value, note=moved
        )
    )


def migrate_campaign(
    ctx: Context,
    actor: str,
    project_id: str,
    to_version: int | None = None,
    *,
    map_steps: Mapping[str, str] | None = None,
) -> MigrationPlan:
    """Move campaign ``project_id`` to other definitions, all in one unit of work.

    Pins ``to_version`` (``None``: the application's definitions, stored as
    a new version when they differ from the latest) on the project and
    records the move in the history of every prospect that is not closed
    (a ``status`` entry, unchanged status, whose note says "moved to
    definitions version N"). A prospect whose last step is mapped by
    ``map_steps`` gets a correction entry instead (``detail="migration"``)
    that supersedes its last step with the mapped one; a closed prospect
    gets that correction too, and otherwise only the audit record. Every
    moved prospect and the project get an audit :class:`Change`.

    Returns the plan that was applied (``unchanged`` when the campaign
    already ran that version: nothing is written).

    Raises:
        MigrationBlocked: the plan has blocking problems (a prospect stands at
            a step the new version lacks and ``map_steps`` does not map it,
            the procedure is gone, a mapping names a step that does not
            exist); nothing is changed.
        AccessDenied, NotFound, InvalidInput, DefinitionError: as
            :func:`plan_migration`.
    """
    mapping = _check_mapping(map_steps)
    with ctx.store.unit_of_work() as uow:
        _viewer, project = _authorise(uow, actor, project_id)
        plan, _new, prospects = _plan(ctx, uow, project, to_version, mapping)
        if plan.blocking:
            raise MigrationBlocked(project_id, plan.problems)
        if plan.unchanged and not mapping:
            return plan
        if to_version is None:
            _defs, stored_version = _pin_definitions(ctx, uow)
            assert stored_version == plan.to_version
        now = ctx.now()
        moves = {m.prospect_id: m for m in plan.prospects}
        for p in prospects:
            before = len(p.history)
            updated = p.copy()
            _record_move(updated, plan, moves.get(p.id), actor, now)
            saved = uow.prospects.save(updated)
            new_entries = updated.history[before:]
            uow.audit.record(
                Change(
                    record_kind="prospect",
                    record_id=saved.id,
                    version=saved.version,
                    at=now,
                    actor=actor,
                    action="migrate",
                    changes={
                        "definitions": (str(plan.from_version), str(plan.to_version)),
                        **(
                            {"last_step": (p.last_step or "", updated.last_step or "")}
                            if updated.last_step != p.last_step
                            else {}
                        ),
                        **({"history": ("", new_entries[-1].note)} if new_entries else {}),
                    },
                )
            )
        stored = uow.projects.save(attrs.evolve(project, procedure_version=plan.to_version))
        uow.audit.record(
            Change(
                record_kind="project",
                record_id=stored.id,
                version=stored.version,
                at=now,
                actor=actor,
                action="migrate",
                changes={
                    "procedure_version": (str(plan.from_version), str(plan.to_version)),
                },
            )
        )
        uow.commit()
    return plan

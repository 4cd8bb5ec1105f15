"""What a viewer may see, as SQL conditions (the SQL form of ``crm_procedures.access``).

Each function gives the ``WHERE`` conditions a repository adds for a viewer
(none for ``None``, which sees everything).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, select, true

from crm_procedures.access.viewer import ActivityScope, Viewer
from crm_procedures.adapters.sql import schema as s
from crm_procedures.model.prospect import ProspectStatus

# -- visibility, in SQL --


def _invisible_projects(viewer: Viewer | None) -> Select[Any] | None:
    """The ids of the projects the viewer may not see (None: sees all).

    Restricted projects the viewer is not linked to (unless ``project.read_all``),
    projects that deny the viewer or one of its groups, and for a
    ``project.members_only`` viewer every project it is neither linked to nor a
    member of. See :func:`~crm_procedures.access.viewer.may_see_project`.
    """
    if viewer is None or viewer.has("admin"):
        return None
    links = s.project_links.c
    groups = sorted(viewer.groups)
    denied = select(links.project_id).where(
        or_(
            and_(links.principal_kind == "deny_user", links.principal_id == viewer.user_id),
            and_(links.principal_kind == "deny_group", links.principal_id.in_(groups)),
        )
    )
    mine = ["user", "member"] if viewer.members_only else ["user"]
    linked = select(links.project_id).where(
        or_(
            and_(links.principal_kind.in_(mine), links.principal_id == viewer.user_id),
            and_(links.principal_kind == "group", links.principal_id.in_(groups)),
        )
    )
    p = s.projects.c
    if viewer.members_only:
        return select(p.id).where(or_(p.id.not_in(linked), p.id.in_(denied)))
    if viewer.all_projects:
        return denied
    return select(p.id).where(
        or_(and_(p.restricted == true(), p.id.not_in(linked)), p.id.in_(denied))
    )


def _project_visible(viewer: Viewer | None) -> list[ColumnElement[bool]]:
    hidden = _invisible_projects(viewer)
    return [] if hidden is None else [s.projects.c.id.not_in(hidden)]


def _prospect_visible(viewer: Viewer | None) -> list[ColumnElement[bool]]:
    if viewer is None:
        return []
    out: list[ColumnElement[bool]] = []
    if not viewer.sees_preparing:
        out.append(s.prospects.c.status != ProspectStatus.PREPARING.value)
    hidden = _invisible_projects(viewer)
    if hidden is not None:
        out.append(s.prospects.c.project_id.not_in(hidden))
    return out


def _activity_visible(viewer: Viewer | None) -> list[ColumnElement[bool]]:
    if viewer is None:
        return []
    c = s.activities.c
    out: list[ColumnElement[bool]] = []
    scope = viewer.activity_scope
    if scope is ActivityScope.OWN:
        out.append(c.employee == viewer.user_id)
    elif scope is ActivityScope.GROUP:
        out.append(c.employee.in_(sorted(viewer.group_members | {viewer.user_id})))
    hidden = _invisible_projects(viewer)
    if hidden is not None:
        out.append(or_(c.project_id.is_(None), c.project_id.not_in(hidden)))
    return out


# -- repositories --

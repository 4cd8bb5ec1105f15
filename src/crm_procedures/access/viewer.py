"""The viewer: what one acting user may see, resolved once from users and groups.

Stores receive a :class:`Viewer` with every read and apply it inside their
query (SQL ``WHERE`` clauses, or the same predicates in memory), so a list, a
count, a search, a report and a get-by-id all agree. The predicates below are
the reference semantics every adapter must match.

Rules:

* A project with linked users or groups is visible only to them, and to
  viewers with the ``project.read_all`` permission (L5).
* A project's deny entries (``denied_users``, ``denied_groups``) hide it from
  those users and groups whatever else would show it; only ``admin`` passes.
* A viewer with ``project.members_only`` (a client's staff) sees only the
  projects they are linked to or a member of in some role.
* A prospect is visible when its project is; a prospect in status
  ``preparing`` only to viewers with ``prospect.read_preparing`` (W8).
* An activity is visible to its employee; to members of the employee's groups
  when the viewer has ``activity.read_group``; to everybody with
  ``activity.read_all`` (P4). An activity on a project the viewer may not see
  is not visible, whatever the scope.
* A visit report is visible to its account manager, and to every viewer
  with ``visit_report.read`` or ``visit_report.write`` (V5: knowledge is
  shared with those who are given it, not with everybody).
* A relation is visible to its account manager and to every viewer holding
  at least one permission: a user without any permission sees no relation.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

import attrs

from crm_procedures.ids import GroupId, UserId
from crm_procedures.model.activity import Activity
from crm_procedures.model.project import Project
from crm_procedures.model.prospect import Prospect, ProspectStatus
from crm_procedures.model.relation import Relation
from crm_procedures.model.users import Group, User
from crm_procedures.model.visit_report import VisitReport

__all__ = [
    "IMPLIED",
    "PERMISSIONS",
    "ActivityScope",
    "Viewer",
    "may_see_activity",
    "may_see_project",
    "may_see_prospect",
    "may_see_relation",
    "may_see_visit_report",
    "viewer_for",
]

PERMISSIONS: frozenset[str] = frozenset(
    {
        "project.read_all",
        "project.members_only",
        "project.write",
        "prospect.read_preparing",
        "prospect.write",
        "prospect.perform",
        "prospect.import",
        "prospect.status",
        "prospect.correct",
        "activity.read_group",
        "activity.read_all",
        "activity.write",
        "report.read",
        "visit_report.write",
        "visit_report.read",
        "relation.write",
        "admin",
    }
)
"""The permission names groups may grant. ``admin`` implies all of them."""

IMPLIED: dict[str, frozenset[str]] = {
    "prospect.write": frozenset({"prospect.perform", "prospect.import", "prospect.status"}),
}
"""Permissions that hold others: ``prospect.write`` (the old, coarse name) holds the
three it was split into, so groups granted it keep every right they had."""


class ActivityScope(enum.StrEnum):
    """Whose activities a viewer sees: only their own, their groups', or all."""

    OWN = "own"
    GROUP = "group"
    ALL = "all"


@attrs.frozen
class Viewer:
    """The acting user with their resolved rights.

    ``group_members`` are the ids of every user sharing a group with the viewer
    (the viewer included); used when ``activity_scope`` is ``group`` (and
    resolved only then by :func:`~crm_procedures.services.context.resolve_viewer`).
    ``Viewer.system()`` sees everything (for batch jobs and migrations).
    """

    user_id: UserId
    groups: frozenset[GroupId] = frozenset()
    permissions: frozenset[str] = frozenset()
    group_members: frozenset[UserId] = frozenset()

    @classmethod
    def system(cls) -> Viewer:
        """A viewer that sees and may do everything."""
        return cls(UserId("system"), permissions=frozenset({"admin"}))

    def has(self, permission: str) -> bool:
        """True when the viewer holds ``permission`` (``admin`` holds all)."""
        if permission in self.permissions or "admin" in self.permissions:
            return True
        return any(permission in IMPLIED.get(p, ()) for p in self.permissions)

    @property
    def all_projects(self) -> bool:
        """True when restricted projects are visible regardless of links."""
        return self.has("project.read_all")

    @property
    def members_only(self) -> bool:
        """True when only projects the viewer is a member of or linked to are visible.

        For a client's staff: ``project.members_only`` limits them to the
        campaigns they take part in, without hand-made links. ``admin`` and
        ``project.read_all`` lift the limit.
        """
        return "project.members_only" in self.permissions and not self.all_projects

    @property
    def sees_preparing(self) -> bool:
        """True when prospects in preparation are visible."""
        return self.has("prospect.read_preparing")

    @property
    def reads_visit_reports(self) -> bool:
        """True when every visit report is visible (not only the viewer's own)."""
        return self.has("visit_report.read") or self.has("visit_report.write")

    @property
    def sees_relations(self) -> bool:
        """True when every relation is visible (the viewer holds some permission)."""
        return bool(self.permissions)

    @property
    def activity_scope(self) -> ActivityScope:
        """Whose activities the viewer sees."""
        if self.has("activity.read_all"):
            return ActivityScope.ALL
        if self.has("activity.read_group"):
            return ActivityScope.GROUP
        return ActivityScope.OWN


def viewer_for(user: User, groups: Iterable[Group], users: Iterable[User] = ()) -> Viewer:
    """Resolve a user's viewer from their groups (and all users, for group members)."""
    mine = {g.id: g for g in groups if g.id in user.groups}
    permissions: set[str] = set()
    for g in mine.values():
        permissions |= g.permissions
    members = {user.id}
    for other in users:
        if not other.groups.isdisjoint(mine):
            members.add(other.id)
    return Viewer(user.id, frozenset(mine), frozenset(permissions), frozenset(members))


def may_see_project(viewer: Viewer, project: Project) -> bool:
    """The reference rule for project visibility (L5, with deny entries and members only)."""
    if viewer.has("admin"):
        return True
    if viewer.user_id in project.denied_users or viewer.groups & project.denied_groups:
        return False
    linked = viewer.user_id in project.linked_users or bool(viewer.groups & project.linked_groups)
    if viewer.members_only:
        return linked or any(viewer.user_id in users for users in project.members.values())
    return not project.restricted or viewer.all_projects or linked


def may_see_prospect(viewer: Viewer, prospect: Prospect, project: Project) -> bool:
    """The reference rule for prospect visibility (W8 + the project's rule)."""
    if prospect.status is ProspectStatus.PREPARING and not viewer.sees_preparing:
        return False
    return may_see_project(viewer, project)


def may_see_activity(viewer: Viewer, activity: Activity, project: Project | None) -> bool:
    """The reference rule for activity visibility (P4 + the project's rule)."""
    if project is not None and not may_see_project(viewer, project):
        return False
    scope = viewer.activity_scope
    if scope is ActivityScope.ALL or activity.employee == viewer.user_id:
        return True
    return scope is ActivityScope.GROUP and activity.employee in viewer.group_members


def may_see_relation(viewer: Viewer, relation: Relation) -> bool:
    """The reference rule for relation visibility."""
    return viewer.sees_relations or relation.account_manager == viewer.user_id


def may_see_visit_report(viewer: Viewer, report: VisitReport) -> bool:
    """The reference rule for visit report visibility (V2, V5)."""
    return viewer.reads_visit_reports or report.account_manager == viewer.user_id

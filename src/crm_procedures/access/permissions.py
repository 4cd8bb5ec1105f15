"""Write checks: which permission an action needs, and a ``require`` that enforces it.

Reads are scoped inside the store's queries (see :mod:`crm_procedures.access.viewer`);
writes are checked by the service before it changes anything, with the helpers
below. A write always needs the permission *and* visibility of the record:
nobody changes what they cannot see.

Permission names (granted to groups; ``admin`` implies every one):

=========================  ==========================================================
``project.read_all``       see restricted projects without being linked to them (L5)
``project.write``          create and change projects, their links and notepad
``project.members_only``   (a limit, for client staff) see only the projects one is
                           linked to or a member of
``prospect.read_preparing`` see prospects still in preparation (W8)
``prospect.write``         all three below (the coarse name, kept working)
``prospect.perform``       perform steps in a role (W6); nothing else
``prospect.import``        import suspects and add or release them in a campaign (W1)
``prospect.status``        close, reopen and mark prospects won (W8)
``prospect.correct``       correct wrongly registered steps against the procedure (W7)
``activity.read_group``    see the activities of employees sharing a group (P4)
``activity.read_all``      see every employee's activities (P4)
``activity.write``         record and change activities of other employees; everybody
                           may record and change their own
``report.read``            run BI reports over activities and prospects (P1)
``visit_report.read``      see every visit report, not only one's own (V2, V5)
``visit_report.write``     write and reassign visit reports (V1, V5)
``relation.write``         create, change and merge relations and contacts (A1, A2, L1)
``admin``                  everything, including users, groups and definitions
=========================  ==========================================================
"""

from __future__ import annotations

from collections.abc import Mapping

from crm_procedures.access.viewer import (
    IMPLIED,
    PERMISSIONS,
    Viewer,
    may_see_activity,
    may_see_project,
    may_see_prospect,
)
from crm_procedures.errors import AccessDenied, InvalidInput
from crm_procedures.model.activity import Activity
from crm_procedures.model.project import Project
from crm_procedures.model.prospect import Prospect

__all__ = [
    "PERMISSION_DESCRIPTIONS",
    "may_correct_prospect",
    "may_import_suspects",
    "may_read_reports",
    "may_write_activity",
    "may_write_project",
    "may_write_prospect",
    "may_write_visit_report",
    "require",
    "require_activity_write",
    "require_project_write",
    "require_prospect_write",
]

PERMISSION_DESCRIPTIONS: Mapping[str, str] = {
    "project.read_all": "see restricted projects without being linked to them",
    "project.write": "create and change projects, their links and notepad",
    "project.members_only": "(a limit) see only the projects one is linked to or a member of",
    "prospect.read_preparing": "see prospects still in preparation",
    "prospect.write": "import suspects, perform steps and change prospect status",
    "prospect.perform": "perform steps in a role (nothing else)",
    "prospect.import": "import suspects and add or release them in a campaign",
    "prospect.status": "close, reopen and mark prospects won",
    "prospect.correct": "correct wrongly registered steps against the procedure",
    "activity.read_group": "see the activities of employees sharing a group",
    "activity.read_all": "see every employee's activities",
    "activity.write": "record and change activities of other employees",
    "report.read": "run reports over activities and prospects",
    "visit_report.read": "see every visit report (not only those one manages)",
    "visit_report.write": "write and reassign visit reports",
    "relation.write": "create, change and merge relations and contacts",
    "admin": "everything, including users, groups and definitions",
}
"""What each permission name in :data:`~crm_procedures.access.viewer.PERMISSIONS` allows."""


def require(viewer: Viewer, permission: str, what: str = "") -> None:
    """Raise unless ``viewer`` holds ``permission`` (``admin`` holds all).

    ``what`` names the thing acted on, for the message ("project P-1").

    Raises:
        InvalidInput: ``permission`` is not a known permission name (a typo
            would otherwise deny everybody silently).
        AccessDenied: the viewer lacks the permission.
    """
    if permission not in PERMISSIONS:
        known = ", ".join(sorted(PERMISSIONS))
        raise InvalidInput("permission", f"unknown permission; known: {known}", permission)
    if not viewer.has(permission):
        raise AccessDenied(viewer.user_id, permission, what, _granted_by(permission))


def _granted_by(permission: str) -> str:
    """A hint naming the coarser permissions that hold ``permission`` too ("" when none)."""
    holders = sorted(p for p, held in IMPLIED.items() if permission in held)
    return " or ".join(repr(p) for p in holders) + " grants it too" if holders else ""


def may_write_project(viewer: Viewer, project: Project) -> bool:
    """True when the viewer may change ``project``: ``project.write`` and sees it."""
    return viewer.has("project.write") and may_see_project(viewer, project)


def may_write_prospect(viewer: Viewer, prospect: Prospect, project: Project) -> bool:
    """True when the viewer may perform steps on ``prospect`` (``prospect.perform``)."""
    return viewer.has("prospect.perform") and may_see_prospect(viewer, prospect, project)


def may_correct_prospect(viewer: Viewer, prospect: Prospect, project: Project) -> bool:
    """True when the viewer may correct the history of ``prospect`` (W7)."""
    return viewer.has("prospect.correct") and may_see_prospect(viewer, prospect, project)


def may_import_suspects(viewer: Viewer, project: Project) -> bool:
    """True when the viewer may import suspects into ``project`` (W1)."""
    return viewer.has("prospect.import") and may_see_project(viewer, project)


def may_write_activity(viewer: Viewer, activity: Activity, project: Project | None) -> bool:
    """True when the viewer may record or change ``activity``.

    Everybody may write their own activities on projects they can see; an
    activity of another employee needs ``activity.write`` and visibility of it.
    """
    if not may_see_activity(viewer, activity, project):
        return False
    return activity.employee == viewer.user_id or viewer.has("activity.write")


def may_read_reports(viewer: Viewer) -> bool:
    """True when the viewer may run reports (P1)."""
    return viewer.has("report.read")


def may_write_visit_report(viewer: Viewer) -> bool:
    """True when the viewer may write or reassign visit reports (V1, V5)."""
    return viewer.has("visit_report.write")


def require_project_write(viewer: Viewer, project: Project) -> None:
    """Raise unless :func:`may_write_project`.

    Raises:
        AccessDenied: naming ``project.write`` and the project.
    """
    if not may_write_project(viewer, project):
        raise AccessDenied(viewer.user_id, "project.write", f"project {project.id}")


def require_prospect_write(viewer: Viewer, prospect: Prospect, project: Project) -> None:
    """Raise unless :func:`may_write_prospect`.

    Raises:
        AccessDenied: naming ``prospect.perform`` and the prospect.
    """
    if not may_write_prospect(viewer, prospect, project):
        raise AccessDenied(
            viewer.user_id,
            "prospect.perform",
            f"prospect {prospect.id}",
            _granted_by("prospect.perform"),
        )


def require_activity_write(viewer: Viewer, activity: Activity, project: Project | None) -> None:
    """Raise unless :func:`may_write_activity`.

    Raises:
        AccessDenied: naming ``activity.write`` and the activity.
    """
    if not may_write_activity(viewer, activity, project):
        raise AccessDenied(viewer.user_id, "activity.write", f"activity {activity.id}")

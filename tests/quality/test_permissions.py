"""Write checks: a write needs the permission and visibility of the record."""

from __future__ import annotations

import pytest

from crm_procedures.access import (
    PERMISSION_DESCRIPTIONS,
    PERMISSIONS,
    Viewer,
    may_correct_prospect,
    may_import_suspects,
    may_read_reports,
    may_write_activity,
    may_write_project,
    may_write_prospect,
    may_write_visit_report,
    require,
    require_activity_write,
    require_project_write,
    require_prospect_write,
)
from crm_procedures.errors import AccessDenied, InvalidInput
from crm_procedures.ids import ActivityId, GroupId, ProjectId, ProspectId, RelationId, UserId
from crm_procedures.model.activity import Activity, ActivityKind
from crm_procedures.model.project import Project
from crm_procedures.model.prospect import Prospect, ProspectStatus

OPEN = Project(ProjectId("p1"), RelationId("client"), "Open campaign")
RESTRICTED = Project(
    ProjectId("p2"), RelationId("client"), "Board campaign", linked_groups={GroupId("board")}
)


def viewer(*permissions: str, user: str = "u1", groups: tuple[str, ...] = ()) -> Viewer:
    return Viewer(UserId(user), frozenset(GroupId(g) for g in groups), frozenset(permissions))


def test_every_permission_name_is_documented() -> None:
    assert set(PERMISSION_DESCRIPTIONS) == set(PERMISSIONS)


def test_require_passes_with_the_permission_and_for_admins() -> None:
    require(viewer("project.write"), "project.write")
    require(viewer("admin"), "prospect.correct")


def test_require_names_user_and_permission_when_denied() -> None:
    with pytest.raises(AccessDenied) as err:
        require(viewer("project.write"), "prospect.write", "project p1")
    assert (err.value.user_id, err.value.permission) == ("u1", "prospect.write")
    assert "project p1" in str(err.value)
    assert isinstance(err.value, PermissionError)


def test_require_refuses_a_misspelt_permission() -> None:
    with pytest.raises(InvalidInput):
        require(viewer("admin"), "project.wirte")


def test_project_write_needs_permission_and_a_visible_project() -> None:
    assert may_write_project(viewer("project.write"), OPEN)
    assert not may_write_project(viewer(), OPEN)
    assert not may_write_project(viewer("project.write"), RESTRICTED)
    assert may_write_project(viewer("project.write", groups=("board",)), RESTRICTED)
    with pytest.raises(AccessDenied):
        require_project_write(viewer("project.write"), RESTRICTED)


def test_preparing_prospect_is_writable_only_by_who_sees_preparing() -> None:
    prospect = Prospect(ProspectId("x"), OPEN.id, RelationId("r1"))
    assert prospect.status is ProspectStatus.PREPARING
    assert not may_write_prospect(viewer("prospect.write"), prospect, OPEN)
    assert may_write_prospect(viewer("prospect.write", "prospect.read_preparing"), prospect, OPEN)
    running = prospect.copy()
    running.status = ProspectStatus.RUNNING
    assert may_write_prospect(viewer("prospect.write"), running, OPEN)
    assert not may_correct_prospect(viewer("prospect.write"), running, OPEN)
    assert may_correct_prospect(viewer("prospect.correct"), running, OPEN)
    with pytest.raises(AccessDenied):
        require_prospect_write(viewer("prospect.write"), prospect, OPEN)


def test_importing_suspects_needs_prospect_write_on_a_visible_project() -> None:
    assert may_import_suspects(viewer("prospect.write"), OPEN)
    assert not may_import_suspects(viewer("prospect.write"), RESTRICTED)
    assert not may_import_suspects(viewer("project.write"), OPEN)


def test_own_activities_are_writable_others_need_activity_write() -> None:
    mine = Activity(ActivityId("a1"), ActivityKind.CONTACT, UserId("u1"))
    theirs = Activity(ActivityId("a2"), ActivityKind.CONTACT, UserId("u2"))
    assert may_write_activity(viewer(), mine, OPEN)
    assert not may_write_activity(viewer("activity.write"), theirs, OPEN)  # cannot see it
    assert may_write_activity(viewer("activity.write", "activity.read_all"), theirs, OPEN)
    assert not may_write_activity(viewer(), mine, RESTRICTED)
    with pytest.raises(AccessDenied):
        require_activity_write(viewer("activity.read_all"), theirs, None)


def test_reports_and_visit_reports_have_their_own_permissions() -> None:
    assert may_read_reports(viewer("report.read"))
    assert not may_read_reports(viewer())
    assert may_write_visit_report(viewer("visit_report.write"))
    assert not may_write_visit_report(viewer("report.read"))

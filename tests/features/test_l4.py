"""L4: activities hang on a project and are assigned to different employees (inside sales
calls, the secretariat sends information). On memory, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crm_procedures.errors import AccessDenied
from crm_procedures.model.activity import ActivityKind
from crm_procedures.services import activities, projects
from records.builders import T0, World


def test_l4_a_projects_activities_go_to_different_employees(records: World) -> None:
    w = records
    pid = projects.create_project(
        w.ctx, "u-boss", relation_id="R-1", name="Ovens", settings=w.settings
    ).id
    call = activities.create_contact(
        w.ctx,
        "u-boss",
        project_id=pid,
        employee="u-anna",
        contact_ids=["C-1"],
        subject="Call about the ovens",
        start=T0 + timedelta(days=1),
        settings=w.settings,
    )
    send = activities.create_task(
        w.ctx,
        "u-boss",
        project_id=pid,
        employee="u-bob",
        subject="Send the brochure",
        due=T0 + timedelta(days=2),
        settings=w.settings,
    )
    # The relation comes from the project; each activity is its employee's.
    assert (call.relation_id, call.employee, call.kind) == ("R-1", "u-anna", ActivityKind.CONTACT)
    assert (send.relation_id, send.employee, send.kind) == ("R-1", "u-bob", ActivityKind.TASK)
    listed = activities.activities_of_project(w.ctx, "u-boss", pid)
    assert {a.id for a in listed} == {call.id, send.id}
    assert [a.id for a in activities.my_activities(w.ctx, "u-anna")] == [call.id]
    assert [a.id for a in activities.my_activities(w.ctx, "u-bob")] == [send.id]
    summary = projects.project_summary(w.ctx, "u-boss", pid, settings=w.settings)
    assert summary.activity_counts["contact"] == summary.activity_counts["task"] == 1
    assert summary.open_activities == 2


def test_l4_assigning_work_to_someone_else_needs_activity_write(records: World) -> None:
    w = records
    pid = projects.create_project(
        w.ctx, "u-anna", relation_id="R-1", name="Ovens", settings=w.settings
    ).id
    before = w.dump()
    with pytest.raises(AccessDenied, match=r"activity\.write"):
        activities.create_task(w.ctx, "u-anna", project_id=pid, employee="u-bob")
    assert w.dump() == before

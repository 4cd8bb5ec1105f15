"""P4, L5, W8 for the reports: for generated users, groups, project links, prospects and
activities, every report counts exactly the records the reference predicates let the
user see, on every store (0 leaks, 0 missing)."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings

from crm_procedures.access.viewer import (
    may_see_activity,
    may_see_project,
    may_see_prospect,
    viewer_for,
)
from crm_procedures.errors import NotFound
from crm_procedures.model.activity import Activity
from crm_procedures.model.project import Project
from crm_procedures.services.reports import report_queries
from quality.worlds import Scale, World, build, worlds

from .conftest import NOW, STORES

SCALE = Scale(created_at=NOW)


@pytest.mark.parametrize("store_name", [name for name, _ in STORES])
@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(world=worlds(SCALE))
def test_every_report_counts_exactly_what_the_viewer_may_see(store_name: str, world: World) -> None:
    store = build(dict(STORES)[store_name], world)
    projects = {p.id: p for p in world.projects}

    def project_of(a: Activity) -> Project | None:
        return projects[a.project_id] if a.project_id else None

    try:
        with store.unit_of_work() as uow:
            reports = report_queries(uow)
            for user in world.users:
                viewer = viewer_for(user, world.groups, world.users)
                for project in world.projects:
                    if not may_see_project(viewer, project):
                        with pytest.raises(NotFound):
                            reports.funnel(project.id, viewer)
                        continue
                    visible = [
                        x
                        for x in world.prospects
                        if x.project_id == project.id and may_see_prospect(viewer, x, project)
                    ]
                    funnel = reports.funnel(project.id, viewer)
                    assert (funnel.total, funnel.suspects) == (len(visible), len(visible)), (
                        user.id,
                        project.id,
                    )
                seen = Counter(
                    a.employee
                    for a in world.activities
                    if may_see_activity(viewer, a, project_of(a))
                )
                rows = reports.employee_activity(viewer)
                assert {r.employee: r.activities for r in rows} == dict(seen), user.id
                for rel in world.relations:
                    allowed = {
                        x.id
                        for x in world.prospects
                        if x.relation_id == rel
                        and may_see_prospect(viewer, x, projects[x.project_id])
                    }
                    got = {p.id for p in reports.prospects_of_relation(rel, viewer)}
                    assert got == allowed, (user.id, rel)
    finally:
        store.close()

"""P4, L5, W8: every store query returns exactly what the reference predicates allow.

For generated users, groups, project links, prospects and activities, every
user's lists, counts and gets are compared with
:mod:`crm_procedures.access.viewer`: no record leaks to a user who may not see
it, and none is missing for a user who may.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_procedures.access.viewer import (
    Viewer,
    may_see_activity,
    may_see_project,
    may_see_prospect,
    viewer_for,
)
from crm_procedures.errors import NotFound
from crm_procedures.ids import ActivityId, GroupId, ProjectId, ProspectId, RelationId, UserId
from crm_procedures.model.activity import Activity, ActivityKind
from crm_procedures.model.project import Project
from crm_procedures.model.prospect import Prospect, ProspectStatus
from crm_procedures.model.relation import Relation
from crm_procedures.model.users import Group, User
from crm_procedures.ports import Store, UnitOfWork
from crm_procedures.services.context import resolve_viewer

from .conftest import NOW, STORES

READ_PERMISSIONS = [
    "project.read_all",
    "prospect.read_preparing",
    "activity.read_group",
    "activity.read_all",
    "admin",
]
GROUPS = ["g1", "g2", "g3"]
USERS = ["u1", "u2", "u3", "u4"]
RELATIONS = ["r1", "r2"]


@attrs.frozen
class World:
    groups: tuple[Group, ...]
    users: tuple[User, ...]
    projects: tuple[Project, ...]
    prospects: tuple[Prospect, ...]
    activities: tuple[Activity, ...]


def sub(items: list[str], p_max: int | None = None) -> st.SearchStrategy[frozenset[str]]:
    return st.frozensets(st.sampled_from(items), max_size=p_max or len(items))


@st.composite
def worlds(draw: st.DrawFn) -> World:
    groups = tuple(Group(GroupId(g), f"Group {g}", draw(sub(READ_PERMISSIONS, 2))) for g in GROUPS)
    users = tuple(User(UserId(u), f"User {u}", groups=draw(sub(GROUPS, 2))) for u in USERS)
    projects = []
    for i in range(draw(st.integers(1, 3))):
        restricted = draw(st.booleans())
        projects.append(
            Project(
                ProjectId(f"p{i}"),
                RelationId(draw(st.sampled_from(RELATIONS))),
                f"Project {i}",
                linked_users=draw(sub(USERS, 2)) if restricted else frozenset(),
                linked_groups=draw(sub(GROUPS, 1)) if restricted else frozenset(),
            )
        )
    prospects = tuple(
        Prospect(
            ProspectId(f"x{i}"),
            draw(st.sampled_from(projects)).id,
            RelationId(draw(st.sampled_from(RELATIONS))),
            status=draw(st.sampled_from(list(ProspectStatus))),
        )
        for i in range(draw(st.integers(0, 6)))
    )
    activities = tuple(
        Activity(
            ActivityId(f"a{i}"),
            draw(st.sampled_from(list(ActivityKind))),
            UserId(draw(st.sampled_from([*USERS, "outsider"]))),
            relation_id=RelationId(draw(st.sampled_from(RELATIONS))),
            project_id=draw(st.one_of(st.none(), st.sampled_from([p.id for p in projects]))),
            created_at=NOW,
        )
        for i in range(draw(st.integers(0, 8)))
    )
    return World(groups, users, tuple(projects), prospects, activities)


def build(factory: Callable[[], Store], world: World) -> Store:
    store = factory()
    with store.unit_of_work() as uow:
        uow.groups.add_many(list(world.groups))
        uow.users.add_many(list(world.users))
        uow.relations.add_many([Relation(RelationId(r), f"Relation {r}") for r in RELATIONS])
        uow.projects.add_many(list(world.projects))
        uow.prospects.add_many([p.copy() for p in world.prospects])
        uow.activities.add_many(list(world.activities))
        uow.commit()
    return store


def ids(records: Any) -> set[str]:
    return {r.id for r in records}


def assert_same(what: str, got: set[str], allowed: set[str]) -> None:
    leaks, missing = got - allowed, allowed - got
    assert (leaks, missing) == (set(), set()), (
        f"{what}: leaks {sorted(leaks)}, missing {sorted(missing)}"
    )


def visible_by_get(repo: Any, record_ids: list[str], viewer: Viewer) -> set[str]:
    seen = set()
    for rid in record_ids:
        try:
            repo.get(rid, viewer)
        except NotFound:
            continue
        seen.add(rid)
    return seen


def check_user(uow: UnitOfWork, world: World, user: User) -> None:
    reference = viewer_for(user, world.groups, world.users)
    viewer = resolve_viewer(uow, user.id)
    assert viewer == reference
    projects = {p.id: p for p in world.projects}

    see_project = {p.id for p in world.projects if may_see_project(viewer, p)}
    assert_same("projects.visible", ids(uow.projects.visible(viewer)), see_project)
    assert uow.projects.count(viewer) == len(see_project)
    assert_same("projects.get", visible_by_get(uow.projects, list(projects), viewer), see_project)
    for rel in RELATIONS:
        allowed = {p for p in see_project if projects[p].relation_id == rel}
        assert_same("projects.of_relation", ids(uow.projects.of_relation(rel, viewer)), allowed)

    see_prospect = {
        x.id for x in world.prospects if may_see_prospect(viewer, x, projects[x.project_id])
    }
    assert uow.prospects.count(viewer) == len(see_prospect)
    assert_same(
        "prospects.get",
        visible_by_get(uow.prospects, [x.id for x in world.prospects], viewer),
        see_prospect,
    )
    for pid in projects:
        mine = {x.id for x in world.prospects if x.project_id == pid and x.id in see_prospect}
        assert_same("prospects.of_project", ids(uow.prospects.of_project(pid, viewer)), mine)
        by_status: dict[str, int] = {}
        for x in world.prospects:
            if x.id in mine:
                by_status[x.status.value] = by_status.get(x.status.value, 0) + 1
        counted = {k: v for k, v in uow.prospects.count_by_status(pid, viewer).items() if v}
        assert counted == by_status, f"count_by_status of {pid}"
        running = {
            x.id for x in world.prospects if x.id in mine and x.status is ProspectStatus.RUNNING
        }
        assert_same("prospects.worklist", ids(uow.prospects.worklist(pid, [None], viewer)), running)

    def project_of(a: Activity) -> Project | None:
        return projects[a.project_id] if a.project_id else None

    see_activity = {a.id for a in world.activities if may_see_activity(viewer, a, project_of(a))}
    assert uow.activities.count(viewer) == len(see_activity)
    assert_same(
        "activities.get",
        visible_by_get(uow.activities, [a.id for a in world.activities], viewer),
        see_activity,
    )
    for employee in [*USERS, "outsider"]:
        allowed = {a.id for a in world.activities if a.employee == employee} & see_activity
        got = ids(uow.activities.for_employee(employee, viewer, limit=1000))
        assert_same(f"activities.for_employee({employee})", got, allowed)
    for rel in RELATIONS:
        allowed = {a.id for a in world.activities if a.relation_id == rel} & see_activity
        got = ids(uow.activities.of_relation(rel, viewer, limit=1000))
        assert_same("activities.of_relation", got, allowed)
    for pid in projects:
        allowed = {a.id for a in world.activities if a.project_id == pid} & see_activity
        got = ids(uow.activities.of_project(pid, viewer, limit=1000))
        assert_same("activities.of_project", got, allowed)


@pytest.mark.parametrize("store_name", [name for name, _ in STORES])
@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(world=worlds())
def test_every_query_returns_exactly_what_the_viewer_may_see(store_name: str, world: World) -> None:
    store = build(dict(STORES)[store_name], world)
    try:
        with store.unit_of_work() as uow:
            for user in world.users:
                check_user(uow, world, user)
    finally:
        store.close()

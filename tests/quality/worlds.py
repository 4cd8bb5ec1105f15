"""Generated access worlds and the check of every store query against the reference predicates.

A world holds groups, users, restricted and open projects, prospects and
activities. :func:`check_user` compares each of a user's store queries with
:mod:`crm_procedures.access.viewer` and hands every comparison to a callback,
so a property test can fail at the first difference and a larger run can
count them all.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import attrs
from hypothesis import strategies as st

from crm_procedures.access.viewer import (
    ActivityScope,
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

READ_PERMISSIONS = (
    "project.read_all",
    "project.members_only",
    "prospect.read_preparing",
    "activity.read_group",
    "activity.read_all",
    "admin",
)
OUTSIDER = "outsider"

Compare = Callable[[str, set[str], set[str]], None]
"""Receives a query's name, the ids it returned and the ids the predicates allow."""


@attrs.frozen
class Scale:
    """How large a generated world may grow."""

    created_at: datetime
    permissions: tuple[str, ...] = READ_PERMISSIONS
    groups: int = 3
    users: int = 4
    relations: int = 2
    most: int = 2
    """At most this many permissions a group, groups a user and linked users a project."""
    most_linked_groups: int = 1
    projects: int = 3
    prospects: int = 6
    activities: int = 8
    inactive_users: bool = False


@attrs.frozen
class World:
    groups: tuple[Group, ...]
    users: tuple[User, ...]
    relations: tuple[str, ...]
    projects: tuple[Project, ...]
    prospects: tuple[Prospect, ...]
    activities: tuple[Activity, ...]


def subset(items: list[str] | tuple[str, ...], most: int) -> st.SearchStrategy[frozenset[str]]:
    return st.frozensets(st.sampled_from(items), max_size=most)


@st.composite
def worlds(draw: st.DrawFn, scale: Scale) -> World:
    group_ids = [f"g{i}" for i in range(scale.groups)]
    user_ids = [f"u{i}" for i in range(scale.users)]
    relations = tuple(f"r{i}" for i in range(scale.relations))
    groups = tuple(
        Group(GroupId(g), f"Group {g}", draw(subset(scale.permissions, scale.most)))
        for g in group_ids
    )
    users = tuple(
        User(
            UserId(u),
            f"User {u}",
            groups=draw(subset(group_ids, scale.most)),
            active=draw(st.booleans()) if scale.inactive_users else True,
        )
        for u in user_ids
    )
    restricted = draw(st.lists(st.booleans(), min_size=1, max_size=scale.projects))
    projects = [
        Project(
            ProjectId(f"p{i}"),
            RelationId(draw(st.sampled_from(relations))),
            f"Project {i}",
            linked_users=draw(subset(user_ids, scale.most)) if closed else frozenset(),
            linked_groups=(
                draw(subset(group_ids, scale.most_linked_groups)) if closed else frozenset()
            ),
            denied_users=draw(subset(user_ids, 1)),
            denied_groups=draw(subset(group_ids, 1)),
            members={"client": tuple(sorted(draw(subset(user_ids, scale.most))))},
        )
        for i, closed in enumerate(restricted)
    ]
    prospects = tuple(
        Prospect(
            ProspectId(f"x{i}"),
            draw(st.sampled_from(projects)).id,
            RelationId(draw(st.sampled_from(relations))),
            status=draw(st.sampled_from(list(ProspectStatus))),
        )
        for i in range(draw(st.integers(0, scale.prospects)))
    )
    activities = tuple(
        Activity(
            ActivityId(f"a{i}"),
            draw(st.sampled_from(list(ActivityKind))),
            UserId(draw(st.sampled_from([*user_ids, OUTSIDER]))),
            relation_id=RelationId(draw(st.sampled_from(relations))),
            project_id=draw(st.one_of(st.none(), st.sampled_from([p.id for p in projects]))),
            created_at=scale.created_at,
        )
        for i in range(draw(st.integers(0, scale.activities)))
    )
    return World(groups, users, relations, tuple(projects), prospects, activities)


def build(factory: Callable[[], Store], world: World) -> Store:
    store = factory()
    with store.unit_of_work() as uow:
        uow.groups.add_many(list(world.groups))
        uow.users.add_many(list(world.users))
        uow.relations.add_many([Relation(RelationId(r), f"Relation {r}") for r in world.relations])
        uow.projects.add_many(list(world.projects))
        uow.prospects.add_many([p.copy() for p in world.prospects])
        uow.activities.add_many(list(world.activities))
        uow.commit()
    return store


def ids(records: Any) -> set[str]:
    return {r.id for r in records}


def visible_by_get(repo: Any, record_ids: list[str], viewer: Any) -> set[str]:
    seen = set()
    for rid in record_ids:
        try:
            repo.get(rid, viewer)
        except NotFound:
            continue
        seen.add(rid)
    return seen


def check_user(uow: UnitOfWork, world: World, user: User, compare: Compare) -> None:
    """Compare every query of ``user`` with the reference predicates through ``compare``."""
    viewer = viewer_for(user, world.groups, world.users)
    if user.active:
        resolved = resolve_viewer(uow, user.id)
        # The members of the viewer's groups are resolved for the one rule that
        # reads them (activity scope "group"); any other viewer holds itself alone.
        group_scope = viewer.activity_scope is ActivityScope.GROUP
        expected = viewer if group_scope else viewer_for(user, world.groups)
        compare(f"viewer of {user.id}", {str(resolved == expected)}, {"True"})
    projects = {p.id: p for p in world.projects}

    see_project = {p.id for p in world.projects if may_see_project(viewer, p)}
    compare("projects.visible", ids(uow.projects.visible(viewer)), see_project)
    compare("projects.count", {str(uow.projects.count(viewer))}, {str(len(see_project))})
    compare("projects.get", visible_by_get(uow.projects, list(projects), viewer), see_project)
    for rel in world.relations:
        allowed = {p for p in see_project if projects[p].relation_id == rel}
        compare("projects.of_relation", ids(uow.projects.of_relation(rel, viewer)), allowed)

    see_prospect = {
        x.id for x in world.prospects if may_see_prospect(viewer, x, projects[x.project_id])
    }
    compare("prospects.count", {str(uow.prospects.count(viewer))}, {str(len(see_prospect))})
    compare(
        "prospects.get",
        visible_by_get(uow.prospects, [x.id for x in world.prospects], viewer),
        see_prospect,
    )
    for pid in projects:
        mine = {x.id for x in world.prospects if x.project_id == pid and x.id in see_prospect}
        compare("prospects.of_project", ids(uow.prospects.of_project(pid, viewer)), mine)
        by_status: dict[str, int] = {}
        for x in world.prospects:
            if x.id in mine:
                by_status[x.status.value] = by_status.get(x.status.value, 0) + 1
        counted = uow.prospects.count_by_status(pid, viewer)
        compare(
            f"prospects.count_by_status({pid})",
            {f"{k}={v}" for k, v in counted.items() if v},
            {f"{k}={v}" for k, v in by_status.items()},
        )
        running = {
            x.id for x in world.prospects if x.id in mine and x.status is ProspectStatus.RUNNING
        }
        got = ids(uow.prospects.worklist(pid, [None], viewer, limit=1000))
        compare("prospects.worklist", got, running)

    def project_of(a: Activity) -> Project | None:
        return projects[a.project_id] if a.project_id else None

    see_activity = {a.id for a in world.activities if may_see_activity(viewer, a, project_of(a))}
    compare("activities.count", {str(uow.activities.count(viewer))}, {str(len(see_activity))})
    compare(
        "activities.get",
        visible_by_get(uow.activities, [a.id for a in world.activities], viewer),
        see_activity,
    )
    for employee in [*(u.id for u in world.users), OUTSIDER]:
        allowed = {a.id for a in world.activities if a.employee == employee} & see_activity
        got = ids(uow.activities.for_employee(employee, viewer, limit=1000))
        compare(f"activities.for_employee({employee})", got, allowed)
    for rel in world.relations:
        allowed = {a.id for a in world.activities if a.relation_id == rel} & see_activity
        got = ids(uow.activities.of_relation(rel, viewer, limit=1000))
        compare("activities.of_relation", got, allowed)
    for pid in projects:
        allowed = {a.id for a in world.activities if a.project_id == pid} & see_activity
        got = ids(uow.activities.of_project(pid, viewer, limit=1000))
        compare("activities.of_project", got, allowed)

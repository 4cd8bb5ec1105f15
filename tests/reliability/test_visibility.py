"""Item 5, ``visibility``: store queries against the reference predicates, at a larger scale.

The access tests check small generated worlds; here the worlds are larger
(more users, groups, restricted projects, prospects and activities) and every
difference is counted: a record a user's query returns that the reference
predicates of :mod:`crm_procedures.access.viewer` forbid is a leak, a record
they allow that the query leaves out is missing. Both must stay 0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_procedures.access.viewer import (
    may_see_activity,
    may_see_project,
    may_see_prospect,
    viewer_for,
)
from crm_procedures.adapters.memory import MemoryStore
from crm_procedures.adapters.sql import open_store
from crm_procedures.errors import NotFound
from crm_procedures.ids import ActivityId, GroupId, ProjectId, ProspectId, RelationId, UserId
from crm_procedures.model.activity import Activity, ActivityKind
from crm_procedures.model.project import Project
from crm_procedures.model.prospect import Prospect, ProspectStatus
from crm_procedures.model.relation import Relation
from crm_procedures.model.users import Group, User
from crm_procedures.ports import Store, UnitOfWork
from crm_procedures.services.context import resolve_viewer
from reliability.figures import hypothesis_settings, record, size
from reliability.world import T0

PERMISSIONS = [
    "project.read_all",
    "prospect.read_preparing",
    "activity.read_group",
    "activity.read_all",
    "admin",
    "prospect.write",
]
GROUPS = [f"g{i}" for i in range(5)]
USERS = [f"u{i}" for i in range(8)]
RELATIONS = [f"r{i}" for i in range(4)]
STORES: dict[str, Callable[[], Store]] = {
    "memory": MemoryStore,
    "sqlite": lambda: open_store("sqlite://"),
}
WORLDS = {"memory": size(30, 750), "sqlite": size(10, 250)}


@attrs.frozen
class World:
    groups: tuple[Group, ...]
    users: tuple[User, ...]
    projects: tuple[Project, ...]
    prospects: tuple[Prospect, ...]
    activities: tuple[Activity, ...]


def subset(items: list[str], most: int) -> st.SearchStrategy[frozenset[str]]:
    return st.frozensets(st.sampled_from(items), max_size=most)


@st.composite
def worlds(draw: st.DrawFn) -> World:
    groups = tuple(Group(GroupId(g), f"Group {g}", draw(subset(PERMISSIONS, 3))) for g in GROUPS)
    users = tuple(
        User(UserId(u), f"User {u}", groups=draw(subset(GROUPS, 3)), active=draw(st.booleans()))
        for u in USERS
    )
    projects = [
        Project(
            ProjectId(f"p{i}"),
            RelationId(draw(st.sampled_from(RELATIONS))),
            f"Project {i}",
            linked_users=draw(subset(USERS, 3)) if restricted else frozenset(),
            linked_groups=draw(subset(GROUPS, 2)) if restricted else frozenset(),
        )
        for i, restricted in enumerate(draw(st.lists(st.booleans(), min_size=1, max_size=6)))
    ]
    prospects = tuple(
        Prospect(
            ProspectId(f"x{i}"),
            draw(st.sampled_from(projects)).id,
            RelationId(draw(st.sampled_from(RELATIONS))),
            status=draw(st.sampled_from(list(ProspectStatus))),
        )
        for i in range(draw(st.integers(0, 40)))
    )
    activities = tuple(
        Activity(
            ActivityId(f"a{i}"),
            draw(st.sampled_from(list(ActivityKind))),
            UserId(draw(st.sampled_from([*USERS, "outsider"]))),
            relation_id=RelationId(draw(st.sampled_from(RELATIONS))),
            project_id=draw(st.one_of(st.none(), st.sampled_from([p.id for p in projects]))),
            created_at=T0,
        )
        for i in range(draw(st.integers(0, 60)))
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


class Tally:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.examples: list[str] = []

    def compare(self, what: str, got: set[str], allowed: set[str]) -> None:
        self.counts["queries"] += 1
        leaks, missing = got - allowed, allowed - got
        self.counts["leaks"] += len(leaks)
        self.counts["missing"] += len(missing)
        if (leaks or missing) and len(self.examples) < 5:
            self.examples.append(f"{what}: leaks {sorted(leaks)}, missing {sorted(missing)}")


def ids(records: Any) -> set[str]:
    return {r.id for r in records}


def by_get(repo: Any, record_ids: list[str], viewer: Any) -> set[str]:
    seen = set()
    for rid in record_ids:
        try:
            repo.get(rid, viewer)
        except NotFound:
            continue
        seen.add(rid)
    return seen


def check_user(uow: UnitOfWork, world: World, user: User, tally: Tally) -> None:
    viewer = viewer_for(user, world.groups, world.users)
    if user.active:
        resolved = resolve_viewer(uow, user.id)
        same = resolved == viewer
        tally.compare(f"viewer of {user.id}", {str(same)}, {"True"})
    projects = {p.id: p for p in world.projects}
    see_project = {p.id for p in world.projects if may_see_project(viewer, p)}
    tally.compare("projects.visible", ids(uow.projects.visible(viewer)), see_project)
    tally.compare("projects.get", by_get(uow.projects, list(projects), viewer), see_project)
    for rel in RELATIONS:
        allowed = {p for p in see_project if projects[p].relation_id == rel}
        tally.compare("projects.of_relation", ids(uow.projects.of_relation(rel, viewer)), allowed)
    see_prospect = {
        x.id for x in world.prospects if may_see_prospect(viewer, x, projects[x.project_id])
    }
    tally.compare(
        "prospects.get",
        by_get(uow.prospects, [x.id for x in world.prospects], viewer),
        see_prospect,
    )
    counted = uow.prospects.count(viewer)
    tally.compare("prospects.count", {str(counted)}, {str(len(see_prospect))})
    for pid in projects:
        mine = {x.id for x in world.prospects if x.project_id == pid and x.id in see_prospect}
        tally.compare("prospects.of_project", ids(uow.prospects.of_project(pid, viewer)), mine)
        running = {
            x.id for x in world.prospects if x.id in mine and x.status is ProspectStatus.RUNNING
        }
        got = ids(uow.prospects.worklist(pid, [None], viewer, limit=1000))
        tally.compare("prospects.worklist", got, running)

    def project_of(a: Activity) -> Project | None:
        return projects[a.project_id] if a.project_id else None

    see_activity = {a.id for a in world.activities if may_see_activity(viewer, a, project_of(a))}
    tally.compare(
        "activities.get",
        by_get(uow.activities, [a.id for a in world.activities], viewer),
        see_activity,
    )
    for employee in [*USERS, "outsider"]:
        allowed = {a.id for a in world.activities if a.employee == employee} & see_activity
        got = ids(uow.activities.for_employee(employee, viewer, limit=1000))
        tally.compare("activities.for_employee", got, allowed)
    for rel in RELATIONS:
        allowed = {a.id for a in world.activities if a.relation_id == rel} & see_activity
        got = ids(uow.activities.of_relation(rel, viewer, limit=1000))
        tally.compare("activities.of_relation", got, allowed)


@pytest.mark.parametrize("store_name", sorted(STORES))
def test_no_query_leaks_or_misses_a_record(store_name: str) -> None:
    tally = Tally()

    @hypothesis_settings(WORLDS[store_name], WORLDS[store_name])
    @given(world=worlds())
    def every_world(world: World) -> None:
        tally.counts["worlds"] += 1
        store = build(STORES[store_name], world)
        try:
            with store.unit_of_work() as uow:
                for user in world.users:
                    check_user(uow, world, user, tally)
        finally:
            store.close()

    every_world()
    total = sum(WORLDS.values())
    record("visibility.worlds", tally.counts["worlds"], f">= {total}", accumulate=True)
    record("visibility.queries_compared", tally.counts["queries"], ">= 1", accumulate=True)
    record("visibility.leaks", tally.counts["leaks"], "== 0", accumulate=True)
    record("visibility.missing", tally.counts["missing"], "== 0", accumulate=True)
    assert tally.counts["worlds"] >= WORLDS[store_name]
    assert (tally.counts["leaks"], tally.counts["missing"]) == (0, 0), tally.examples

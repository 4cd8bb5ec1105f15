"""Deny entries on projects and client staff limited to their campaigns (L5), on every store."""

from __future__ import annotations

import attrs
import pytest

from crm_procedures.errors import InvalidInput, NotFound
from crm_procedures.ids import GroupId, ProjectId, RelationId, UserId
from crm_procedures.model.project import Project
from crm_procedures.model.users import Group, User
from crm_procedures.services.projects import deny_project, get_project

from .conftest import World


def _setup(world: World) -> None:
    with world.store.unit_of_work() as uow:
        uow.groups.add(Group(GroupId("writers"), "Writers", permissions={"project.write"}))
        uow.groups.add(
            Group(GroupId("client-staff"), "Client staff", permissions={"project.members_only"})
        )
        uow.groups.add(Group(GroupId("all"), "All", permissions={"project.read_all"}))
        uow.users.add(User(UserId("u-pm"), "PM", groups={GroupId("writers")}))
        uow.users.add(User(UserId("u-client"), "Client", groups={GroupId("client-staff")}))
        uow.users.add(User(UserId("u-all"), "All", groups={GroupId("all"), GroupId("sales")}))
        uow.projects.add(
            Project(
                ProjectId("P-2"),
                RelationId("R-1"),
                "Their campaign",
                members={"client": (UserId("u-client"),)},
            )
        )
        uow.commit()


def visible(world: World, user: str) -> list[str]:
    from crm_procedures.services.context import resolve_viewer

    with world.store.unit_of_work(read_only=True) as uow:
        return [p.id for p in uow.projects.visible(resolve_viewer(uow, user))]


def test_deny_entries_hide_a_project_whatever_else_allows_it(world: World) -> None:
    _setup(world)
    assert "P-1" in visible(world, "u-all")
    stored = deny_project(world.ctx, "u-pm", "P-1", users=["u-bob"], groups=["all"])
    assert (stored.denied_users, stored.denied_groups) == (frozenset({"u-bob"}), frozenset({"all"}))
    assert "P-1" not in visible(world, "u-all")  # project.read_all does not beat a deny
    assert "P-1" not in visible(world, "u-bob")
    assert "P-1" in visible(world, "u-pm")
    assert "P-1" in visible(world, "u-boss")  # admin passes
    with pytest.raises(NotFound):
        get_project(world.ctx, "u-bob", "P-1")
    deny_project(world.ctx, "u-pm", "P-1", users=[])
    assert "P-1" in visible(world, "u-bob")


def test_a_deny_entry_names_real_users_and_not_oneself(world: World) -> None:
    _setup(world)
    before = world.dump()
    with pytest.raises(InvalidInput, match="no user"):
        deny_project(world.ctx, "u-pm", "P-1", users=["u-ghost"])
    with pytest.raises(InvalidInput, match="yourself"):
        deny_project(world.ctx, "u-pm", "P-1", users=["u-pm"])
    with pytest.raises(InvalidInput, match="own"):
        deny_project(world.ctx, "u-pm", "P-1", groups=["writers"])
    assert world.dump() == before


def test_client_staff_see_only_the_campaigns_they_are_members_of(world: World) -> None:
    _setup(world)
    assert visible(world, "u-client") == ["P-2"]
    with pytest.raises(NotFound):
        get_project(world.ctx, "u-client", "P-1")
    # becoming a member is all it takes: no hand-made link
    with world.store.unit_of_work() as uow:
        project = uow.projects.get("P-1")
        uow.projects.save(attrs.evolve(project, members={"client": (UserId("u-client"),)}))
        uow.commit()
    assert sorted(visible(world, "u-client")) == ["P-1", "P-2"]

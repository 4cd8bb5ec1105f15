"""prospect.write split into perform, import and status; the old name keeps every right."""

from __future__ import annotations

import pytest

from crm_procedures.access.permissions import (
    PERMISSION_DESCRIPTIONS,
    may_import_suspects,
    may_write_prospect,
    require,
)
from crm_procedures.access.viewer import PERMISSIONS, Viewer
from crm_procedures.errors import AccessDenied
from crm_procedures.ids import GroupId, ProjectId, ProspectId, RelationId, UserId
from crm_procedures.model.project import Project
from crm_procedures.model.prospect import Prospect, ProspectStatus
from crm_procedures.model.users import Group, User
from crm_procedures.services.imports import import_suspects

from .conftest import World

PROJECT = Project(ProjectId("P-1"), RelationId("R-1"), "Campaign")
RUNNING = Prospect(
    ProspectId("X"), ProjectId("P-1"), RelationId("R-1"), None, ProspectStatus.RUNNING
)


def viewer(*permissions: str) -> Viewer:
    return Viewer(UserId("u"), permissions=frozenset(permissions))


def test_the_split_permissions_are_known_and_described() -> None:
    for name in ("prospect.perform", "prospect.import", "prospect.status", "relation.write"):
        assert name in PERMISSIONS
        assert PERMISSION_DESCRIPTIONS[name]


def test_performing_steps_does_not_grant_importing_or_changing_status() -> None:
    portal = viewer("prospect.perform")
    assert may_write_prospect(portal, RUNNING, PROJECT)
    assert not may_import_suspects(portal, PROJECT)
    with pytest.raises(AccessDenied, match=r"prospect\.status"):
        require(portal, "prospect.status", "prospect X")


@pytest.mark.parametrize("name", ["prospect.perform", "prospect.import", "prospect.status"])
def test_the_old_coarse_permission_still_holds_each_part(name: str) -> None:
    assert viewer("prospect.write").has(name)
    assert not viewer(name).has("prospect.write")


def test_a_denial_names_the_coarse_permission_that_would_do_too() -> None:
    with pytest.raises(AccessDenied, match=r"'prospect\.write' grants it too"):
        require(viewer(), "prospect.import", "prospects")


def test_a_portal_user_may_not_import_suspects(world: World) -> None:
    with world.store.unit_of_work() as uow:
        uow.groups.add(Group(GroupId("portal"), "Portal", permissions={"prospect.perform"}))
        uow.users.add(User(UserId("u-portal"), "Portal", groups={GroupId("portal")}))
        uow.commit()
    before = world.dump()
    with pytest.raises(AccessDenied, match=r"prospect\.import"):
        import_suspects(world.ctx, "u-portal", "P-1", [{"name": "Nieuw BV"}])
    assert world.dump() == before

"""Fixtures of the access-and-quality tests: every store that exists, seeded alike."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from crm_procedures.ids import GroupId, ProjectId, RelationId, UserId
from crm_procedures.model.project import Project
from crm_procedures.model.relation import Relation, RelationKind
from crm_procedures.model.users import Group, User
from crm_procedures.ports import Store
from crm_procedures.services.context import Context


def store_factories() -> list[tuple[str, Callable[[], Store]]]:
    """Every store adapter importable in this checkout, as (name, factory)."""
    found: list[tuple[str, Callable[[], Store]]] = []
    try:
        from crm_procedures.adapters.memory import MemoryStore
    except ImportError:
        pass
    else:
        found.append(("memory", MemoryStore))
    try:
        from crm_procedures.adapters.sql import open_store
    except ImportError:
        pass
    else:
        found.append(("sqlite", lambda: open_store("sqlite://")))
    return found


STORES = store_factories()


class FixedClock:
    """A clock that always tells the same time."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def counting_ids(prefix: str = "id") -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: f"{prefix}{next(counter):07d}"


def seed(store: Store) -> None:
    """Users, groups, a client relation and one campaign project."""
    with store.unit_of_work() as uow:
        uow.groups.add(
            Group(
                GroupId("marketing"),
                "Marketing",
                {"prospect.write", "prospect.read_preparing", "activity.write"},
            )
        )
        uow.groups.add(Group(GroupId("sales"), "Sales", {"activity.read_group"}))
        uow.users.add(User(UserId("mia"), "Mia Marketeer", groups={GroupId("marketing")}))
        uow.users.add(User(UserId("sam"), "Sam Sales", groups={GroupId("sales")}))
        uow.users.add(User(UserId("ken"), "Ken Sales", groups={GroupId("sales")}))
        uow.relations.add(
            Relation(RelationId("client"), "Opdrachtgever B.V.", kinds={RelationKind.CLIENT})
        )
        uow.projects.add(Project(ProjectId("p1"), RelationId("client"), "Campagne 2026"))
        uow.commit()


@pytest.fixture(params=[name for name, _ in STORES])
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    factory = dict(STORES)[request.param]
    s = factory()
    seed(s)
    yield s
    s.close()


@pytest.fixture
def ctx(store: Store) -> Context:
    return Context(store, FixedClock(NOW), new_id=counting_ids())

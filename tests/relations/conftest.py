"""Fixtures of the relation tests: one installation on memory, SQLite and PostgreSQL.

Test ids of PostgreSQL cases contain "postgres"; the server is a throwaway one
started from the binaries on this machine (see ``testing.postgres``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import attrs
import pytest

from crm_procedures.adapters.memory import MemoryStore
from crm_procedures.adapters.sql.store import open_store
from crm_procedures.ids import ContactId, GroupId, ProjectId, RelationId, UserId
from crm_procedures.model.contact import Contact
from crm_procedures.model.project import Project
from crm_procedures.model.relation import Address, Relation
from crm_procedures.model.users import Group, User
from crm_procedures.ports import Store
from crm_procedures.services.context import Context
from crm_procedures.testing.clock import FrozenClock
from crm_procedures.testing.postgres import PostgresServer, require_postgres

AMS = ZoneInfo("Europe/Amsterdam")
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=AMS)

_numbers = itertools.count(1)


@attrs.define
class World:
    """The store and the context the tests call the services with."""

    store: Store
    clock: FrozenClock
    ctx: Context

    def dump(self) -> dict[str, object]:
        """Everything stored, for before/after comparisons (memory and SQL stores)."""
        dumped: dict[str, object] = self.store.dump()  # type: ignore[attr-defined]
        return dumped


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL server for the session."""
    server = require_postgres()
    try:
        yield server
    finally:
        server.stop()


def seed(store: Store) -> None:
    """Users and groups, two relations with contacts, a restricted project."""
    with store.unit_of_work() as uow:
        uow.groups.add(Group(GroupId("office"), "Office", permissions={"relation.write"}))
        uow.groups.add(Group(GroupId("sales"), "Sales", permissions={"activity.read_group"}))
        uow.groups.add(Group(GroupId("managers"), "Managers", permissions={"admin"}))
        uow.groups.add(Group(GroupId("bi"), "BI", permissions={"report.read"}))
        for uid, groups in [
            ("u-anna", {"office"}),
            ("u-bob", {"sales"}),
            ("u-nobody", set()),
            ("u-boss", {"managers"}),
            ("u-bi", {"bi"}),
        ]:
            uow.users.add(User(UserId(uid), uid[2:].title(), groups=groups))
        uow.relations.add(
            Relation(
                RelationId("R-1"),
                "Bakkerij de Vries",
                account_manager=UserId("u-anna"),
                phone="+31201234567",
                addresses=(Address("Dorpsstraat 1", "1234 AB", "Utrecht"),),
            )
        )
        uow.relations.add(
            Relation(RelationId("R-2"), "Jansen BV", account_manager=UserId("u-nobody"))
        )
        uow.contacts.add(
            Contact(
                ContactId("C-1"),
                RelationId("R-1"),
                "Vries",
                name_prefix="de",
                initials="P.",
                phone="+31612345678",
            )
        )
        uow.contacts.add(Contact(ContactId("C-2"), RelationId("R-2"), "Pietersen"))
        uow.projects.add(Project(ProjectId("P-1"), RelationId("R-2"), "Jansen project"))
        uow.commit()


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest) -> Iterator[World]:
    """A seeded installation on each store."""
    server: PostgresServer | None = None
    name = ""
    store: Store
    if request.param == "memory":
        store = MemoryStore()
    elif request.param == "sqlite":
        store = open_store("sqlite://")
    else:
        server = request.getfixturevalue("postgres_server")
        name = f"crm_relations_{next(_numbers)}"
        store = open_store(server.create_database(name))
    seed(store)
    clock = FrozenClock(T0)
    counter = itertools.count(1)
    ctx = Context(store=store, clock=clock, new_id=lambda: f"id-{next(counter):04d}")
    try:
        yield World(store, clock, ctx)
    finally:
        store.close()
        if server is not None:
            server.drop_database(name)

"""Builders for the records tests: fixed times, contacts, activities."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from crm_procedures.adapters.blobs import MemoryBlobStore
from crm_procedures.adapters.memory import MemoryStore
from crm_procedures.ids import ActivityId, ContactId, GroupId, RelationId, UserId
from crm_procedures.model.activity import Activity, ActivityKind
from crm_procedures.model.contact import Contact
from crm_procedures.model.dictionaries import Choice, Dictionary
from crm_procedures.model.relation import Address, Relation
from crm_procedures.model.users import Group, User
from crm_procedures.services.context import Context
from crm_procedures.services.record_settings import (
    PROJECT_KIND_DICTIONARY,
    PROJECT_STAGE_DICTIONARY,
    RecordSettings,
    custom_choice_dictionary,
    standard_dictionaries,
)
from crm_procedures.testing.clock import FrozenClock

AMS = ZoneInfo("Europe/Amsterdam")
WAW = ZoneInfo("Europe/Warsaw")
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=AMS)  # a Monday


def contact(cid: str, relation: str, last_name: str = "Jansen") -> Contact:
    """A contact person ``cid`` at ``relation``."""
    return Contact(id=ContactId(cid), relation_id=RelationId(relation), last_name=last_name)


def an_activity(
    kind: ActivityKind = ActivityKind.CONTACT,
    *,
    aid: str = "A-1",
    relation: str | None = "R-1",
    contacts: tuple[str, ...] = ("C-1",),
    **fields: object,
) -> Activity:
    """A valid open activity of ``kind`` for employee ``u-anna``."""
    return Activity(
        id=ActivityId(aid),
        kind=kind,
        employee=UserId("u-anna"),
        relation_id=RelationId(relation) if relation else None,
        contact_ids=tuple(ContactId(c) for c in contacts),
        **fields,  # type: ignore[arg-type]
    )


@attrs.define
class World:
    """A small installation in memory: users, groups, relations, contacts, settings."""

    store: Any
    clock: FrozenClock
    blobs: MemoryBlobStore
    settings: RecordSettings
    ctx: Context

    def dump(self) -> dict[str, Any]:
        """Everything stored (records, audit log and blob count), for before/after checks."""
        return {**self.store.dump(), "blobs": len(self.blobs)}


def _counter() -> Callable[[], str]:
    n = itertools.count(1)
    return lambda: f"id-{next(n):04d}"


def installation_settings(max_document_bytes: int = 1000) -> RecordSettings:
    """Standard dictionaries plus project kinds, stages and one free choice list."""
    dictionaries = standard_dictionaries()
    dictionaries[PROJECT_KIND_DICTIONARY] = Dictionary(
        PROJECT_KIND_DICTIONARY,
        (Choice("new-business", "New business"), Choice("upsell", "Upsell")),
    )
    dictionaries[PROJECT_STAGE_DICTIONARY] = Dictionary(
        PROJECT_STAGE_DICTIONARY,
        (
            Choice("lead", "Lead", sort_order=1),
            Choice("offer", "Offer", sort_order=2),
            Choice("legacy", "Legacy", sort_order=9, active=False),
        ),
    )
    dictionaries[custom_choice_dictionary(1)] = Dictionary(
        custom_choice_dictionary(1),
        (Choice("north", "North"), Choice("south", "South"), Choice("west", "West", active=False)),
    )
    return RecordSettings(dictionaries=dictionaries, max_document_bytes=max_document_bytes)


def open_test_store(kind: str = "memory") -> Any:
    """A fresh empty store: ``memory`` (MemoryStore) or ``sqlite`` (SqlStore in memory)."""
    if kind == "sqlite":
        from crm_procedures.adapters.sql.store import open_store

        return open_store("sqlite://")
    return MemoryStore()


def build_world(store_kind: str = "memory", max_document_bytes: int = 1000) -> World:
    """The installation every service test starts from, in a ``store_kind`` store."""
    store = open_test_store(store_kind)
    clock = FrozenClock(T0)
    blobs = MemoryBlobStore()
    with store.unit_of_work() as uow:
        uow.groups.add(
            Group(
                GroupId("sales"),
                "Sales",
                permissions={"project.write", "visit_report.write", "activity.read_group"},
            )
        )
        uow.groups.add(Group(GroupId("managers"), "Managers", permissions={"admin"}))
        for uid, name, groups, active in [
            ("u-anna", "Anna", {"sales"}, True),
            ("u-bob", "Bob", {"sales"}, True),
            ("u-carla", "Carla", set(), True),
            ("u-boss", "Boss", {"managers"}, True),
            ("u-gone", "Gone", {"sales"}, False),
        ]:
            uow.users.add(User(UserId(uid), name, groups=groups, active=active))
        uow.relations.add(
            Relation(
                RelationId("R-1"),
                "Bakkerij de Vries",
                account_manager=UserId("u-anna"),
                addresses=(Address("Dorpsstraat 1", "1234 AB", "Utrecht"),),
            )
        )
        uow.relations.add(Relation(RelationId("R-2"), "Jansen BV", account_manager=UserId("u-bob")))
        uow.contacts.add(attrs.evolve(contact("C-1", "R-1", "de Vries"), phone="+31201234567"))
        uow.contacts.add(contact("C-2", "R-1", "Bakker"))
        uow.contacts.add(contact("C-7", "R-2", "Pietersen"))
        uow.commit()
    ctx = Context(store=store, clock=clock, new_id=_counter(), blobs=blobs)
    return World(store, clock, blobs, installation_settings(max_document_bytes), ctx)

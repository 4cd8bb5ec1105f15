"""A seeded installation for the ``hostile_api`` suite, identical on every store.

Every store (memory, SQLite, PostgreSQL) gets the same records made through the
services with the same clock and the same counting ids, so that one call with
the same arguments has the same meaning on each. The records give every id
parameter of the public API something real to point at, so that a call with a
single hostile argument reaches deep code instead of stopping at ``NotFound``.
"""

from __future__ import annotations

import itertools
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs

from crm_procedures.adapters.blobs import MemoryBlobStore
from crm_procedures.adapters.memory import MemoryStore
from crm_procedures.adapters.sql import SqlStore, open_store
from crm_procedures.model.contact import Contact
from crm_procedures.model.users import Group
from crm_procedures.ports import Store
from crm_procedures.services import activities, agenda, campaigns, projects, visits
from crm_procedures.services.context import Context
from crm_procedures.services.imports import import_suspects
from crm_procedures.testing.clock import FrozenClock
from crm_procedures.testing.postgres import PostgresServer
from reliability.world import MEMBERS, T0, counting_ids, setup_people, standard

ACTOR = "pia"
"""The acting user of every call: project leader, and in a group holding ``admin``."""


@attrs.define
class Seeded:
    """One store with the seeded records, and the context calls run with."""

    name: str
    store: Store
    ctx: Context
    ids: dict[str, str]

    def dump(self) -> Any:
        """Every committed record of the store, as plain data."""
        assert isinstance(self.store, MemoryStore | SqlStore)
        return self.store.dump()


def seed(store: Store) -> dict[str, str]:
    """Make the seeded records in ``store`` (empty, schema created); returns their ids."""
    setup_people(store)
    with store.unit_of_work() as uow:
        uow.groups.add(Group(id="admins", name="Administrators", permissions={"admin"}))
        pia = uow.users.get("pia")
        uow.users.save(attrs.evolve(pia, groups=pia.groups | {"admins"}))
        uow.commit()
    ctx = make_context(store)
    ctx.new_id = counting_ids("h")
    ids: dict[str, str] = {"relation": "client", "user": ACTOR}
    project = campaigns.start_campaign(
        ctx,
        ACTOR,
        relation_id="client",
        name="Hostile campaign",
        procedure="standard",
        members={r: list(u) for r, u in MEMBERS.items()},
    )
    ids["project"] = project.id
    rows = [
        {"name": f"Suspect {i} Holding", "contact": "Jan de Vries", "contact_email": f"j{i}@x.nl"}
        for i in range(3)
    ]
    report = import_suspects(ctx, ACTOR, project.id, rows)
    assert report.imported == 3, report.summary()
    campaigns.release(ctx, ACTOR, project.id)
    with store.unit_of_work() as uow:
        prospects = uow.prospects.of_project(project.id)
        ids["prospect"] = prospects[0].id
        ids["prospect_relation"] = prospects[0].relation_id
        contacts = uow.contacts.of_relation(prospects[0].relation_id)
        ids["contact"] = contacts[0].id
        ids["closed_prospect"] = prospects[1].id
        uow.contacts.add(Contact(id="client-contact", relation_id="client", last_name="Klant"))
        uow.commit()
    ids["client_contact"] = "client-contact"
    campaigns.close_prospect(ctx, ACTOR, ids["closed_prospect"], "not_interested")
    campaigns.perform_step(ctx, ACTOR, ids["prospect"], "call", role="project_leader", note="hi")
    one_off = projects.add_one_off_contact(ctx, ACTOR, project.id, last_name="Smit")
    ids["one_off_contact"] = one_off.id
    activity = activities.create_activity(
        ctx,
        ACTOR,
        "contact",
        relation_id=ids["prospect_relation"],
        contact_ids=[ids["contact"]],
        subject="Introduction",
        start=T0,
    )
    ids["activity"] = activity.id
    booked = agenda.book_appointment(
        ctx,
        ACTOR,
        employee=ACTOR,
        start=T0 + timedelta(days=1),
        end=T0 + timedelta(days=1, hours=1),
        title="Visit",
        relation_id="client",
        attendees=["jan@example.nl"],
    )
    ids["appointment"] = booked.appointment.id
    visit = visits.create_visit_report(
        ctx,
        ACTOR,
        designation="Visit",
        relation_id="client",
        start=T0 - timedelta(days=1),
        end=T0 - timedelta(days=1) + timedelta(hours=1),
        subject="First visit",
        keywords=["pumps"],
        text="We talked about pumps.",
        action="Send an offer",
    )
    ids["report"] = visit.id
    document = projects.attach_document(
        ctx, ACTOR, "project", project.id, "offer.txt", SEEDED_CONTENT, "text/plain"
    )
    ids["document"] = document.id
    return ids


SEEDED_CONTENT = b"offer"
"""The content of the seeded document (kept in the blob store of every context)."""


def make_context(store: Store) -> Context:
    """The context calls run with on a seeded ``store``: ids from a counter of their own."""
    blobs = MemoryBlobStore()
    blobs.put(SEEDED_CONTENT)
    return Context(
        store=store,
        clock=FrozenClock(T0),
        new_id=counting_ids("x"),
        blobs=blobs,
        definitions=standard(),
        sender_email="campaigns@example.com",
        sender_name="Campaigns",
    )


class Fleet:
    """The seeded stores (memory, SQLite, and PostgreSQL when given a server).

    The SQL stores are copied from a template seeded once (a file copy, a
    ``CREATE DATABASE ... TEMPLATE``), so that :meth:`fresh` costs milliseconds.
    """

    def __init__(self, tmp: Path, postgres: PostgresServer | None) -> None:
        self._tmp = tmp
        self._pg = postgres
        self._numbers = itertools.count(1)
        self._open: list[Seeded] = []
        self._pg_names: list[str] = []
        self.ids = seed(MemoryStore())
        template = open_store(f"sqlite:///{tmp / 'seed.db'}")
        assert seed(template) == self.ids
        template.close()
        if postgres is not None:
            pg = open_store(postgres.create_database("hostile_seed"))
            assert seed(pg) == self.ids
            pg.close()
        self.reseeds = 0

    def fresh(self) -> list[Seeded]:
        """New copies of the seeded stores (the earlier ones closed and dropped)."""
        self.close()
        self.reseeds += 1
        n = next(self._numbers)
        memory = MemoryStore()
        seed(memory)
        stores: list[tuple[str, Store]] = [("memory", memory)]
        copy = self._tmp / f"hostile-{n}.db"
        shutil.copyfile(self._tmp / "seed.db", copy)
        stores.append(("sqlite", open_store(f"sqlite:///{copy}", create=False)))
        if self._pg is not None:
            name = f"hostile_{n}"
            url = self._pg.create_database(name, template="hostile_seed")
            self._pg_names.append(name)
            stores.append(("postgres", open_store(url, create=False)))
        self._open = [Seeded(label, s, make_context(s), dict(self.ids)) for label, s in stores]
        return self._open

    def close(self) -> None:
        """Close the open stores and drop their databases."""
        for seeded in self._open:
            seeded.store.close()
        self._open = []
        if self._pg is not None:
            for name in self._pg_names:
                self._pg.drop_database(name)
        self._pg_names = []

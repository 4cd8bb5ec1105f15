"""A small W7 campaign built through the services, and a snapshot of what a store holds."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from crm_procedures import MemoryStore, open_store, standard_definitions
from crm_procedures.access.viewer import Viewer
from crm_procedures.model.contact import Contact
from crm_procedures.model.project import Project
from crm_procedures.model.relation import Relation, RelationKind
from crm_procedures.model.users import Group, User
from crm_procedures.services import campaigns
from crm_procedures.services.context import Context
from crm_procedures.testing.clock import FrozenClock

AMS = ZoneInfo("Europe/Amsterdam")
START = datetime(2026, 3, 2, 9, 0, tzinfo=AMS)

MARKETING = {"prospect.write", "activity.read_group", "activity.write"}
LEADERS = {
    "prospect.write",
    "prospect.correct",
    "prospect.read_preparing",
    "project.read_all",
    "project.write",
    "report.read",
    "activity.read_all",
}
MEMBERS = {"marketeer": ["ann", "bas"], "client": ["cor"], "project_leader": ["pia"]}


def open_test_store(kind: str, folder: Path) -> Any:
    """A fresh store of ``kind`` ("memory" or "sqlite", a file in ``folder``)."""
    if kind == "memory":
        return MemoryStore()
    return open_store("sqlite:///" + str(folder / "crm.db"))


@attrs.define
class Campaign:
    """A released W7 campaign: ``acme`` has a contact with an e-mail address, ``bolt`` not."""

    store: Any
    clock: FrozenClock
    ctx: Context
    project: Project
    acme: str
    bolt: str


def setup_people(store: Any) -> None:
    """Groups, users (the project's members plus two outsiders), a client and two suspects."""
    with store.unit_of_work() as uow:
        uow.groups.add(Group(id="marketing", name="Marketing", permissions=MARKETING))
        uow.groups.add(Group(id="leaders", name="Project leaders", permissions=LEADERS))
        uow.groups.add(Group(id="clients", name="Client staff", permissions={"prospect.write"}))
        for uid, name, group, role in [
            ("ann", "Ann de Wit", "marketing", "marketeer"),
            ("bas", "Bas Kowalski", "marketing", "marketeer"),
            ("olaf", "Olaf Outsider", "marketing", "marketeer"),
            ("cor", "Cor van Dam", "clients", "client"),
            ("pia", "Pia Nowak", "leaders", "project_leader"),
        ]:
            uow.users.add(
                User(id=uid, name=name, email=f"{uid}@example.com", groups={group}, roles={role})
            )
        uow.users.add(User(id="eve", name="Eve Reader", roles={"marketeer"}))
        uow.relations.add(Relation(id="client", name="Klant B.V.", kinds={RelationKind.CLIENT}))
        uow.relations.add(Relation(id="acme", name="Acme Installatietechniek B.V."))
        uow.relations.add(Relation(id="bolt", name="Bolt Metaal V.O.F."))
        uow.contacts.add(
            Contact(
                id="c-acme",
                relation_id="acme",
                first_name="Jan",
                name_prefix="de",
                last_name="Vries",
                email="jan@acme.example.nl",
            )
        )
        uow.contacts.add(Contact(id="c-bolt", relation_id="bolt", last_name="Bos"))
        uow.commit()


def make_campaign(store: Any) -> Campaign:
    """Set up people, start the standard campaign, add two suspects and release them."""
    setup_people(store)
    clock = FrozenClock(START)
    counter = iter(range(1, 10_000_000))
    ctx = Context(
        store=store,
        clock=clock,
        new_id=lambda: f"id{next(counter):06d}",
        sender_email="campaigns@example.com",
        sender_name="Klant B.V. campaigns",
        definitions=standard_definitions(),
    )
    project = campaigns.start_campaign(
        ctx,
        "pia",
        relation_id="client",
        name="Spring campaign",
        procedure="standard",
        description="Installers in the Randstad.",
        members=MEMBERS,
    )
    acme, bolt = campaigns.add_prospects(
        ctx, "pia", project.id, [("acme", "c-acme"), ("bolt", "c-bolt")]
    )
    campaigns.release(ctx, "pia", project.id)
    clock.advance(minutes=5)
    return Campaign(store, clock, ctx, project, acme.id, bolt.id)


def snapshot(store: Any, project_id: str) -> dict[str, Any]:
    """Everything a campaign step may write, read back from the store."""
    system = Viewer.system()
    wide = (START - timedelta(days=400), START + timedelta(days=400))
    with store.unit_of_work() as uow:
        prospects = uow.prospects.of_project(project_id, system)
        return {
            "prospects": [p.copy() for p in prospects],
            "outbox": uow.outbox.list(),
            "activities": uow.activities.of_project(project_id, system, limit=10_000),
            "appointments": [uow.appointments.agenda(u, *wide) for u in ("ann", "cor", "pia")],
            "audit": [uow.audit.of_record("prospect", p.id) for p in prospects],
            "definitions": uow.definitions.versions(campaigns.DEFINITIONS_KEY),
        }


def new_prospect(c: Campaign) -> str:
    """A further released prospect of the campaign, with a contact that has an e-mail address."""
    n = c.ctx.new_id()
    with c.store.unit_of_work() as uow:
        uow.relations.add(Relation(id=f"r-{n}", name=f"Relation {n}"))
        uow.contacts.add(
            Contact(id=f"c-{n}", relation_id=f"r-{n}", last_name="Smit", email=f"{n}@example.nl")
        )
        uow.commit()
    (p,) = campaigns.add_prospects(c.ctx, "pia", c.project.id, [(f"r-{n}", f"c-{n}")])
    campaigns.release(c.ctx, "pia", c.project.id, [p.id])
    return p.id

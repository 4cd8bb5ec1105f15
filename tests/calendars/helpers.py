"""A store with users and a contact, a context, and a server-side editor for CalDAV tests."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from crm_procedures.adapters.caldav import CalDavCalendar
from crm_procedures.adapters.memory import MemoryStore
from crm_procedures.ids import ContactId, GroupId, RelationId, UserId
from crm_procedures.model.contact import Contact
from crm_procedures.model.users import Group, User
from crm_procedures.services.context import Context
from crm_procedures.testing.clock import FrozenClock

AMS = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=AMS)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=AMS)


def seeded_context(store: Any | None = None) -> Context:
    """Anna and Piotr (with addresses), Bram (without), contact Jan; ids id00001..."""
    store = store or MemoryStore()
    with store.unit_of_work() as uow:
        uow.groups.add(Group(GroupId("sales"), "Sales", permissions={"activity.write"}))
        uow.users.add(User(UserId("anna"), "Anna Bakker", email="anna@crm.example.com"))
        uow.users.add(User(UserId("piotr"), "Piotr Nowak", email="piotr@crm.example.com"))
        uow.users.add(User(UserId("bram"), "Bram"))
        uow.contacts.add(
            Contact(
                id=ContactId("c-jan"),
                relation_id=RelationId("r-acme"),
                last_name="Vries",
                name_prefix="de",
                first_name="Jan",
                email="jan@acme.example.nl",
            )
        )
        uow.commit()
    counter = itertools.count(1)
    return Context(
        store=store,
        clock=FrozenClock(NOW),
        new_id=lambda: f"id{next(counter):05d}",
        sender_email="crm@crm.example.com",
        sender_name="Acme CRM",
    )


def edit_on_server(calendar: CalDavCalendar, employee: str, uid: str, old: str, new: str) -> None:
    """What a calendar client does: read the entry, change its text, write it back."""
    client = calendar._client
    href = calendar.href_for(employee, uid)
    response = client.request(href, "GET")
    assert response.status == 200
    text = str(response.raw)
    assert old in text
    written = client.request(
        href, "PUT", text.replace(old, new), {"Content-Type": "text/calendar; charset=utf-8"}
    )
    assert written.status in (201, 204)


def delete_on_server(calendar: CalDavCalendar, employee: str, uid: str) -> None:
    """A calendar client deletes the entry."""
    response = calendar._client.request(calendar.href_for(employee, uid), "DELETE")
    assert response.status in (200, 204)

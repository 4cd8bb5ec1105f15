"""Fixtures for the mail and calendar tests: a store, a context, an SMTP server."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from crm_procedures.adapters.memory import MemoryStore
from crm_procedures.ids import ContactId, GroupId, RelationId, UserId
from crm_procedures.model.contact import Contact
from crm_procedures.model.users import Group, User
from crm_procedures.services.context import Context
from crm_procedures.testing.clock import FrozenClock

AMS = ZoneInfo("Europe/Amsterdam")
WAW = ZoneInfo("Europe/Warsaw")
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=AMS)


def seed(store: Any) -> None:
    """Users, a group and a contact the agenda tests book with."""
    with store.unit_of_work() as uow:
        uow.groups.add(Group(GroupId("sales"), "Sales", permissions={"activity.write"}))
        uow.groups.add(
            Group(
                GroupId("office"), "Office", permissions={"activity.read_group", "activity.write"}
            )
        )
        uow.users.add(User(UserId("anna"), "Anna Bakker", email="anna@crm.example.com"))
        uow.users.add(User(UserId("piotr"), "Piotr Nowak", email="piotr@crm.example.com"))
        uow.users.add(
            User(UserId("olga"), "Olga Office", groups={"office"}, email="olga@crm.example.com")
        )
        uow.users.add(User(UserId("bram"), "Bram", groups={"office"}))
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


@pytest.fixture
def store() -> Any:
    s = MemoryStore()
    seed(s)
    return s


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def ctx(store: Any, clock: FrozenClock) -> Context:
    counter = iter(range(1, 1_000_000))
    return Context(
        store=store,
        clock=clock,
        new_id=lambda: f"id{next(counter):05d}",
        sender_email="crm@crm.example.com",
        sender_name="Acme CRM",
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class RecordingHandler:
    """An aiosmtpd handler that keeps envelopes, or answers with a set code."""

    def __init__(self, data_reply: str = "250 Message accepted", rcpt_reply: str | None = None):
        self.envelopes: list[Any] = []
        self.data_reply = data_reply
        self.rcpt_reply = rcpt_reply

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if self.rcpt_reply is not None:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_reply.startswith("250"):
            self.envelopes.append(envelope)
        return self.data_reply


@pytest.fixture
def smtp_server() -> Iterator[tuple[RecordingHandler, int]]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 and a free port."""
    from aiosmtpd.controller import Controller

    handler = RecordingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()

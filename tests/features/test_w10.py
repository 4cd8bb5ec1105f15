"""W10: appointments managed afterwards in an agenda and sent to external calendars as
e-mails carrying an iCalendar file, through ``services.agenda``, on SQLite and PostgreSQL.

tests/mail/test_agenda.py proves W10 on the memory store (booking stores the
appointment and its invitation together, conflicts, reschedule keeps the UID
and sends an update, cancel sends METHOD:CANCEL once, recurring series across
DST, agenda visibility). Importing its tests here runs each again on the SQL
stores, with the same people seeded (plus the contact's relation, which the SQL
stores' foreign keys require).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crm_procedures.adapters.sql import open_store
from crm_procedures.ids import RelationId
from crm_procedures.model.relation import Relation
from crm_procedures.services.context import Context
from crm_procedures.testing.clock import FrozenClock
from crm_procedures.testing.postgres import PostgresServer
from mail.conftest import NOW, seed
from mail.test_agenda import *  # noqa: F403


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """The agenda tests' people on a SQL store."""
    server: PostgresServer | None = None
    name = f"crm_agenda_{tmp_path.name}"[:60]
    if request.param == "sqlite":
        made = open_store(f"sqlite:///{tmp_path / 'crm.db'}")
    else:
        server = request.getfixturevalue("postgres_server")
        made = open_store(server.create_database(name, template="crm_features_template"))
    with made.unit_of_work() as uow:
        uow.relations.add(Relation(RelationId("r-acme"), "Acme"))
        uow.commit()
    seed(made)
    try:
        yield made
    finally:
        made.close()
        if server is not None:
            server.drop_database(name)


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

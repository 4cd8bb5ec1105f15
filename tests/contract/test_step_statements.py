"""How many statements a step sends to the database (issues 18 and 20).

A step's round trips are most of its time on PostgreSQL: the scheduler's
step read the prospect, its history and the project twice and the contact
four times. These tests count the statements SQLite runs (its trace
callback sees every one, the driver SQL included) for one ``perform_step``
and for one scheduler step, so that a read coming back shows here. The
bounds are today's counts; lower them when a change removes a statement.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from contract.conftest import check_sqlite_settings, sqlite_url
from contract.test_cadence import AMS, _call, _world
from crm_procedures.adapters.sql import open_store
from crm_procedures.adapters.sql.store import SqlStore
from crm_procedures.model.inbound import SentMessage
from crm_procedures.model.users import User
from crm_procedures.ports import Store
from crm_procedures.services import campaigns, scheduler
from crm_procedures.services.inbound import inbound_of

DUE = datetime(2026, 4, 7, 10, 5, tzinfo=AMS)

PERFORM_STEP_STATEMENTS = 18
"""A person's step (``call``): 3 around ``BEGIN``, the viewer (3), the prospect
with its history, the project, the contact (the due time's zone), the note rules,
the activity, the prospect's update and 2 history rows in a savepoint (5), the
audit entry, ``COMMIT``."""

EMAIL_STEP_STATEMENTS = 22
"""A person's e-mail step: the same, plus the suppression list, the sender,
the relation, the outbox row and the sent message; one history row."""

SCHEDULER_STEP_STATEMENTS = 20
"""An automatic e-mail step: 3 around ``BEGIN``, the lease, the prospect with
its history, the project, the contact, the suppression list, the sender, the
relation, the outbox row, the sent message, the activity, the update and
the history row in a savepoint (4), the audit entry, the lease's release,
``COMMIT``."""


class Trace:
    """Every statement SQLite runs on the store's connections, in order."""

    def __init__(self, store: SqlStore) -> None:
        self.statements: list[str] = []

        def on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
            dbapi_connection.set_trace_callback(self.statements.append)

        event.listen(store.engine, "checkout", on_checkout)

    def transactions(self) -> list[list[str]]:
        """The statements, cut after each ``COMMIT`` or ``ROLLBACK``."""
        out: list[list[str]] = [[]]
        for sql in self.statements:
            out[-1].append(sql)
            if sql.split(None, 1)[0].upper() in {"COMMIT", "ROLLBACK"}:
                out.append([])
        return [t for t in out if t]


def _reads(statements: list[str], table: str) -> int:
    return sum(1 for sql in statements if sql.startswith("SELECT") and f"FROM {table} " in sql)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqlStore]:
    store = open_store(sqlite_url(tmp_path))
    check_sqlite_settings(store)
    try:
        yield store
    finally:
        store.close()


def test_one_perform_step_makes_at_most_its_statements(sqlite_store: SqlStore) -> None:
    ctx, pid = _world(sqlite_store)
    trace = Trace(sqlite_store)
    _call(ctx, pid)
    (step,) = trace.transactions()
    assert len(step) <= PERFORM_STEP_STATEMENTS, "\n".join(step)
    assert _reads(step, '"contacts"') == 1


def test_a_persons_e_mail_step_reads_the_contact_once(sqlite_store: SqlStore) -> None:
    ctx, pid = _world(sqlite_store)
    _call(ctx, pid)
    trace = Trace(sqlite_store)
    result = campaigns.perform_step(ctx, "ann", pid, "send_info", role="marketeer")
    assert len(result.message_keys) == 1
    (step,) = trace.transactions()
    assert len(step) <= EMAIL_STEP_STATEMENTS, "\n".join(step)
    # The due time's zone, the suppression list and the e-mail all need the contact.
    assert _reads(step, '"contacts"') == 1


def test_one_scheduler_step_reads_prospect_project_and_contact_once(
    sqlite_store: SqlStore,
) -> None:
    ctx, pid = _world(sqlite_store)
    _call(ctx, pid)
    trace = Trace(sqlite_store)
    run = scheduler.run_due(ctx, DUE, worker="w1")
    assert run.performed == ((pid, "send_info"),)
    _claim, step = trace.transactions()
    assert len(step) <= SCHEDULER_STEP_STATEMENTS, "\n".join(step)
    # The prospect comes with its history in one statement.
    assert _reads(step, "prospects") == 1
    assert sum(1 for sql in step if sql.startswith("SELECT") and "prospect_history" in sql) == 1
    assert _reads(step, '"projects"') + _reads(step, "projects") == 1
    assert _reads(step, '"contacts"') == 1
    # One statement records the e-mail (a recorded key is skipped by the database).
    assert sum(1 for sql in step if 'INTO "outbox"' in sql or "FROM outbox" in sql) == 1


def test_a_scheduler_step_as_a_user_without_the_right_is_refused_and_stores_nothing(
    sqlite_store: SqlStore,
) -> None:
    # The prospect and project the scheduler read are checked as a fresh read would be.
    ctx, pid = _world(sqlite_store)
    _call(ctx, pid)
    with sqlite_store.unit_of_work() as uow:
        uow.users.add(User(id="clerk", name="Clerk", roles={"marketeer"}))
        uow.commit()
    run = scheduler.run_due(ctx, DUE, worker="w1", actor="clerk")
    assert run.performed == ()
    assert [f[0] for f in run.failed] == [pid]
    assert "prospect.perform" in run.failed[0][1]
    with sqlite_store.unit_of_work(read_only=True) as uow:
        assert [e.step for e in uow.prospects.get(pid).history if e.step] == ["call"]
        assert uow.outbox.list() == []


def test_a_sent_message_remembered_twice_is_kept_once(store: Store) -> None:
    # The SQL store lets the database skip a remembered Message-ID (one statement).
    first = SentMessage("<s@example.com>", "o1", "k1", "p1", ("a@example.com",), DUE)
    again = SentMessage("<s@example.com>", "o2", "k2", "p2", ("b@example.com",), DUE)
    with store.unit_of_work() as uow:
        inbound_of(uow).inbound.add_sent(first)
        inbound_of(uow).inbound.add_sent(again)
        uow.commit()
    with store.unit_of_work() as uow:
        inbound_of(uow).inbound.add_sent(again)
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        kept = inbound_of(uow).inbound.sent("<s@example.com>")
    assert kept is not None
    assert (kept.outbox_id, kept.prospect_id, kept.version) == ("o1", "p1", 1)

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
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from contract.conftest import check_sqlite_settings, dump, sqlite_url
from contract.test_cadence import AMS, _call, _world
from crm_procedures.adapters.sql import open_store
from crm_procedures.adapters.sql.store import SqlStore
from crm_procedures.errors import ConcurrencyConflict, InvalidInput
from crm_procedures.model.inbound import SentMessage
from crm_procedures.model.users import User
from crm_procedures.ports import Store
from crm_procedures.services import campaigns, scheduler
from crm_procedures.services.inbound import inbound_of

DUE = datetime(2026, 4, 7, 10, 5, tzinfo=AMS)

PERFORM_STEP_STATEMENTS = 17
"""A person's step (``call``): 3 around ``BEGIN``, the viewer (user and groups), the prospect
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


def test_a_save_sets_only_the_columns_that_changed(sqlite_store: SqlStore) -> None:
    # Columns left out of the UPDATE leave their indexes untouched (a step's commit).
    ctx, pid = _world(sqlite_store)
    trace = Trace(sqlite_store)
    _call(ctx, pid)
    (update,) = [sql for sql in trace.statements if sql.startswith("UPDATE prospects")]
    assert "\"last_step\" = 'call'" in update
    assert '"project_id"' not in update
    assert '"owner"' not in update


def test_saves_in_one_unit_of_work_keep_every_change(store: Store) -> None:
    # The second save compares with what the first wrote, not with what was read.
    _ctx, pid = _world(store)
    later = DUE + timedelta(days=3)
    with store.unit_of_work() as uow:
        prospect = uow.prospects.get(pid)
        prospect.owner = "bas"
        prospect = uow.prospects.save(prospect)
        prospect.next_action_at = later
        prospect.owner = "ann"
        prospect = uow.prospects.save(prospect)
        prospect.owner = "bas"
        uow.prospects.save(prospect)
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        stored = uow.prospects.get(pid)
    assert (stored.owner, stored.next_action_at, stored.version) == ("bas", later, 5)
    with store.unit_of_work(read_only=True) as uow:
        assert [p.id for p in uow.prospects.of_project(stored.project_id)] == [pid]


def test_a_save_after_another_change_in_the_unit_of_work_is_refused(store: Store) -> None:
    # A row changed since the record was read is never overwritten column by column.
    _ctx, pid = _world(store)
    with store.unit_of_work() as uow:
        prospect = uow.prospects.get(pid)
        fresh = uow.prospects.get(pid)
        fresh.owner = "bas"
        uow.prospects.save(fresh)
        prospect.owner = "ann"
        with pytest.raises(ConcurrencyConflict):
            uow.prospects.save(prospect)
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        assert uow.prospects.get(pid).owner == "bas"


@pytest.mark.parametrize("bad", ["a\x00b", "x\ud800"])
@pytest.mark.parametrize("where", ["owner", "due_step", "note"])
def test_a_saved_text_no_store_holds_is_named_and_nothing_is_written(
    store: Store, bad: str, where: str
) -> None:
    # The rows written are scanned once; on a find the record is walked to name the field.
    _ctx, pid = _world(store)
    before = dump(store)
    with store.unit_of_work() as uow:
        prospect = uow.prospects.get(pid)
        if where == "note":
            last = prospect.history[-1]
            prospect.history.append(last._replace(seq=last.seq + 1, note=bad))
            field = f"history[{len(prospect.history) - 1}].note"
        else:
            setattr(prospect, where, bad)
            field = where
        with pytest.raises(InvalidInput) as raised:
            uow.prospects.save(prospect)
        assert raised.value.field == field
        uow.commit()
    assert dump(store) == before

"""The public API, discovered from ``__all__``, and valid arguments for every call.

:func:`discover` walks ``crm_procedures`` with :mod:`pkgutil` and collects each
class and function that a public module lists in ``__all__`` (a module or a
name starting with ``_`` is private). :data:`EXCLUDED` says, with the reason,
which of them are not called. For every other :class:`Target`, :meth:`Target.base`
builds a valid call (ids point at the seeded records of
:mod:`reliability.hostile_world`), and :attr:`Target.hostile` names the
parameters a hostile value can be given, by their type annotation.
"""

from __future__ import annotations

import collections.abc
import enum
import functools
import importlib
import inspect
import io
import pkgutil
import typing
from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs
from hypothesis import strategies as st

import crm_procedures
from crm_procedures import ports
from crm_procedures.access.viewer import Viewer
from crm_procedures.adapters.blobs import MemoryBlobStore
from crm_procedures.adapters.calls import Call, MemoryCallFeed
from crm_procedures.adapters.inbox_folder import FolderInbox
from crm_procedures.adapters.memory import MemoryStore, MemoryUnitOfWork
from crm_procedures.adapters.memory_mail import MemoryCalendar, MemoryMailer
from crm_procedures.adapters.sql import SqlStore
from crm_procedures.errors import Finding
from crm_procedures.formats.mime import build_email
from crm_procedures.model.appointment import Appointment, Attendee, CalendarChange, ChangeAction
from crm_procedures.model.audit import Change
from crm_procedures.model.dictionaries import Choice, Dictionary
from crm_procedures.model.money import Money
from crm_procedures.model.outbox import OutboxMessage
from crm_procedures.model.relation import Address
from crm_procedures.model.reports import AcquisitionRow, EmployeeRow, Funnel, FunnelRow
from crm_procedures.policies.normalise import NameConventions
from crm_procedures.policies.rules import DEFAULT_RULES, RuleContext, RuleSet
from crm_procedures.procedures.procedure import Definitions, Procedure
from crm_procedures.procedures.step import Role, Step
from crm_procedures.procedures.templates import EmailTemplate
from crm_procedures.procedures.timing.send_window import SendWindow
from crm_procedures.services.app import CrmApp
from crm_procedures.services.context import Context
from crm_procedures.services.messages import outbox_message_for_email
from crm_procedures.services.outbox import exponential_backoff
from crm_procedures.services.step_kinds import StepContext
from crm_procedures.testing import builders
from crm_procedures.testing.app import in_memory_app
from crm_procedures.testing.clock import FrozenClock
from reliability.hostile_strategies import Hostile, strategy_for
from reliability.hostile_world import ACTOR, Seeded
from reliability.world import AMS, T0, counting_ids, standard

__all__ = ["EXCLUDED", "EXPECTED", "NoValidValue", "Target", "discover", "targets"]

EXCLUDED: dict[str, str] = {
    "crm_procedures.testing.plugin.crm_app": "a pytest fixture: pytest calls it, not code",
    "crm_procedures.testing.plugin.crm_clock": "a pytest fixture: pytest calls it, not code",
    "crm_procedures.testing.plugin.crm_definitions": "a pytest fixture: pytest calls it, not code",
    "crm_procedures.testing.plugin.crm_outbox": "a pytest fixture: pytest calls it, not code",
    "crm_procedures.testing.plugin.crm_store": "a pytest fixture: pytest calls it, not code",
    "crm_procedures.testing.postgres.PostgresServer": (
        "starts and stops server processes (the suite's own PostgreSQL runs through it)"
    ),
    "crm_procedures.testing.postgres.require_postgres": (
        "starts a PostgreSQL server process (the suite's own PostgreSQL runs through it)"
    ),
    "crm_procedures.demo.run_demo": (
        "a whole demo campaign of 200 suspects into a folder: minutes per call, no input "
        "of its own beyond sizes (its parts are driven one by one)"
    ),
    "crm_procedures.cli.main": (
        "the command-line entry point: argparse exits the process on bad arguments by "
        "design; the commands it runs are the public functions driven here"
    ),
    "crm_procedures.adapters.smtp.SmtpMailer": (
        "connects to a real SMTP server on construction of a send; the dispatch_faults "
        "suite drives it against aiosmtpd"
    ),
}
"""Public callables that are not called, with the reason (everything else is)."""

EXPECTED: dict[str, tuple[type[BaseException], str]] = {
    "crm_procedures.testing.assertions.assert_": (
        AssertionError,
        "the test kit's assertions fail a test with AssertionError by contract",
    ),
}
"""Callables (by qualified-name prefix) whose contract is to raise a non-CrmError."""

KIND_REASONS = {
    "protocol": "a typing.Protocol: a port, implemented by adapters, never called",
    "enum": "an Enum: calling it looks a member up (its ValueError is the language's "
    "contract); every boundary that reads an enum's value from outside is driven itself",
    "alias": "a type alias, not a callable of the library",
}


class NoValidValue(Exception):
    """No valid value is known for a parameter: the target cannot be called."""


@attrs.define
class Env:
    """What valid values are made from: one seeded store (or none) and a scratch folder."""

    seeded: Seeded | None
    tmp: Path
    uow: Any = None
    depth: int = 0

    @property
    def ids(self) -> dict[str, str]:
        """The seeded ids (fixed names when no store is seeded)."""
        if self.seeded is None:
            return _PURE_IDS
        return self.seeded.ids

    @property
    def ctx(self) -> Context:
        """The seeded store's context."""
        if self.seeded is None:
            raise NoValidValue("a Context needs a store")
        return self.seeded.ctx


_PURE_IDS = {
    "relation": "relation-1",
    "project": "project-1",
    "prospect": "prospect-1",
    "contact": "contact-1",
    "activity": "activity-1",
    "appointment": "appointment-1",
    "report": "report-1",
    "document": "document-1",
    "user": ACTOR,
    "one_off_contact": "contact-2",
    "closed_prospect": "prospect-2",
    "client_contact": "contact-3",
    "prospect_relation": "relation-1",
}


def _email() -> EmailMessage:
    return build_email(
        sender=("Campaigns", "campaigns@example.com"),
        to=("Jan", "jan@example.nl"),
        subject="Hello",
        text="Body",
        key="hostile:1",
        date=T0,
    )


def _outbox_message() -> OutboxMessage:
    return outbox_message_for_email(_email(), "hostile:1", T0, counting_ids("m"))


def _rules() -> RuleSet:
    return DEFAULT_RULES


def _procedure() -> Procedure:
    return standard().procedures["standard"]


def _store_of(env: Env) -> Any:
    if env.seeded is None:
        raise NoValidValue("a store")
    return env.seeded.store


def _uow(env: Env) -> Any:
    if env.uow is None:
        raise NoValidValue("a unit of work (the runner opens one)")
    return env.uow


def _from_builder(builder: Callable[[], Any], _env: Env) -> Any:
    return builder()


_BY_TYPE: dict[Any, Callable[[Env], Any]] = {
    str: lambda env: "text",
    int: lambda env: 1,
    float: lambda env: 1.0,
    bool: lambda env: False,
    bytes: lambda env: b"data",
    Decimal: lambda env: Decimal("10"),
    datetime: lambda env: T0,
    date: lambda env: T0.date(),
    timedelta: lambda env: timedelta(hours=1),
    tzinfo: lambda env: AMS,
    Path: lambda env: env.tmp / "out",
    Context: lambda env: env.ctx,
    ports.Store: _store_of,
    ports.UnitOfWork: _uow,
    MemoryUnitOfWork: _uow,
    MemoryStore: lambda env: MemoryStore(),
    SqlStore: _store_of,
    ports.Clock: lambda env: FrozenClock(T0),
    ports.Mailer: lambda env: MemoryMailer(),
    ports.Calendar: lambda env: MemoryCalendar(),
    ports.CallFeed: lambda env: MemoryCallFeed(),
    ports.BlobStore: lambda env: MemoryBlobStore(),
    Viewer: lambda env: Viewer.system(),
    Definitions: lambda env: standard(),
    Procedure: lambda env: _procedure(),
    Step: lambda env: standard().steps["call"],
    Role: lambda env: Role("marketeer"),
    EmailTemplate: lambda env: standard().templates["info"],
    Money: lambda env: Money(Decimal("10.00"), "EUR"),
    Attendee: lambda env: Attendee("jan@example.nl", "Jan"),
    Address: lambda env: Address(street="Oudegracht 1", postcode="3511 AA", city="Utrecht"),
    Choice: lambda env: Choice("first", "First"),
    Dictionary: lambda env: builders.a_dictionary(),
    Appointment: lambda env: builders.an_appointment(),
    Change: lambda env: Change("activity", "a1", 1, T0, ACTOR),
    Funnel: lambda env: Funnel(project_id="p1", total=2, suspects=1, prospects=1),
    FunnelRow: lambda env: FunnelRow("prospects", "", 1, 0.5),
    EmployeeRow: lambda env: EmployeeRow(ACTOR, activities=2),
    AcquisitionRow: lambda env: AcquisitionRow("4321", 2, 1),
    RuleSet: lambda env: _rules(),
    RuleContext: lambda env: RuleContext(),
    NameConventions: lambda env: NameConventions(),
    OutboxMessage: lambda env: _outbox_message(),
    EmailMessage: lambda env: _email(),
    Call: lambda env: Call("c1", "+31612345678", "in", T0, 60),
    CrmApp: lambda env: in_memory_app(),
    typing.TextIO: lambda env: io.StringIO(),
    SendWindow: lambda env: _send_window(),
    CalendarChange: lambda env: CalendarChange(ACTOR, "uid-1@crm.example", ChangeAction.CANCELLED),
    ports.ChangeFeed: lambda env: _NoChanges(),
    ports.Inbox: lambda env: _empty_inbox(env),
}


class _NoChanges:
    """A calendar in which nothing changed: the valid feed the hostile calls start from."""

    def changes(self) -> list[CalendarChange]:
        return []

    def acknowledge(self, change: CalendarChange, sequence: int) -> None:
        return None


def _empty_inbox(env: Any) -> FolderInbox:
    folder = env.tmp / "inbox"
    folder.mkdir(parents=True, exist_ok=True)
    return FolderInbox(folder)


for _builder in (
    builders.a_contact,
    builders.a_document,
    builders.a_group,
    builders.a_project,
    builders.a_prospect,
    builders.a_relation,
    builders.a_user,
    builders.a_visit_report,
    builders.an_activity,
):
    _BY_TYPE[typing.get_type_hints(_builder)["return"]] = functools.partial(_from_builder, _builder)


_BY_NAME: dict[str, Callable[[Env], Any]] = {
    "actor": lambda env: ACTOR,
    "viewer_or_actor": lambda env: ACTOR,
    "employee": lambda env: ACTOR,
    "user": lambda env: builders.a_user(id=ACTOR),
    "from_user": lambda env: ACTOR,
    "to_user": lambda env: "ann",
    "project_id": lambda env: env.ids["project"],
    "prospect_id": lambda env: env.ids["prospect"],
    "relation_id": lambda env: env.ids["relation"],
    "contact_id": lambda env: env.ids["contact"],
    "activity_id": lambda env: env.ids["activity"],
    "appointment_id": lambda env: env.ids["appointment"],
    "report_id": lambda env: env.ids["report"],
    "document_id": lambda env: env.ids["document"],
    "owner_kind": lambda env: "project",
    "owner_id": lambda env: env.ids["project"],
    "contact_ids": lambda env: [env.ids["contact"]],
    "role": lambda env: "project_leader",
    "step": lambda env: "call",
    "procedure": lambda env: _procedure(),
    "reason": lambda env: "not_interested",
    "language": lambda env: "en",
    "country": lambda env: "NL",
    "start": lambda env: T0 + timedelta(days=2),
    "end": lambda env: T0 + timedelta(days=2, hours=1),
    "since": lambda env: T0 - timedelta(days=30),
    "until": lambda env: T0 + timedelta(days=30),
    "due": lambda env: T0 + timedelta(days=3),
    "at": lambda env: T0 + timedelta(hours=1),
    "now": lambda env: T0,
    "date": lambda env: T0,
    "url": lambda env: f"sqlite:///{env.tmp / 'other.db'}",
    "engine": lambda env: _engine(env),
    "new_id": lambda env: counting_ids("n"),
    "clock": lambda env: FrozenClock(T0),
    "sender": lambda env: ("Campaigns", "campaigns@example.com"),
    "to": lambda env: ("Jan", "jan@example.nl"),
    "key": lambda env: "hostile:1",
    "subject": lambda env: "Hello",
    "text": lambda env: "Body",
    "name": lambda env: "Name",
    "content": lambda env: b"content",
    "path": lambda env: env.tmp / "out.png",
    "folder": lambda env: env.tmp / "folder",
    "rows": lambda env: [EmployeeRow(ACTOR, activities=2)],
    "records": lambda env: [builders.a_relation()],
    "source": lambda env: "name,contact\nAcme,Jan de Vries\n",
    "message": lambda env: _email(),
    "status": lambda env: "running",
    "error": lambda env: crm_procedures.InvalidInput("field", "is wrong"),
    "template": lambda env: standard().templates["info"],
    "cls": lambda env: Address,
    "data": lambda env: {"street": "Oudegracht 1", "city": "Utrecht"},
    "values": lambda env: {"first_name": "Jan"},
    "target": lambda env: in_memory_app(),
    "app": lambda env: in_memory_app(),
    "mailer": lambda env: MemoryMailer(),
    "stop": lambda env: None,
    "sleep": lambda env: _no_sleep,
    "max_rounds": lambda env: 1,
    "backoff": lambda env: exponential_backoff(),
    "kind": lambda env: "contact",
    "supersedes_seq": lambda env: 1,
    "in_days": lambda env: 2,
    "index": lambda env: 1,
    "group_by": lambda env: "industry_code",
    "direction": lambda env: "in",
    "duration_seconds": lambda env: 60,
    "applies_to": lambda env: "relation",
    "email": lambda env: "jan@example.nl",
    "condition": lambda env: DEFAULT_RULES.rules[0].condition,
    "violations": lambda env: [_violation()],
    "findings": lambda env: [Finding("unreachable-step", "step x cannot be reached")],
    "uow": _uow,
}


def _violation() -> Any:
    from crm_procedures.policies.rules import RecordKind, Violation

    return Violation("r", RecordKind.RELATION, "relation-1", "name", "is required", True)


def _no_sleep(_seconds: float) -> None:
    return None


def _engine(env: Env) -> Any:
    from crm_procedures.adapters.sql.store import make_engine

    return make_engine(f"sqlite:///{env.tmp / 'engine.db'}")


# Calls whose valid arguments differ from what the names and types give.
OVERRIDES: dict[str, dict[str, Callable[[Env], Any]]] = {
    "crm_procedures.services.campaigns.start_campaign": {
        "relation_id": lambda env: "client",
        "name": lambda env: "Another campaign",
        "procedure": lambda env: "standard",
    },
    "crm_procedures.services.campaigns.add_prospects": {
        "relations": lambda env: [(env.ids["prospect_relation"], None)]
    },
    "crm_procedures.services.activities.create_activity": {
        "kind": lambda env: "task",
        "subject": lambda env: "Task",
    },
    "crm_procedures.services.activities.create_task": {},
    "crm_procedures.services.projects.create_project": {"relation_id": lambda env: "client"},
    "crm_procedures.services.projects.add_one_off_contact": {"last_name": lambda env: "Bos"},
    "crm_procedures.services.visits.create_visit_report": {
        "designation": lambda env: "Visit",
        "relation_id": lambda env: "client",
        "start": lambda env: T0 - timedelta(days=2),
        "end": lambda env: T0 - timedelta(days=2) + timedelta(hours=1),
    },
    "crm_procedures.services.visits.action_to_follow_up": {"due": lambda env: T0},
    "crm_procedures.services.projects.ingest_calls": {"feed": lambda env: _feed()},
    "crm_procedures.services.agenda.book_appointment": {
        "employee": lambda env: ACTOR,
        "title": lambda env: "Meeting",
        "relation_id": lambda env: "client",
    },
    "crm_procedures.services.agenda.book_appointment_in": {
        "employee": lambda env: ACTOR,
        "title": lambda env: "Meeting",
    },
    "crm_procedures.services.agenda.agenda": {
        "start": lambda env: T0,
        "end": lambda env: T0 + timedelta(days=7),
    },
    "crm_procedures.services.agenda.project_agenda": {
        "start": lambda env: T0,
        "end": lambda env: T0 + timedelta(days=7),
    },
    "crm_procedures.services.agenda.conflicts": {
        "start": lambda env: T0 + timedelta(days=1),
        "end": lambda env: T0 + timedelta(days=1, hours=2),
    },
    "crm_procedures.services.agenda.occurrences": {
        "appointment": lambda env: builders.an_appointment(),
        "start": lambda env: T0 - timedelta(days=30),
        "end": lambda env: T0 + timedelta(days=30),
    },
    "crm_procedures.services.outbox.dispatch_once": {"mailer": lambda env: MemoryMailer()},
    "crm_procedures.services.outbox.run_dispatcher": {
        "mailer": lambda env: MemoryMailer(),
        "max_rounds": lambda env: 1,
        "sleep": lambda env: _no_sleep,
    },
    "crm_procedures.services.outbox.parse_mail": {"message": lambda env: _outbox_message()},
    "crm_procedures.services.messages.outbox_message_for_email": {
        "msg": lambda env: _email(),
        "now": lambda env: T0,
    },
    "crm_procedures.services.imports.export_csv": {"rows": lambda env: [["a", "b"], ["c", "d"]]},
    "crm_procedures.services.imports.neutralise_cell": {"value": lambda env: "cell"},
    "crm_procedures.services.reports.render_table": {
        "rows": lambda env: [AcquisitionRow("4321", 2, 1)]
    },
    "crm_procedures.services.reports.to_csv": {"rows": lambda env: [AcquisitionRow("4321", 2, 1)]},
    "crm_procedures.services.charts.funnel_chart": {
        "funnel": lambda env: Funnel(project_id="p1", total=2, suspects=1, prospects=1)
    },
    "crm_procedures.services.record_settings.chance_fraction": {"chance": lambda env: "50"},
    "crm_procedures.adapters.calls.CsvCallFeed": {"path": lambda env: _calls_csv(env)},
    "crm_procedures.adapters.blobs.FolderBlobStore": {"path": lambda env: env.tmp / "blobs"},
    "crm_procedures.formats.ical.EmailCalendar": {
        "sender": lambda env: ("Campaigns", "campaigns@example.com")
    },
    "crm_procedures.adapters.sql.schema.SchemaError": {
        "found": lambda env: 1,
        "expected": lambda env: 2,
        "advice": lambda env: "upgrade",
    },
    "crm_procedures.procedures.runtime.set_status": {"status": lambda env: "running"},
    "crm_procedures.procedures.runtime.close": {"prospect": lambda env: _running_prospect()},
    "crm_procedures.procedures.runtime.mark_won": {"prospect": lambda env: _running_prospect()},
    "crm_procedures.procedures.runtime.perform": {"prospect": lambda env: _running_prospect()},
    "crm_procedures.procedures.runtime.correct": {
        "prospect": lambda env: _performed_prospect(),
        "supersedes_seq": lambda env: 2,
    },
    "crm_procedures.procedures.templates.render": {"values": lambda env: {"first_name": "Jan"}},
    "crm_procedures.procedures.templates.template_values": {
        "contact": lambda env: builders.a_contact(),
        "relation": lambda env: builders.a_relation(),
        "project": lambda env: builders.a_project(),
        "sender_name": lambda env: "Campaigns",
        "sender_email": lambda env: "campaigns@example.com",
    },
    "crm_procedures.procedures.definitions.load_definitions": {
        "source": lambda env: _definitions_text()
    },
    "crm_procedures.policies.rules.load_rules": {"source": lambda env: _rules_text()},
    "crm_procedures.serialization.structure": {
        "data": lambda env: {"street": "Oudegracht 1", "city": "Utrecht"},
        "cls": lambda env: Address,
    },
    "crm_procedures.serialization.unstructure": {"value": lambda env: builders.a_relation()},
    "crm_procedures.model.audit.diff": {
        "old": lambda env: builders.a_relation(id="r1"),
        "new": lambda env: builders.a_relation(id="r1", name="Other"),
    },
    "crm_procedures.locales.error_message": {
        "error": lambda env: crm_procedures.InvalidInput("field", "is wrong")
    },
    "crm_procedures.locales.message": {"key": lambda env: "report.funnel.total"},
    "crm_procedures.locales.label": {"key": lambda env: "report.funnel.title"},
    "crm_procedures.access.permissions.require": {"permission": lambda env: "project.write"},
    "crm_procedures.formats.mime.message_id_for": {"sender": lambda env: "crm@example.com"},
    "crm_procedures.model.activity_rules.check_required": {"activity": lambda env: _task()},
    "crm_procedures.model.activity_rules.set_note": {"activity": lambda env: _task()},
    "crm_procedures.model.activity_rules.follow_up": {
        "in_days": lambda env: 2,
        "now": lambda env: builders.BUILDER_TIME,
    },
    "crm_procedures.model.activity_rules.pause_timer": {"activity": lambda env: _timed_task()},
    "crm_procedures.services.activities.schedule_follow_up": {"in_days": lambda env: 2},
    "crm_procedures.policies.normalise.normalise_email": {"value": lambda env: "Jan@Example.NL"},
    "crm_procedures.policies.normalise.normalise_gender": {"value": lambda env: "dhr."},
    "crm_procedures.policies.normalise.normalise_phone": {"value": lambda env: "0612345678"},
    "crm_procedures.policies.normalise.normalise_postcode": {"value": lambda env: "1234ab"},
    "crm_procedures.procedures.runtime.reopen": {"prospect": lambda env: _closed_prospect()},
    "crm_procedures.services.activities.create_contact": {
        "relation_id": lambda env: env.ids["prospect_relation"],
        "contact_ids": lambda env: [env.ids["contact"]],
    },
    "crm_procedures.services.activities.create_meeting": {
        "relation_id": lambda env: env.ids["prospect_relation"],
        "contact_ids": lambda env: [env.ids["contact"]],
    },
    "crm_procedures.services.campaigns.correct_step": {"supersedes_seq": lambda env: 2},
    "crm_procedures.services.context.resolve_viewer": {"user_id": lambda env: ACTOR},
    "crm_procedures.services.campaigns.reopen_prospect": {
        "prospect_id": lambda env: env.ids["closed_prospect"]
    },
    "crm_procedures.services.projects.pick_project_contacts": {
        "contact_ids": lambda env: [env.ids["client_contact"]]
    },
    "crm_procedures.model.activity_rules.set_contacts": {
        "activity": lambda env: builders.an_activity(relation_id="r-contacts"),
        "contacts": lambda env: [builders.a_contact(relation_id="r-contacts")],
    },
    "crm_procedures.services.reports.funnel_stage_label": {
        "row": lambda env: FunnelRow("report.funnel.total", "", 1, 0.5)
    },
    "crm_procedures.policies.duplicates.DuplicateMatch": {"ref": lambda env: 1},
    "crm_procedures.model.money.Money": {
        "amount": lambda env: Decimal("10.00"),
        "currency": lambda env: "EUR",
    },
    "crm_procedures.policies.rules.RuleSet": {
        "version": lambda env: 1,
        "rules": lambda env: DEFAULT_RULES.rules,
    },
    "crm_procedures.adapters.memory_reports.MemoryReports": {"uow": _uow},
    "crm_procedures.adapters.sql.reports.SqlReports": {"uow": _uow},
    "crm_procedures.adapters.sql.store.SqlUnitOfWork": {"store": _store_of},
    "crm_procedures.adapters.sql.store.SqlStore": {"engine": lambda env: _engine(env)},
    "crm_procedures.adapters.sql.due.due": {"repo": lambda env: _uow(env).prospects},
    "crm_procedures.model.appointment.check_moment": {"value": lambda env: T0},
    "crm_procedures.model.appointment.AttendeeReply": {
        "attendee": lambda env: "jan@example.nl",
        "partstat": lambda env: "accepted",
    },
    "crm_procedures.model.appointment.CalendarChange": {
        "action": lambda env: "moved",
        "start": lambda env: T0,
        "end": lambda env: T0 + timedelta(hours=1),
    },
    "crm_procedures.model.inbound.SentMessage": {"recipients": lambda env: ("jan@example.nl",)},
    "crm_procedures.model.inbound.normalise_address": {"address": lambda env: "Jan@Example.nl"},
    "crm_procedures.services.agenda.ChangeOutcome": {"result": lambda env: "unchanged"},
    "crm_procedures.testing.contracts.boundaries.forced": {
        "record": lambda env: builders.a_relation()
    },
    "crm_procedures.model.outbox.RecipientOutcome": {"state": lambda env: "accepted"},
    "crm_procedures.procedures.timing.send_window.SendWindow": {
        "days": lambda env: ("mon", "tue", "wed", "thu", "fri"),
        "opens": lambda env: time(9),
        "closes": lambda env: time(17),
    },
    "crm_procedures.testing.contracts.contract_tests": {
        "module": lambda env: importlib.import_module("crm_procedures.testing.contracts.kinds")
    },
    "crm_procedures.testing.contracts._support.has": {"capability": lambda env: "dump"},
}


def _send_window() -> SendWindow:
    return SendWindow(days=frozenset(range(5)), opens=time(9), closes=time(17))


def _feed() -> MemoryCallFeed:
    return MemoryCallFeed([Call("c1", "+31612345678", "in", T0, 60)])


def _calls_csv(env: Env) -> Path:
    path = env.tmp / "calls.csv"
    path.write_text(
        f"call_id,phone,direction,start,duration_seconds\nc1,+31612345678,in,{T0.isoformat()},60\n",
        encoding="utf-8",
    )
    return path


def _running_prospect() -> Any:
    from crm_procedures.procedures import runtime

    prospect = builders.a_prospect()
    runtime.release(prospect, ACTOR, T0)
    return prospect


def _closed_prospect() -> Any:
    from crm_procedures.procedures import runtime

    prospect = _running_prospect()
    runtime.close(_procedure(), prospect, "not_interested", ACTOR, T0)
    return prospect


def _task() -> Any:
    return builders.an_activity(kind="task", contact_ids=())


def _timed_task() -> Any:
    from crm_procedures.model.activity import Timer

    return builders.an_activity(kind="task", timer=Timer(running_since=T0))


def _performed_prospect() -> Any:
    from crm_procedures.procedures import runtime

    prospect = _running_prospect()
    runtime.perform(_procedure(), prospect, "call", "project_leader", ACTOR, T0)
    return prospect


def _definitions_text() -> Any:
    from crm_procedures.procedures.definitions import dump_definitions

    return dump_definitions(standard())


def _rules_text() -> str:
    from crm_procedures.policies.rules import rules_to_toml

    return rules_to_toml(_rules())


# ``**fields`` parameters: the keyword names a call accepts, and the class or
# function whose parameters say their types.
def _kwargs_source(qualname: str) -> Any:
    from crm_procedures.model.activity import Activity
    from crm_procedures.model.project import Project
    from crm_procedures.model.visit_report import VisitReport
    from crm_procedures.services import activities

    table: dict[str, Any] = {
        "crm_procedures.services.activities.update_activity": Activity,
        "crm_procedures.services.activities.create_contact": activities.create_activity,
        "crm_procedures.services.activities.create_meeting": activities.create_activity,
        "crm_procedures.services.activities.create_task": activities.create_activity,
        "crm_procedures.services.projects.update_project": Project,
        "crm_procedures.services.visits.update_visit_report": VisitReport,
        "crm_procedures.model.activity_rules.change": Activity,
    }
    for name, function in vars(builders).items():
        if name.startswith(("a_", "an_")) and callable(function):
            table[f"crm_procedures.testing.builders.{name}"] = typing.get_type_hints(function)[
                "return"
            ]
    return table.get(qualname)


_KWARGS_SKIP = frozenset({"ctx", "actor", "kind", "id", "version", "settings"})

# Parameters that are not given hostile values, with the reason.
NOT_VARIED: dict[tuple[str, str], str] = {
    ("crm_procedures.services.outbox.run_dispatcher", "max_rounds"): (
        "bounds the loop: a huge value runs that many rounds by design"
    ),
    ("crm_procedures.services.outbox.run_dispatcher", "interval"): (
        "the pause between rounds (the sleep is injected)"
    ),
}


@attrs.define
class Target:
    """One public callable, how to call it validly and which parameters to vary."""

    name: str
    obj: Callable[..., Any]
    params: list[inspect.Parameter]
    hints: dict[str, Any]
    kwargs_hints: dict[str, Any]
    on_store: bool

    def base(self, env: Env) -> dict[str, Any]:
        """Valid keyword arguments of a call (required parameters and a few overrides)."""
        overrides = OVERRIDES.get(self.name, {})
        out: dict[str, Any] = {}
        for p in self.params:
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            if p.name in overrides:
                out[p.name] = overrides[p.name](env)
                continue
            if p.default is not p.empty:
                continue
            try:
                out[p.name] = valid_value(p.name, self.hints.get(p.name, Any), env)
            except NoValidValue:
                raise
            except Exception as exc:
                raise NoValidValue(f"{p.name}: building it raised {exc!r}") from exc
        for name, make in overrides.items():
            if name not in out and name in self.kwargs_hints:
                out[name] = make(env)
        return out

    def strategies(self, tmp: Path) -> dict[str, st.SearchStrategy[Hostile]]:
        """The hostile strategy of each parameter that has one."""
        out: dict[str, st.SearchStrategy[Hostile]] = {}
        named = {p.name: self.hints.get(p.name, Any) for p in self.params}
        named = {
            n: a
            for n, a in named.items()
            if n not in {p.name for p in self.params if p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
        }
        named.update(self.kwargs_hints)
        for name, annotation in named.items():
            if (self.name, name) in NOT_VARIED:
                continue
            if annotation is Any:
                if not inspect.isclass(self.obj):
                    continue  # a function's Any is a caller's type, not outside data
                annotation = str  # a constructor's converter takes outside data
            strategy = strategy_for(annotation, name, tmp)
            if strategy is not None:
                out[name] = strategy
        return out

    def call(self, kwargs: dict[str, Any]) -> Any:
        """Call the target: positional-only parameters by position, the rest by name."""
        positional = [
            kwargs.pop(p.name)
            for p in self.params
            if p.kind is p.POSITIONAL_ONLY and p.name in kwargs
        ]
        return self.obj(*positional, **kwargs)


def _unwrap_optional(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, __import__("types").UnionType):
        return [a for a in typing.get_args(annotation) if a is not type(None)]
    return [annotation]


def _fits(value: Any, annotation: Any) -> bool:
    """False when ``annotation`` is plain classes only and ``value`` is none of them."""
    members = _unwrap_optional(annotation)
    if not all(inspect.isclass(m) and typing.get_origin(m) is None for m in members):
        return True
    try:
        return isinstance(value, tuple(members))
    except TypeError:  # a Protocol that cannot be checked at run time
        return True


def valid_value(name: str, annotation: Any, env: Env) -> Any:
    """A valid value for the parameter ``name: annotation`` in ``env``."""
    if name in _BY_NAME:
        value = _BY_NAME[name](env)
        if _fits(value, annotation):
            return value
    for member in _unwrap_optional(annotation):
        origin = typing.get_origin(member) or member
        if member in _BY_TYPE:
            return _BY_TYPE[member](env)
        if origin in _BY_TYPE:
            return _BY_TYPE[origin](env)
        if origin in (
            collections.abc.Iterable,
            collections.abc.Sequence,
            list,
            tuple,
            frozenset,
            set,
        ):
            args = typing.get_args(member)
            if args and args[0] is not Ellipsis:
                return [valid_value(name, args[0], env)]
            return []
        if origin in (collections.abc.Mapping, dict):
            return {}
        if origin is collections.abc.Callable:
            return lambda *a, **k: None
        if origin is type:
            return Address
        if inspect.isclass(member) and issubclass(member, enum.Enum):
            return next(iter(member))
        if member is ports.CallRecord:
            return Call("c1", "+31612345678", "in", T0, 60)
        if inspect.isclass(member) and attrs.has(member) and _depth(env) < 3:
            return _build(member, env)
    if name.endswith("_id"):
        return env.ids.get(name[: -len("_id")], "x")
    raise NoValidValue(f"{name}: {annotation!r}")


def _depth(env: Env) -> int:
    return env.depth


def _build(cls: Any, env: Env) -> Any:
    """An instance of the attrs class ``cls`` from valid values of its required fields."""
    env.depth += 1
    try:
        params = _parameters(cls)
        hints = _hints(cls, params)
        kwargs = {
            p.name: valid_value(p.name, hints.get(p.name, Any), env)
            for p in params
            if p.default is p.empty and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
        }
        return cls(**kwargs)
    finally:
        env.depth -= 1


def _namespace(obj: Any) -> dict[str, Any]:
    module = importlib.import_module(obj.__module__)
    ns: dict[str, Any] = {}
    for extra in (typing, collections.abc):
        ns.update({k: v for k, v in vars(extra).items() if not k.startswith("_")})
    for mod in (ports, crm_procedures.model, crm_procedures.procedures):
        ns.update({k: getattr(mod, k) for k in getattr(mod, "__all__", [])})
    ns.update(
        {
            "Context": Context,
            "Path": Path,
            "datetime": datetime,
            "date": date,
            "timedelta": timedelta,
            "tzinfo": tzinfo,
            "Decimal": Decimal,
            "EmailMessage": EmailMessage,
            "Viewer": Viewer,
            "CrmApp": CrmApp,
            "MemoryStore": MemoryStore,
            "MemoryUnitOfWork": MemoryUnitOfWork,
            "SqlStore": SqlStore,
            "os": __import__("os"),
            "Engine": _Engine,
            "StepContext": StepContext,
        }
    )
    ns.update(vars(module))
    return ns


class _Engine:
    """Stands for ``sqlalchemy.Engine`` in annotations."""


_BY_TYPE[_Engine] = lambda env: _engine(env)


def _hints(obj: Any, params: list[inspect.Parameter]) -> dict[str, Any]:
    ns = _namespace(obj)
    out: dict[str, Any] = {}
    for p in params:
        annotation = p.annotation
        if annotation is p.empty:
            out[p.name] = Any
            continue
        if isinstance(annotation, typing.ForwardRef):
            annotation = annotation.__forward_arg__
        if isinstance(annotation, str):
            try:
                annotation = eval(annotation, ns)
            except Exception:
                annotation = Any
        out[p.name] = annotation
    return out


def _public_modules() -> Iterator[ModuleType]:
    yield crm_procedures
    for info in pkgutil.walk_packages(crm_procedures.__path__, "crm_procedures."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        yield importlib.import_module(info.name)


def discover() -> dict[str, tuple[Any, str | None]]:
    """Every public class and function: qualified name -> (object, reason it is skipped)."""
    found: dict[str, tuple[Any, str | None]] = {}
    for module in _public_modules():
        for name in getattr(module, "__all__", ()):
            if name.startswith("_"):
                continue
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            owner = getattr(obj, "__module__", "") or ""
            if not owner.startswith("crm_procedures"):
                continue  # an alias of a builtin (``UserId = str``)
            qualname = f"{owner}.{obj.__qualname__}"
            if qualname.rsplit(".", 1)[-1].startswith("_"):
                continue
            reason: str | None = EXCLUDED.get(qualname)
            if inspect.isclass(obj) and issubclass(obj, enum.Enum):
                reason = KIND_REASONS["enum"]
            elif inspect.isclass(obj) and getattr(obj, "_is_protocol", False):
                reason = KIND_REASONS["protocol"]
            found[qualname] = (obj, reason)
    return found


def _parameters(obj: Any) -> list[inspect.Parameter]:
    signature = inspect.signature(obj)
    return list(signature.parameters.values())


def _needs_store(target_name: str, hints: dict[str, Any], params: list[inspect.Parameter]) -> bool:
    for p in params:
        annotation = hints.get(p.name, Any)
        for member in _unwrap_optional(annotation):
            if member in (
                Context,
                ports.Store,
                ports.UnitOfWork,
                SqlStore,
                MemoryUnitOfWork,
                StepContext,
            ):
                return p.default is p.empty or target_name in OVERRIDES
        if p.name in ("uow", "repo"):
            return True
    return False


def targets() -> tuple[list[Target], dict[str, str]]:
    """The targets to call, and the skipped public callables with their reasons."""
    out: list[Target] = []
    skipped: dict[str, str] = {}
    for qualname, (obj, reason) in sorted(discover().items()):
        if reason is not None:
            skipped[qualname] = reason
            continue
        params = _parameters(obj)
        hints = _hints(obj, params)
        kwargs_hints: dict[str, Any] = {}
        source = _kwargs_source(qualname)
        if source is not None:
            inner = _parameters(source)
            inner_hints = _hints(source, inner)
            own = {p.name for p in params}
            kwargs_hints = {
                p.name: inner_hints[p.name]
                for p in inner
                if p.name not in _KWARGS_SKIP
                and p.name not in own
                and not p.name.startswith("_")
                and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
            }
        out.append(
            Target(
                qualname, obj, params, hints, kwargs_hints, _needs_store(qualname, hints, params)
            )
        )
    return out, skipped

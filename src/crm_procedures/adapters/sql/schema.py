"""The SQL schema of the store (SQLAlchemy Core tables) and its numbered migrations.

Every column that a query filters or sorts on is an explicit column; the full
record is kept as JSON text (``data``) written by the library's converter.
Prospects are fully columnar, with their history in ``prospect_history``
(one row per entry, append-only). Datetimes that are sorted or compared are
stored as integer microseconds since the epoch (UTC, "``*_key``" columns;
a missing value sorts first) next to the exact text with the zone.

Upgrade path
------------
``schema_version`` holds one row per applied migration. :data:`MIGRATIONS` is
the ordered list of numbered steps; :func:`upgrade_schema` applies those above
the database's version, each in its own transaction, and
:func:`create_schema` is the same on an empty database. A migration, once
released, never changes: a later change to a table is a new migration (which
alters the table, backfills, and updates the ``Table`` definitions here).

Migration 1 creates the tables as they were when it was released: the tables
a later migration changed are created from their frozen version-1 copies
(``_V1_TABLES``), the others from the current definitions.

1. the base tables and indexes;
2. the keyword search of visit reports: an FTS5 table kept in sync by
   triggers on SQLite, a ``tsvector`` GIN index on PostgreSQL;
3. the report columns: ``activities.kind`` and ``activities.outcome``,
   ``appointments.relation_id`` and ``appointments.project_id`` (until then
   only inside the JSON record), backfilled from ``data``, with the indexes
   of the per-employee report, and a covering index of the funnel's counts.
4. the outbox's lease tokens and per-recipient delivery states.
5. the cadence: ``prospects.next_due_key`` (with ``next_due_at``,
   ``due_step``, ``due_role``, ``due_automatic``, ``paused_until``,
   ``sequence_exit``), indexed per owner, per role and for the scheduler's
   claim (automatic steps only), and ``prospect_leases``, which scheduler
   works on which due prospect until when.
6. inbound mail: ``sent_messages`` (the Message-IDs answers refer to),
   ``inbound_messages`` (applied Message-IDs),
   ``inbox_positions``, ``unmatched_messages``, ``address_statuses`` (soft
   failures and the suppression list) and ``events``.
7. an index on relations' stored phone (the lookup during a call) and
   ``member`` rows in ``project_links`` for every project member.
8. the funnel over an index: ``prospect_history.project_id`` and
   ``prospect_history.superseded``, backfilled, with ``ix_history_funnel``.
10. participants' agendas: ``appointment_participants`` (one row per user
    taking part in an appointment besides its employee), indexed per user and
    backfilled from the appointments' data, and an index of a project's
    appointments by start (``ix_appointments_project``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Final

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    false,
    inspect,
    select,
    true,
    tuple_,
)

from crm_procedures.errors import CrmError
from crm_procedures.model._checks import shown

__all__ = [
    "LATEST_VERSION",
    "MIGRATIONS",
    "SchemaError",
    "create_schema",
    "metadata",
    "reset_data",
    "schema_version",
    "upgrade_schema",
]


class SchemaError(CrmError):
    """The database's schema does not match this version of the library.

    Attributes:
        found: the schema version in the database (0 when there is none).
        expected: the version this library writes.
    """

    def __init__(self, found: int, expected: int, advice: str) -> None:
        self.found = found
        self.expected = expected
        super().__init__(
            f"the database has schema version {shown(found)}, this library uses "
            f"{shown(expected)}; {advice}"
        )


# Text that sorts by code point everywhere (PostgreSQL's default collation may not).
TEXT = Text().with_variant(Text(collation="C"), "postgresql")
KEY = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()
"""Every table of the store."""

schema_version_table = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("description", TEXT, nullable=False),
    Column("applied_at", TEXT, nullable=False),
)

relations = Table(
    "relations",
    metadata,
    Column("id", TEXT, primary_key=True),
    Column("name", TEXT, nullable=False),
    Column("name_folded", TEXT, nullable=False),
    Column("account_manager", TEXT),
    Column("version", Integer, nullable=False),
    Column("data", TEXT, nullable=False),
    Index("ix_relations_name", "name", "id"),
    Index("ix_relations_account_manager", "account_manager", "name", "id"),
)

contacts = Table(
    "contacts",
    metadata,
    Column("id", TEXT, primary_key=True),
    Column("relation_id", TEXT, nullable=False),
    Column("last_name", TEXT, nullable=False),
    Column("phone", TEXT),
    Column("version", Integer, nullable=False),
    Column("data", TEXT, nullable=False),
    Index("ix_contacts_relation", "relation_id", "last_name", "id"),
    Index("ix_contacts_phone", "phone"),
)

projects = Table(
    "projects",
    metadata,
    Column("id", TEXT, primary_key=True),
    Column("relation_id", TEXT, nullable=False),
    Column("name", TEXT, nullable=False),
    Column("restricted", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("data", TEXT, nullable=False),
    Index("ix_projects_relation", "relation_id", "name", "id"),
    Index("ix_projects_name", "name", "id"),
    Index("ix_projects_restricted", "restricted", "id"),
)

project_links = Table(
    "project_links",
    metadata,
    Column("project_id", TEXT, ForeignKey("projects.id"), nullable=False),
    Column("principal_kind", TEXT, nullable=False),  # "user" or "group"
    Column("principal_id", TEXT, nullable=False),
    PrimaryKeyConstraint("project_id", "principal_kind", "principal_id"),
    Index("ix_project_links_principal", "principal_kind", "principal_id", "project_id"),
)

prospects = Table(
    "prospects",
    metadata,
    Column("id", TEXT, primary_key=True),
    Column("project_id", TEXT, ForeignKey("projects.id"), nullable=False),
    Column("relation_id", TEXT, nullable=False),
    Column("contact_id", TEXT),
    Column("status", TEXT, nullable=False),
    Column("close_reason", TEXT),
    Column("stage", TEXT, nullable=False),
    Column("became_prospect_at", TEXT),
    Column("became_prospect_by", TEXT),
    Column("last_step", TEXT),
    Column("next_action_key", KEY, nullable=False),
    Column("next_action_at", TEXT),
    Column("owner", TEXT),
    Column("version", Integer, nullable=False),
    Column("history_count", Integer, nullable=False),
    # migration 5: the cadence (what falls due next, for whom), pauses and exits
    Column("next_due_key", KEY),
    Column("next_due_at", TEXT),
    Column("due_step", TEXT),
    Column("due_role", TEXT),
    Column("due_automatic", Boolean, nullable=False, server_default=false()),
    Column("paused_until", TEXT),
    Column("sequence_exit", TEXT),
    Column("paused_at", TEXT),  # migration 9: when the pause began
    Index("ix_prospects_worklist", "project_id", "status", "last_step", "next_action_key", "id"),
    Index("ix_prospects_project", "project_id", "id"),
    Index("ix_prospects_project_status", "project_id", "status", "id"),
    # migration 3 adds ix_prospects_funnel (project_id, stage, status, close_reason): not
    # declared here, where migration 1 (frozen) would create it too.
)

_DUE_INDEXES: Final = [
    # migration 5: worklists per owner and per role, and the scheduler's claim
    Index("ix_prospects_due_owner", prospects.c.owner, prospects.c.next_due_key, prospects.c.id),
    Index(
        "ix_prospects_due_role",
        prospects.c.project_id,
        prospects.c.due_role,
        prospects.c.next_due_key,
        prospects.c.id,
    ),
    Index(
        "ix_prospects_due_automatic",
        prospects.c.next_due_key,
        prospects.c.id,
        sqlite_where=prospects.c.due_automatic == true(),
        postgresql_where=prospects.c.due_automatic == true(),
    ),
]

prospect_leases = Table(
    # migration 5: which scheduler works on a due prospect, until when
    "prospect_leases",
    metadata,
    Column("prospect_id", TEXT, primary_key=True),
    Column("worker", TEXT, nullable=False),
    Column("until_key", KEY, nullable=False),
)

prospect_history = Table(
    "prospect_history",
    metadata,
    Column("prospect_id", TEXT, ForeignKey("prospects.id"), nullable=False),
    Column("seq", Integer, nullable=False, autoincrement=False),
    Column("kind", TEXT, nullable=False),
    Column("at", TEXT, nullable=False),
    Column("actor", TEXT, nullable=False),
    Column("role", TEXT),
    Column("step", TEXT),
    Column("supersedes", Integer),
    Column("detail", TEXT),
    Column("note", TEXT, nullable=False),
    # migration 8: the prospect's project (kept when the prospect moves) and whether
    # a correction supersedes the entry, so the funnel counts over an index alone
    Column("project_id", TEXT, nullable=False, server_default=""),
    Column("superseded", Integer, nullable=False, server_default="0"),
    # migration 9: the entry's instant as microseconds since 1970 UTC (``utc_us(at)``),
    # so time in step is integer arithmetic instead of parsing ``at`` per row
    Column("at_us", KEY),
    PrimaryKeyConstraint("prospect_id", "seq"),
    sqlite_with_rowid=False,
)

activities = Table(
    "activities",
    metadata,
    Column("id", TEXT, primary_key=True),
    Column("employee", TEXT, nullable=False),
    Column("relation_id", TEXT),
    Column("project_id", TEXT),
    Column("start_key", KEY, nullable=False),
    Column("created_key", KEY, nullable=False),
    Column("completed", Boolean, nullable=False),
    Column("kind", TEXT, nullable=False, server_default=""),  # migration 3
    Column("outcome", TEXT),  # migration 3
    Column("version", Integer, nullable=False),
    Column("data", TEXT, nullable=False),
    Index("ix_activities_employee", "employee", "start_key", "created_key", "id"),
    Index("ix_activities_relation", "relation_id", "start_key", "created_key", "id"),
    Index("ix_activities_project", "project_id", "start_key", "created_key", "id"),
)
Index(
    "ix_activities_employee_open",
    activities.c.employee,
    activities.c.start_key,
    activities.c.created_key,
    activities.c.id,
    sqlite_where=activities.c.completed == false(),
    postgresql_where=activities.c.completed == false(),
)
_ACTIVITY_REPORT_INDEXES: Final = [
    # migration 3: the per-employee report reads only these (covering) indexes
    Index(
        "ix_activities_report",
        activities.c.employee,
        activities.c.kind,
        activities.c.outcome,
        activities.c.completed,
        activities.c.project_id,
        activities.c.start_key,
        activities.c.created_key,
    ),
    Index(
        "ix_activities_first_contact",
        activities.c.kind,
        activities.c.employee,
        activities.c.relation_id,
        activities.c.start_key,
        activities.c.created_key,
        activities.c.project_id,
    ),
]

appointments = Table(
    "appointments",
    metadata,
    Column("id", TEXT, primary_key=True),
    Column("employee", TEXT, nullable=False),
    Column("uid", TEXT, nullable=False),
    Column("start_key", KEY, nullable=False),
    Column("end_key", KEY, nullable=False),
    Column("status", TEXT, nullable=False),
    Column("recurring", Boolean, nullable=False),
    Column("relation_id", TEXT),  # migration 3
    Column("project_id", TEXT),  # migration 3
    Column("version", Integer, nullable=False),
    Column("data", TEXT, nullable=False),
    Index("ix_appointments_agenda", "employee", "start_key", "id"),
    Index("ix_appointments_uid", "uid", "id"),
)
_APPOINTMENT_REPORT_INDEXES: Final = [
    # migration 3: the latest confirmed appointment per relation
    Index(
        "ix_appointments_relation",
        appointments.c.relation_id,
        appointments.c.status,
        appointments.c.start_key,
    ),
]

appointment_participants = Table(
    # migration 10: who takes part in an appointment besides its employee, so a
    # participant's agenda is one index range (the rows follow every write)
    "appointment_participants",
    metadata,
    Column("appointment_id", TEXT, ForeignKey("appointments.id"), nullable=False),
    Column("user_id", TEXT, nullable=False),
    PrimaryKeyConstraint("appointment_id", "user_id"),
    Index("ix_appointment_participants_user", "user_id", "appointment_id"),
)
_APPOINTMENT_PROJECT_INDEX: Final = Index(
    # migration 10: a project's agenda is one range
    "ix_appointments_project",
    appointments.c.project_id,
    appointments.c.start_key,
    appointments.c.id,
)

visit_reports = Table(
    "visit_reports",
    metadata,
    Column("rid", Integer, primary_key=True, autoincrement=True),
    Column("id", TEXT, nullable=False),
    Column("relation_id", TEXT, nullable=False),
    Column("account_manager", TEXT, nullable=False),
    Column("visit_type", TEXT),
    Column("start_key", KEY, nullable=False),
    Column("search_text", TEXT, nullable=False),
    Column("version", Integer, nullable=False),
    Column("data", TEXT, nullable=False),
    UniqueConstraint("id", name="uq_visit_reports_id"),
    Index("ix_visit_reports_manager", "account_manager", "start_key", "id"),
    Index("ix_visit_reports_relation", "relation_id", "start_key", "id"),
    Index("ix_visit_reports_start", "start_key", "id"),
)

documents = Table(
    "documents",
    metadata,
    Column("id", TEXT, primary_key=True),
    Column("owner_kind", TEXT, nullable=False),
    Column("owner_id", TEXT, nullable=False),
    Column("added_key", KEY, nullable=False),
    Column("version", Integer, nullable=False),
    Column("data", TEXT, nullable=False),
    Index("ix_documents_owner", "owner_kind", "owner_id", "added_key", "id"),
)

users = Table(
    "users",
    metadata,
    Column("id", TEXT, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("data", TEXT, nullable=False),
)

groups = Table(
    "groups",
    metadata,
    Column("id", TEXT, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("data", TEXT, nullable=False),
)

definitions = Table(
    "definitions",
    metadata,
    Column("key", TEXT, nullable=False),
    Column("version", Integer, nullable=False, autoincrement=False),
    Column("data", TEXT, nullable=False),
    PrimaryKeyConstraint("key", "version"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", TEXT, primary_key=True),
    Column("key", TEXT, nullable=False),
    Column("channel", TEXT, nullable=False),
    Column("payload", TEXT, nullable=False),
    Column("created_key", KEY, nullable=False),
    Column("created_at", TEXT),
    Column("due_key", KEY, nullable=False),
    Column("due_at", TEXT),
    Column("status", TEXT, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", TEXT),
    Column("delivered_at", TEXT),
    Column("version", Integer, nullable=False),
    Column("lease_token", TEXT),
    Column("recipients", TEXT),
    UniqueConstraint("key", name="uq_outbox_key"),
    Index("ix_outbox_due", "status", "due_key", "created_key", "id"),
    Index("ix_outbox_created", "created_key", "id"),
)

audit = Table(
    "audit",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("record_kind", TEXT, nullable=False),
    Column("record_id", TEXT, nullable=False),
    Column("version", Integer, nullable=False),
    Column("at", TEXT, nullable=False),
    Column("actor", TEXT, nullable=False),
    Column("action", TEXT, nullable=False),
    Column("changes", TEXT, nullable=False),
    Index("ix_audit_record", "record_kind", "record_id", "seq"),
)

# -- the tables of later migrations (created by their migration, not by migration 1) --

sent_messages = Table(
    "sent_messages",
    metadata,
    Column("id", TEXT, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("data", TEXT, nullable=False),
)

inbound_messages = Table(
    "inbound_messages",
    metadata,
    Column("id", TEXT, primary_key=True),
    Column("kind", TEXT, nullable=False),
    Column("processed_key", KEY, nullable=False),
    Column("version", Integer, nullable=False),
    Column("data", TEXT, nullable=False),
)

inbox_positions = Table(
    "inbox_positions",
    metadata,
    Column("id", TEXT, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("data", TEXT, nullable=False),
)

unmatched_messages = Table(
    "unmatched_messages",
    metadata,
    Column("id", TEXT, primary_key=True),
    Column("status", TEXT, nullable=False),
    Column("received_key", KEY, nullable=False),
    Column("version", Integer, nullable=False),
    Column("data", TEXT, nullable=False),
    Index("ix_unmatched_status", "status", "received_key", "id"),
    Index("ix_unmatched_received", "received_key", "id"),
)

address_statuses = Table(
    "address_statuses",
    metadata,
    Column("id", TEXT, primary_key=True),
    Column("suppressed", TEXT),
    Column("version", Integer, nullable=False),
    Column("data", TEXT, nullable=False),
    Index("ix_address_suppressed", "suppressed", "id"),
)

events = Table(
    "events",
    metadata,
    Column("id", TEXT, primary_key=True),
    Column("prospect_id", TEXT),
    Column("name", TEXT, nullable=False),
    Column("at_key", KEY, nullable=False),
    Column("version", Integer, nullable=False),
    Column("data", TEXT, nullable=False),
    Index("ix_events_prospect", "prospect_id", "at_key", "id"),
)

_INBOUND_TABLES: Final = [
    sent_messages,
    inbound_messages,
    inbox_positions,
    unmatched_messages,
    address_statuses,
    events,
]
_LATER_NAMES: Final = {t.name for t in _INBOUND_TABLES}
"""Tables a later migration creates: migration 1 leaves them out."""

_BASE_TABLES: Final = [t for t in metadata.sorted_tables if t.name != "schema_version"]

# -- version 1 of the tables that a later migration changed (frozen: never edit) --

_v1 = MetaData()
_activities_v1 = Table(
    "activities",
    _v1,
    Column("id", TEXT, primary_key=True),
    Column("employee", TEXT, nullable=False),
    Column("relation_id", TEXT),
    Column("project_id", TEXT),
    Column("start_key", KEY, nullable=False),
    Column("created_key", KEY, nullable=False),
    Column("completed", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("data", TEXT, nullable=False),
    Index("ix_activities_employee", "employee", "start_key", "created_key", "id"),
    Index("ix_activities_relation", "relation_id", "start_key", "created_key", "id"),
    Index("ix_activities_project", "project_id", "start_key", "created_key", "id"),
)
Index(
    "ix_activities_employee_open",
    _activities_v1.c.employee,
    _activities_v1.c.start_key,
    _activities_v1.c.created_key,
    _activities_v1.c.id,
    sqlite_where=_activities_v1.c.completed == false(),
    postgresql_where=_activities_v1.c.completed == false(),
)
Table(
    "appointments",
    _v1,
    Column("id", TEXT, primary_key=True),
    Column("employee", TEXT, nullable=False),
    Column("uid", TEXT, nullable=False),
    Column("start_key", KEY, nullable=False),
    Column("end_key", KEY, nullable=False),
    Column("status", TEXT, nullable=False),
    Column("recurring", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("data", TEXT, nullable=False),
    Index("ix_appointments_agenda", "employee", "start_key", "id"),
    Index("ix_appointments_uid", "uid", "id"),
)
Table(
    "outbox",
    _v1,
    Column("id", TEXT, primary_key=True),
    Column("key", TEXT, nullable=False),
    Column("channel", TEXT, nullable=False),
    Column("payload", TEXT, nullable=False),
    Column("created_key", KEY, nullable=False),
    Column("created_at", TEXT),
    Column("due_key", KEY, nullable=False),
    Column("due_at", TEXT),
    Column("status", TEXT, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", TEXT),
    Column("delivered_at", TEXT),
    Column("version", Integer, nullable=False),
    UniqueConstraint("key", name="uq_outbox_key"),
    Index("ix_outbox_due", "status", "due_key", "created_key", "id"),
    Index("ix_outbox_created", "created_key", "id"),
)
# prospects before migration 5 (a stub of projects lets the foreign key resolve)
Table("projects", _v1, Column("id", TEXT, primary_key=True))
Table(
    "prospects",
    _v1,
    Column("id", TEXT, primary_key=True),
    Column("project_id", TEXT, ForeignKey("projects.id"), nullable=False),
    Column("relation_id", TEXT, nullable=False),
    Column("contact_id", TEXT),
    Column("status", TEXT, nullable=False),
    Column("close_reason", TEXT),
    Column("stage", TEXT, nullable=False),
    Column("became_prospect_at", TEXT),
    Column("became_prospect_by", TEXT),
    Column("last_step", TEXT),
    Column("next_action_key", KEY, nullable=False),
    Column("next_action_at", TEXT),
    Column("owner", TEXT),
    Column("version", Integer, nullable=False),
    Column("history_count", Integer, nullable=False),
    Index("ix_prospects_worklist", "project_id", "status", "last_step", "next_action_key", "id"),
    Index("ix_prospects_project", "project_id", "id"),
    Index("ix_prospects_project_status", "project_id", "status", "id"),
)
Table(
    "prospect_history",
    _v1,
    Column("prospect_id", TEXT, ForeignKey("prospects.id"), nullable=False),
    Column("seq", Integer, nullable=False, autoincrement=False),
    Column("kind", TEXT, nullable=False),
    Column("at", TEXT, nullable=False),
    Column("actor", TEXT, nullable=False),
    Column("role", TEXT),
    Column("step", TEXT),
    Column("supersedes", Integer),
    Column("detail", TEXT),
    Column("note", TEXT, nullable=False),
    PrimaryKeyConstraint("prospect_id", "seq"),
    sqlite_with_rowid=False,
)
_V1_TABLES: Final = [t for t in _v1.sorted_tables if t.name != "projects"]
_V1_NAMES: Final = {t.name for t in _V1_TABLES}

# The FTS5 table indexes visit_reports.search_text (external content, so the text is
# stored once); the triggers keep it in sync inside the writing transaction.
_SQLITE_SEARCH = [
    "CREATE VIRTUAL TABLE visit_reports_fts USING fts5("
    "search_text, content='visit_reports', content_rowid='rid', "
    "tokenize='unicode61 remove_diacritics 0', prefix='2 3')",
    "CREATE TRIGGER visit_reports_fts_ai AFTER INSERT ON visit_reports BEGIN "
    "INSERT INTO visit_reports_fts(rowid, search_text) VALUES (new.rid, new.search_text); END",
    "CREATE TRIGGER visit_reports_fts_ad AFTER DELETE ON visit_reports BEGIN "
    "INSERT INTO visit_reports_fts(visit_reports_fts, rowid, search_text) "
    "VALUES ('delete', old.rid, old.search_text); END",
    "CREATE TRIGGER visit_reports_fts_au AFTER UPDATE OF search_text ON visit_reports BEGIN "
    "INSERT INTO visit_reports_fts(visit_reports_fts, rowid, search_text) "
    "VALUES ('delete', old.rid, old.search_text); "
    "INSERT INTO visit_reports_fts(rowid, search_text) VALUES (new.rid, new.search_text); END",
    "INSERT INTO visit_reports_fts(visit_reports_fts) VALUES ('rebuild')",
]

_POSTGRES_SEARCH = [
    "CREATE INDEX ix_visit_reports_search ON visit_reports "
    "USING gin (to_tsvector('simple', search_text))",
]


_LATER_TABLES: Final = frozenset({"prospect_leases", "appointment_participants"})
"""Tables a later migration creates (migration 1 leaves them out)."""


def _migration_1(conn: Connection) -> None:
    frozen = {t.name: t for t in _V1_TABLES}
    for table in _BASE_TABLES:  # dependency order: a referenced table comes first
        if table.name not in _LATER_TABLES | _LATER_NAMES:
            frozen.get(table.name, table).create(conn)


def _migration_2(conn: Connection) -> None:
    statements = _SQLITE_SEARCH if conn.dialect.name == "sqlite" else _POSTGRES_SEARCH
    if conn.dialect.name not in ("sqlite", "postgresql"):
        return  # other databases search with a LIKE over search_text
    for statement in statements:
        conn.exec_driver_sql(statement)


# (table, column, JSON key of ``data``, NOT NULL with '' as the default)
_REPORT_COLUMNS: Final = [
    ("activities", "kind", "kind", True),
    ("activities", "outcome", "outcome", False),
    ("appointments", "relation_id", "relation_id", False),
    ("appointments", "project_id", "project_id", False),
]


def _migration_3(conn: Connection) -> None:
    dialect = conn.dialect.name
    text = 'TEXT COLLATE "C"' if dialect == "postgresql" else "TEXT"
    for table, column, _, required in _REPORT_COLUMNS:
        constraint = " NOT NULL DEFAULT ''" if required else ""
        conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {column} {text}{constraint}")
    for table in ("activities", "appointments"):
        fields = [(c, key) for t, c, key, _ in _REPORT_COLUMNS if t == table]
        if dialect == "sqlite":
            assignments = ", ".join(f"{c} = json_extract(data, '$.{key}')" for c, key in fields)
        else:
            assignments = ", ".join(f"{c} = (data::json ->> '{key}')" for c, key in fields)
        conn.exec_driver_sql(f"UPDATE {table} SET {assignments}")
    for index in [*_ACTIVITY_REPORT_INDEXES, *_APPOINTMENT_REPORT_INDEXES]:
        index.create(conn)
    conn.exec_driver_sql(
        "CREATE INDEX ix_prospects_funnel ON prospects (project_id, stage, status, close_reason)"
    )


def _migration_4(conn: Connection) -> None:
    # The lease token fences a delivery (only the claim that holds it sends);
    # recipients holds each recipient's delivery state as JSON. Both start empty:
    # a message claimed by an older library is claimed again, under a token.
    text = 'TEXT COLLATE "C"' if conn.dialect.name == "postgresql" else "TEXT"
    conn.exec_driver_sql(f"ALTER TABLE outbox ADD COLUMN lease_token {text}")
    conn.exec_driver_sql(f"ALTER TABLE outbox ADD COLUMN recipients {text}")


def _migration_5(conn: Connection) -> None:
    dialect = conn.dialect.name
    text = 'TEXT COLLATE "C"' if dialect == "postgresql" else "TEXT"
    key = "BIGINT" if dialect == "postgresql" else "INTEGER"
    flag = "INTEGER NOT NULL DEFAULT 0"
    if dialect == "postgresql":
        flag = "BOOLEAN NOT NULL DEFAULT false"
    for column, kind in [
        ("next_due_key", key),
        ("next_due_at", text),
        ("due_step", text),
        ("due_role", text),
        ("due_automatic", flag),
        ("paused_until", text),
        ("sequence_exit", text),
    ]:
        conn.exec_driver_sql(f"ALTER TABLE prospects ADD COLUMN {column} {kind}")
    for index in _DUE_INDEXES:
        index.create(conn)
    prospect_leases.create(conn)


def _migration_6(conn: Connection) -> None:
    # What comes back (I1): processed Message-IDs, inbox positions, messages
    # kept for a person, address delivery records (the suppression list), events.
    metadata.create_all(conn, tables=_INBOUND_TABLES)


RELATION_PHONE_SQL: Final = {
    "sqlite": "json_extract(data, '$.phone')",
    "postgresql": "(data::json ->> 'phone')",
}
"""The expression of a relation's stored phone, as the lookup query and its index write it."""


def _migration_7(conn: Connection) -> None:
    """An index on relations' phone (lookup during a call), and project member links.

    Members of a project (``members[role]``) are stored as ``member`` rows of
    ``project_links`` so that a ``project.members_only`` viewer is limited
    inside the query; projects stored before get theirs from their data.
    """
    dialect = conn.dialect.name
    if dialect == "sqlite":
        conn.exec_driver_sql(
            f"CREATE INDEX ix_relations_phone ON relations ({RELATION_PHONE_SQL['sqlite']})"
        )
        conn.exec_driver_sql(
            "INSERT OR IGNORE INTO project_links (project_id, principal_kind, principal_id) "
            "SELECT DISTINCT p.id, 'member', m.value FROM projects p, "
            "json_each(p.data, '$.members') r, json_each(r.value) m"
        )
    elif dialect == "postgresql":
        conn.exec_driver_sql(
            f"CREATE INDEX ix_relations_phone ON relations ({RELATION_PHONE_SQL['postgresql']})"
        )
        conn.exec_driver_sql(
            "INSERT INTO project_links (project_id, principal_kind, principal_id) "
            "SELECT DISTINCT p.id, 'member', m FROM projects p, "
            "json_each(p.data::json -> 'members') r, json_array_elements_text(r.value) m "
            "ON CONFLICT DO NOTHING"
        )


def _migration_8(conn: Connection) -> None:
    # Each history row names its prospect's project and says whether a correction
    # supersedes it: the funnel's count of prospects per step then reads one index
    # range instead of joining every history row with its prospect and looking for
    # a correction per row. Backfilled from the prospects and the corrections. The
    # index is ordered (step, prospect_id) so the distinct count needs no sort.
    text = 'TEXT COLLATE "C"' if conn.dialect.name == "postgresql" else "TEXT"
    conn.exec_driver_sql(
        f"ALTER TABLE prospect_history ADD COLUMN project_id {text} NOT NULL DEFAULT ''"
    )
    conn.exec_driver_sql(
        "ALTER TABLE prospect_history ADD COLUMN superseded INTEGER NOT NULL DEFAULT 0"
    )
    conn.exec_driver_sql(
        "UPDATE prospect_history SET project_id = (SELECT p.project_id FROM prospects p "
        "WHERE p.id = prospect_history.prospect_id)"
    )
    conn.exec_driver_sql(
        "UPDATE prospect_history SET superseded = 1 WHERE EXISTS (SELECT 1 FROM "
        "prospect_history c WHERE c.prospect_id = prospect_history.prospect_id "
        "AND c.kind = 'correction' AND c.supersedes = prospect_history.seq)"
    )
    conn.exec_driver_sql(
        "CREATE INDEX ix_history_funnel ON prospect_history "
        "(project_id, superseded, step, prospect_id, kind)"
    )


_BACKFILL_BATCH: Final = 10_000


def _migration_9(conn: Connection) -> None:
    # Time in step subtracts instants; parsing each row's ISO text in SQL made the
    # report 27x a plain GROUP BY. Every history insert now writes at_us too; rows
    # written before are backfilled here, in batches by primary key, with the
    # store's own conversion (exact for any offset or zone suffix).
    from crm_procedures.adapters._common import utc_us
    from crm_procedures.serialization import structure

    key = "BIGINT" if conn.dialect.name == "postgresql" else "INTEGER"
    text = 'TEXT COLLATE "C"' if conn.dialect.name == "postgresql" else "TEXT"
    # when a prospect's pause began: a pause stops the due step's clock (no backfill:
    # a pause made before has no start, and keeps holding work until its end)
    conn.exec_driver_sql(f"ALTER TABLE prospects ADD COLUMN paused_at {text}")
    conn.exec_driver_sql(f"ALTER TABLE prospect_history ADD COLUMN at_us {key}")
    h = prospect_history.c
    after: tuple[str, int] = ("", 0)
    while True:
        rows = conn.execute(
            select(h.prospect_id, h.seq, h.at)
            .where(tuple_(h.prospect_id, h.seq) > tuple_(*after))
            .order_by(h.prospect_id, h.seq)
            .limit(_BACKFILL_BATCH)
        ).all()
        if not rows:
            return
        conn.execute(
            prospect_history.update()
            .where(h.prospect_id == bindparam("p"), h.seq == bindparam("n"))
            .values(at_us=bindparam("us")),
            [{"p": pid, "n": seq, "us": utc_us(structure(at, datetime))} for pid, seq, at in rows],
        )
        after = (rows[-1][0], rows[-1][1])


def _migration_10(conn: Connection) -> None:
    # A participant's agenda selects the appointments they take part in through
    # an index on (user_id, appointment_id) instead of reading every row's data;
    # the rows are backfilled from the participants each appointment's data
    # names (the employee and repeated names left out, as the store writes them).
    appointment_participants.create(conn)
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(
            "INSERT OR IGNORE INTO appointment_participants (appointment_id, user_id) "
            "SELECT DISTINCT a.id, p.value FROM appointments a, "
            "json_each(a.data, '$.participants') p "
            "WHERE p.value <> a.employee"
        )
    elif conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            "INSERT INTO appointment_participants (appointment_id, user_id) "
            "SELECT DISTINCT a.id, p FROM appointments a, "
            "json_array_elements_text(COALESCE(a.data::json -> 'participants', '[]'::json)) p "
            "WHERE p <> a.employee ON CONFLICT DO NOTHING"
        )
    _APPOINTMENT_PROJECT_INDEX.create(conn)


MIGRATIONS: Final[list[tuple[int, str, Callable[[Connection], None]]]] = [
    (1, "base tables and indexes", _migration_1),
    (2, "keyword search of visit reports (FTS5 / tsvector)", _migration_2),
    (3, "report columns and indexes (activities, appointments, prospects)", _migration_3),
    (4, "outbox lease tokens and per-recipient delivery states", _migration_4),
    (5, "cadence: due columns and indexes of prospects, scheduler leases", _migration_5),
    (
        6,
        "inbound mail: processed messages, positions, kept messages, suppression, events",
        _migration_6,
    ),
    (7, "relation phone index and project member links", _migration_7),
    (8, "history rows name their project and say whether they are superseded", _migration_8),
    (9, "history rows hold their instant as microseconds (at_us); pause starts", _migration_9),
    (10, "participants' agendas and the project agenda's index", _migration_10),
]
"""The numbered migrations, in order: ``(number, description, apply)``."""

LATEST_VERSION: Final = MIGRATIONS[-1][0]
"""The schema version this library reads and writes."""


def schema_version(engine: Engine) -> int:
    """The schema version of the database (0 for an empty one)."""
    with engine.connect() as conn:
        conn.info["crm_read_only"] = True  # a SQLite reader: no write lock to wait for
        try:
            version = _version_of(conn)
            conn.rollback()
        finally:
            conn.info.pop("crm_read_only", None)
    return version


_LOCK_KEY: Final = 0x63726D5F736368  # "crm_sch": the advisory lock of schema changes


@contextmanager
def _schema_lock(engine: Engine) -> Iterator[Connection]:
    """A transaction that holds the lock on schema changes until it ends.

    PostgreSQL: a transaction-level advisory lock (``pg_advisory_xact_lock``);
    SQLite: ``BEGIN EXCLUSIVE`` (through the store's begin event, which waits
    for the lock as writers do). Other processes opening the same database
    wait here, then find the work done.
    """
    with engine.connect() as conn:
        conn.info["crm_exclusive"] = True
        try:
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_LOCK_KEY})")
                yield conn
        finally:
            conn.info.pop("crm_exclusive", None)


def _version_of(conn: Connection) -> int:
    if not inspect(conn).has_table("schema_version"):
        return 0
    found = conn.execute(select(schema_version_table.c.version)).scalars().all()
    return max(found, default=0)


def upgrade_schema(engine: Engine) -> int:
    """Apply every migration above the database's version; returns the new version.

    Each migration runs in its own transaction together with its
    ``schema_version`` row, so an interrupted upgrade resumes where it stopped.
    Each transaction holds the schema lock (see :func:`_schema_lock`) and reads
    the version again inside it, so many processes may open a new or old
    database at once: one applies each migration, the others wait and skip it.

    Raises:
        SchemaError: the database is newer than this library.
    """
    current = schema_version(engine)
    if current == LATEST_VERSION:
        return LATEST_VERSION
    if current > LATEST_VERSION:
        raise SchemaError(current, LATEST_VERSION, "upgrade crm_procedures to open it")
    if current == 0:
        with _schema_lock(engine) as conn:
            schema_version_table.create(conn, checkfirst=True)
    for number, description, apply in MIGRATIONS:
        if number <= current:
            continue
        with _schema_lock(engine) as conn:
            found = _version_of(conn)
            if found > LATEST_VERSION:
                raise SchemaError(found, LATEST_VERSION, "upgrade crm_procedures to open it")
            if number <= found:
                continue  # applied by another process while this one waited
            apply(conn)
            conn.execute(
                schema_version_table.insert().values(
                    version=number,
                    description=description,
                    applied_at=datetime.now(UTC).isoformat(),
                )
            )
    return LATEST_VERSION


def create_schema(engine: Engine) -> int:
    """Create the schema in an empty database (or complete it); returns its version.

    The same as :func:`upgrade_schema`: a new database runs every migration.
    """
    return upgrade_schema(engine)


def reset_data(engine: Engine) -> None:
    """Delete every row of every table except ``schema_version`` (for test suites)."""
    with engine.begin() as conn:
        for table in reversed(_BASE_TABLES):
            conn.execute(table.delete())
        if conn.dialect.name == "sqlite" and inspect(conn).has_table("visit_reports_fts"):
            conn.exec_driver_sql(
                "INSERT INTO visit_reports_fts(visit_reports_fts) VALUES ('rebuild')"
            )

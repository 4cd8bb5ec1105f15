"""The SQL store: SQLAlchemy Core over SQLite (embedded default) or PostgreSQL.

Open one with :func:`open_store`::

    store = open_store("sqlite:///crm.db")            # a file, WAL journal
    store = open_store("sqlite://")                    # in memory
    store = open_store("postgresql://user@host/crm")   # psycopg 3

Transactions: one unit of work is one database transaction. On SQLite a
writing one starts with ``BEGIN IMMEDIATE`` (a deferred transaction that
later upgrades to a write lock fails with SQLITE_BUSY under contention) and
waits up to the busy timeout for the lock; a lock that cannot be had
surfaces as :class:`~crm_procedures.errors.StoreBusy`, as does PostgreSQL's
lock_not_available (55P03). PostgreSQL serialization failures and deadlocks
(SQLSTATE 40001, 40P01) surface as
:class:`~crm_procedures.errors.ConcurrencyConflict`. A read-only unit of work
(``store.unit_of_work(read_only=True)``) starts a deferred transaction on
SQLite (no write lock: it neither waits for writers nor blocks them in WAL)
and a ``READ ONLY`` transaction on PostgreSQL; a write in it raises
:class:`~crm_procedures.errors.ReadOnlyUnitOfWork`.
Optimistic concurrency: ``UPDATE ... WHERE id = ? AND version = ?`` and a
row-count check.

This module holds the public face (:func:`open_store`, :func:`make_engine`,
:class:`SqlStore`, :class:`SqlUnitOfWork`); the statements live beside it, one
module per record family, so that each repository's SQL fits in a file a reader
can hold:

- ``_engine``: the SQLite and PostgreSQL connect and begin events, the busy
  timeout and the wait for SQLite's write lock.
- ``_uow``: :class:`~crm_procedures.adapters.sql._uow.SqlTransaction`, the
  transaction under a unit of work (commit, rollback, the fast, prepared,
  atomic and savepoint statement paths, driver errors turned into named ones).
- ``_visibility``: what a viewer may see, as SQL conditions.
- ``_repo``: the generic repository (explicit columns plus the record as JSON),
  paging, row and timestamp helpers.
- ``relations``: relations, contacts, projects.
- ``prospects``: prospects and their history, the worklist, due work, claims
  and leases, bulk status changes.
- ``activities``: activities, appointments, visit reports, documents.
- ``directory``: users and groups.
- ``definitions``: stored procedure definitions.
- ``outbox``: the outbox of messages to send.
- ``audit``: the audit log.
- ``due``, ``reports``, ``inbound``, ``_service_level``: due work, report
  queries, inbound records, service levels.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final, cast

from sqlalchemy import Engine, Table, create_engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import StaticPool

from crm_procedures._paths import usable_path
from crm_procedures.adapters.sql import schema as s
from crm_procedures.adapters.sql._engine import MAX_BUSY_TIMEOUT as MAX_BUSY_TIMEOUT
from crm_procedures.adapters.sql._engine import (
    _check_busy_timeout,
    _postgres_events,
    _sqlite_events,
)
from crm_procedures.adapters.sql._uow import SqlTransaction
from crm_procedures.adapters.sql.activities import (
    _ActivityRepo,
    _AppointmentRepo,
    _DocumentRepo,
    _VisitReportRepo,
)
from crm_procedures.adapters.sql.audit import _Audit
from crm_procedures.adapters.sql.definitions import _Definitions
from crm_procedures.adapters.sql.directory import _GroupRepo, _UserRepo
from crm_procedures.adapters.sql.outbox import _Outbox
from crm_procedures.adapters.sql.prospects import _ProspectRepo
from crm_procedures.adapters.sql.relations import _ContactRepo, _ProjectRepo, _RelationRepo
from crm_procedures.errors import InvalidInput
from crm_procedures.model._storable import storable
from crm_procedures.model.activity import Activity
from crm_procedures.model.appointment import Appointment
from crm_procedures.model.contact import Contact
from crm_procedures.model.document import Document
from crm_procedures.model.project import Project
from crm_procedures.model.prospect import Prospect
from crm_procedures.model.relation import Relation
from crm_procedures.model.users import Group, User
from crm_procedures.model.visit_report import VisitReport
from crm_procedures.ports import (
    ActivityRepository,
    AppointmentRepository,
    AuditLog,
    ContactRepository,
    DefinitionRepository,
    DocumentRepository,
    EventLog,
    GroupRepository,
    InboundRepository,
    Outbox,
    ProjectRepository,
    ProspectRepository,
    RelationRepository,
    ReportQueries,
    UnitOfWork,
    UserRepository,
    VisitReportRepository,
)

__all__ = ["SqlStore", "SqlUnitOfWork", "open_store"]


def open_store(
    url: str,
    create: bool = True,
    *,
    busy_timeout: float = 10.0,
    sqlite_synchronous: str = "NORMAL",
    **engine_options: Any,
) -> SqlStore:
    """Open (and by default create or upgrade) the SQL store at ``url``.

    ``url`` is a SQLAlchemy URL: ``sqlite:///path.db``, ``sqlite://`` (memory),
    ``postgresql://...`` (mapped to the psycopg 3 driver) or
    ``postgresql+psycopg://...``. With ``create=False`` the schema must be at
    the library's version already. ``busy_timeout`` is how long (seconds) a
    SQLite writer waits for the lock before the unit of work fails with
    StoreBusy. ``sqlite_synchronous`` is SQLite's ``synchronous``
    pragma: ``NORMAL`` (the WAL default: a power cut may undo the last
    commits, never corrupt) or ``FULL`` (every commit survives a power cut).

    Raises:
        SchemaError: ``create=False`` and the schema is missing or old, or the
            database was written by a newer library.
        InvalidInput: a URL of an unsupported database.
    """
    engine = make_engine(
        url, busy_timeout=busy_timeout, sqlite_synchronous=sqlite_synchronous, **engine_options
    )
    try:
        if create:
            s.upgrade_schema(engine)
        else:
            found = s.schema_version(engine)
            if found != s.LATEST_VERSION:
                advice = (
                    "upgrade crm_procedures to open it"
                    if found > s.LATEST_VERSION
                    else "run upgrade_schema(engine) or open it with create=True"
                )
                raise s.SchemaError(found, s.LATEST_VERSION, advice)
    except BaseException:
        engine.dispose()
        raise
    return SqlStore(engine)


def make_engine(
    url: str,
    *,
    busy_timeout: float = 10.0,
    sqlite_synchronous: str = "NORMAL",
    **engine_options: Any,
) -> Engine:
    """A SQLAlchemy engine set up as the store needs it (see :func:`open_store`)."""
    if not isinstance(url, str):
        raise InvalidInput("url", "must be a database URL text", url)
    busy_timeout = _check_busy_timeout(busy_timeout)
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix) :]
    if not storable(url):
        raise InvalidInput("url", "must not hold NUL or a lone surrogate", None)
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise InvalidInput(
            "url",
            "is not a database URL such as 'sqlite:///crm.db' or "
            "'postgresql://user:password@host/dbname'",
            None,  # the URL may hold a password: it is not repeated
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if not isinstance(sqlite_synchronous, str) or sqlite_synchronous.upper() not in (
            "OFF",
            "NORMAL",
            "FULL",
            "EXTRA",
        ):
            raise InvalidInput("sqlite_synchronous", "must be NORMAL or FULL", sqlite_synchronous)
        memory = parsed.database in (None, "", ":memory:")
        database = parsed.database or ""
        if not memory and not database.startswith("file:"):
            usable_path("url", database)
        options: dict[str, Any] = {
            "connect_args": {"check_same_thread": False, "timeout": busy_timeout},
        }
        if memory:
            options["poolclass"] = StaticPool
        options.update(engine_options)
        engine = create_engine(parsed, **options)
        _sqlite_events(engine, busy_timeout, sqlite_synchronous.upper(), memory)
        return engine
    if backend == "postgresql":
        engine = create_engine(parsed, **engine_options)
        _postgres_events(engine)
        return engine
    raise InvalidInput("url", f"{backend!r} is not supported (use sqlite or postgresql)", url)


class SqlStore:
    """A :class:`~crm_procedures.ports.Store` in a SQL database (SQLite or PostgreSQL).

    Create it with :func:`open_store`. Thread-safe: each unit of work uses its
    own connection (an in-memory SQLite database has one connection, so its
    units of work take turns). Capabilities: ``fulltext`` (keyword search of
    visit reports through FTS5 or a ``tsvector`` index), ``durable``, ``dump``, ``threads``,
    ``inbound`` (``uow.inbound`` and ``uow.events``) and ``cadence``.
    """

    capabilities: frozenset[str] = frozenset(
        {"fulltext", "durable", "dump", "threads", "inbound", "cadence"}
    )

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect: str = engine.dialect.name
        self._single = isinstance(engine.pool, StaticPool)
        self._turn = threading.RLock()
        self._placeholder = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        self._inserts: dict[str, str] = {}
        # Hot-path statements compiled once to driver SQL: (sql, parameter order,
        # fixed values), by shape (the worklist: steps, page, viewer). Building a
        # UNION ALL of subqueries costs more than running it against an index.
        self._prepared: dict[Any, tuple[str, tuple[str, ...] | None, dict[str, Any]]] = {}
        # Immutable records (users, groups, projects) by their stored JSON text: the
        # same text always gives an equal record, so structuring it again is wasted work.
        self._records: dict[str, dict[str, Any]] = {"user": {}, "group": {}, "project": {}}
        dbapi = engine.dialect.loaded_dbapi
        self._dbapi_error: type[Exception] = dbapi.Error

    def unit_of_work(self, *, read_only: bool = False) -> SqlUnitOfWork:
        """A new unit of work (one transaction).

        ``read_only=True``: a deferred transaction on SQLite, which takes no
        write lock (in WAL it reads beside a writer, neither waiting for the
        other), a ``READ ONLY`` transaction on PostgreSQL. A write in it raises
        ReadOnlyUnitOfWork.
        """
        return SqlUnitOfWork(self, read_only=read_only)

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def insert_sql(self, table: Table) -> str:
        """A DBAPI ``INSERT`` statement of every column of ``table``, in column order."""
        sql = self._inserts.get(table.name)
        if sql is None:
            names = ", ".join(f'"{c.name}"' for c in table.columns)
            marks = ", ".join([self._placeholder] * len(table.columns))
            sql = f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})'
            self._inserts[table.name] = sql
        return sql

    def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table, ordered by primary key: for comparisons in tests."""
        out: dict[str, list[tuple[Any, ...]]] = {}
        with self.unit_of_work(read_only=True) as uow:
            conn = cast(SqlUnitOfWork, uow)._conn
            for table in s.metadata.sorted_tables:
                if table.name == "schema_version":
                    continue
                rows = conn.execute(select(table).order_by(*table.primary_key.columns))
                out[table.name] = [tuple(r) for r in rows]
        return out


class SqlUnitOfWork(SqlTransaction):
    """One database transaction over every repository.

    Implements :class:`~crm_procedures.ports.UnitOfWork`. The transaction
    itself (commit, rollback, close) is
    :class:`~crm_procedures.adapters.sql._uow.SqlTransaction`.
    """

    # The repositories, built on first use (``__getattr__``): a service call's
    # unit of work touches two or three of them, and building all thirteen
    # cost a fifth of opening a read-only unit of work.
    relations: RelationRepository
    contacts: ContactRepository
    projects: ProjectRepository
    prospects: ProspectRepository
    activities: ActivityRepository
    appointments: AppointmentRepository
    visit_reports: VisitReportRepository
    documents: DocumentRepository
    users: UserRepository
    groups: GroupRepository
    definitions: DefinitionRepository
    outbox: Outbox
    audit: AuditLog

    if not TYPE_CHECKING:  # for the type checker the repositories are plain attributes

        def __getattr__(self, name: str) -> Any:
            make = _REPOSITORIES.get(name)
            if make is None:
                raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
            repository = make(self)
            self.__dict__[name] = repository
            return repository

    @property
    def reports(self) -> ReportQueries:
        """The report queries over this transaction (SQL ``GROUP BY`` queries)."""
        from crm_procedures.adapters.sql.reports import SqlReports

        return SqlReports(self)

    @property
    def inbound(self) -> InboundRepository:
        """Processed messages, inbox positions, kept messages, address records."""
        from crm_procedures.adapters.sql.inbound import SqlInbound

        return SqlInbound(self)

    @property
    def events(self) -> EventLog:
        """The stored events."""
        from crm_procedures.adapters.sql.inbound import SqlEventLog

        return SqlEventLog(self)

    def add_new_records(
        self,
        relations: Sequence[Relation],
        contacts: Sequence[Contact],
        prospects: Sequence[Prospect],
    ) -> None:
        """New relations, contacts and prospects in one statement per table (the import's path).

        :class:`~crm_procedures.ports.BulkNewRecords`; see ``adapters.sql._bulk``.
        """
        from crm_procedures.adapters.sql._bulk import add_new_records

        add_new_records(self, relations, contacts, prospects)

    def __enter__(self) -> UnitOfWork:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_REPOSITORIES: Final[dict[str, Callable[[SqlUnitOfWork], Any]]] = {
    "relations": lambda uow: _RelationRepo(uow, "relation", Relation, s.relations),
    "contacts": lambda uow: _ContactRepo(uow, "contact", Contact, s.contacts),
    "projects": lambda uow: _ProjectRepo(uow, "project", Project, s.projects),
    "prospects": _ProspectRepo,
    "activities": lambda uow: _ActivityRepo(uow, "activity", Activity, s.activities),
    "appointments": lambda uow: _AppointmentRepo(uow, "appointment", Appointment, s.appointments),
    "visit_reports": lambda uow: _VisitReportRepo(
        uow, "visit_report", VisitReport, s.visit_reports
    ),
    "documents": lambda uow: _DocumentRepo(uow, "document", Document, s.documents),
    "users": lambda uow: _UserRepo(uow, "user", User, s.users),
    "groups": lambda uow: _GroupRepo(uow, "group", Group, s.groups),
    "definitions": _Definitions,
    "outbox": _Outbox,
    "audit": _Audit,
}
"""How each repository of a :class:`SqlUnitOfWork` is built on first use, by attribute."""

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
"""

from __future__ import annotations

import json
import math
import random
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, Final, Generic, TypeVar, cast

import attrs
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Integer,
    Select,
    Table,
    and_,
    bindparam,
    column,
    create_engine,
    event,
    false,
    func,
    literal_column,
    or_,
    select,
    table,
    true,
    union_all,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.pool import StaticPool

from crm_procedures._memo import remember
from crm_procedures._paths import usable_path
from crm_procedures.access.viewer import ActivityScope, Viewer
from crm_procedures.adapters._common import (
    EPOCH,
    check_bulk_change,
    check_limit,
    check_prospect,
    check_storable,
    db_count,
    definition_text,
    keyword_words,
    search_text,
    some_unstorable,
    sort_key,
    utc_us,
    with_version,
)
from crm_procedures.adapters.sql import due as _due
from crm_procedures.adapters.sql import schema as s
from crm_procedures.errors import (
    ConcurrencyConflict,
    CrmError,
    InvalidInput,
    NotFound,
    ReadOnlyUnitOfWork,
    StoreBusy,
)
from crm_procedures.model._checks import require_aware
from crm_procedures.model._storable import UNSTORABLE_REASON, storable
from crm_procedures.model.activity import Activity
from crm_procedures.model.appointment import Appointment, AppointmentStatus
from crm_procedures.model.audit import Change
from crm_procedures.model.contact import Contact
from crm_procedures.model.document import Document
from crm_procedures.model.outbox import OutboxMessage, OutboxStatus, check_lease_seconds
from crm_procedures.model.project import Project
from crm_procedures.model.prospect import (
    BulkStatusChange,
    EntryKind,
    HistoryEntry,
    Prospect,
    ProspectStatus,
    RelationStage,
)
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
from crm_procedures.serialization import structure, unstructure

__all__ = ["SqlStore", "SqlUnitOfWork", "open_store"]

R = TypeVar("R")

_CONFLICT_STATES: Final = frozenset({"40001", "40P01"})
_BUSY_STATES: Final = frozenset({"55P03"})
_READ_ONLY_STATE: Final = "25006"
_STATUS: Final = {s.value: s for s in ProspectStatus}
_STAGE: Final = {s.value: s for s in RelationStage}
_ENTRY: Final = {k.value: k for k in EntryKind}
_DUMP_DT: Final = cast(Callable[[datetime], str], unstructure)


_UNSTORABLE_CHAR: Final = re.compile("[\x00\ud800-\udfff]|\\\\u0000")


def _surely_storable(row: Sequence[Any]) -> bool:
    """True when no text of ``row`` holds NUL or a lone surrogate (one scan of the texts).

    The JSON copy in a row writes NUL as the escape ``\\u0000``, which is looked
    for too; False (then the record is walked field by field for the exact
    answer and the field's name) also when a user typed that escape.
    """
    texts = [v for v in row if isinstance(v, str)]
    return _UNSTORABLE_CHAR.search("".join(texts)) is None


def _dt_text(value: datetime | None) -> str | None:
    return None if value is None else _DUMP_DT(value)


def _dt(value: str | None) -> datetime | None:
    if value is None:
        return None
    if "[" not in value:
        return datetime.fromisoformat(value)
    return structure(value, datetime)


def _at(value: str) -> datetime:
    if "[" not in value:
        return datetime.fromisoformat(value)
    return structure(value, datetime)


_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _json(value: Any) -> str:
    # One shared encoder: json.dumps with options builds a new one on every call.
    return _ENCODE(value)


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


MAX_BUSY_TIMEOUT = 3600.0
"""The longest ``busy_timeout`` accepted, in seconds (an hour)."""


def _check_busy_timeout(value: Any) -> float:
    """``value`` as seconds to wait for SQLite's lock, or InvalidInput."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput("busy_timeout", "must be a number of seconds", value)
    if not math.isfinite(value) or not 0 <= value <= MAX_BUSY_TIMEOUT:
        raise InvalidInput(
            "busy_timeout",
            f"must be between 0 and {MAX_BUSY_TIMEOUT:g} seconds",
            value if not isinstance(value, int) or value.bit_length() < 64 else None,
        )
    return float(value)


def _sqlite_events(engine: Engine, busy_timeout: float, synchronous: str, memory: bool) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite: the "begin" event issues BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if not memory:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
            cursor.execute(f"PRAGMA synchronous={synchronous}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        if conn.info.get("crm_read_only"):
            conn.exec_driver_sql("BEGIN")  # deferred: takes no write lock
            return
        begin = "BEGIN EXCLUSIVE" if conn.info.get("crm_exclusive") else "BEGIN IMMEDIATE"
        raw: Any = conn.connection.dbapi_connection
        raw.execute("PRAGMA busy_timeout=0")
        try:
            if not _wait_for_write_lock(raw, busy_timeout, begin):
                conn.exec_driver_sql(begin)  # the last try; its error says why
        finally:
            raw.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")


def _postgres_events(engine: Engine) -> None:
    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        if conn.info.get("crm_read_only"):
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")


def _wait_for_write_lock(raw: Any, timeout: float, begin: str = "BEGIN IMMEDIATE") -> bool:
    """``BEGIN IMMEDIATE`` on a raw SQLite connection, retried for up to ``timeout`` seconds.

    SQLite's own busy handler sleeps longer and longer (up to 100 ms at a
    time) while it waits, so with several writers a waiting one keeps missing
    the moments the lock is free: it starves and fails after the whole busy
    timeout although each transaction takes milliseconds. Short naps with
    jitter let every writer get its turn. Returns False when the time is up
    (or on any other error, which the caller's last try then reports).
    """
    deadline = time.monotonic() + timeout
    nap = 0.0002
    while True:
        try:
            raw.execute(begin)
            return True
        except sqlite3.OperationalError as exc:
            text = str(exc).lower()
            if "locked" not in text and "busy" not in text:
                return False
        if time.monotonic() >= deadline:
            return False
        time.sleep(nap * (0.5 + random.random()))
        nap = min(nap * 2, 0.002)


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


class SqlUnitOfWork:
    """One database transaction over every repository.

    Implements :class:`~crm_procedures.ports.UnitOfWork`.
    """

    def __init__(self, store: SqlStore, *, read_only: bool = False) -> None:
        self._store = store
        self._placeholder = store._placeholder
        self.dialect = store.dialect
        self._locked = False
        if store._single:
            store._turn.acquire()
            self._locked = True
        try:
            self._conn: Connection = store.engine.connect()
        except BaseException:
            self._release()
            raise
        self._conn.info["crm_read_only"] = read_only
        self.read_only = read_only
        self._statement: Any = None
        self._raw: Any = None  # the driver connection once a transaction is begun
        # prospect id -> (version, stored history length) as last read or written here
        self._loaded: dict[str, tuple[int, int]] = {}
        # prospect id -> its project as last read or written here (history rows name it)
        self._project_of: dict[str, str] = {}
        self._last: tuple[str, str, int | None] = ("transaction", "", None)
        self._closed = False
        self.relations: RelationRepository = _RelationRepo(self, "relation", Relation, s.relations)
        self.contacts: ContactRepository = _ContactRepo(self, "contact", Contact, s.contacts)
        self.projects: ProjectRepository = _ProjectRepo(self, "project", Project, s.projects)
        self.prospects: ProspectRepository = _ProspectRepo(self)
        self.activities: ActivityRepository = _ActivityRepo(
            self, "activity", Activity, s.activities
        )
        self.appointments: AppointmentRepository = _AppointmentRepo(
            self, "appointment", Appointment, s.appointments
        )
        self.visit_reports: VisitReportRepository = _VisitReportRepo(
            self, "visit_report", VisitReport, s.visit_reports
        )
        self.documents: DocumentRepository = _DocumentRepo(self, "document", Document, s.documents)
        self.users: UserRepository = _UserRepo(self, "user", User, s.users)
        self.groups: GroupRepository = _GroupRepo(self, "group", Group, s.groups)
        self.definitions: DefinitionRepository = _Definitions(self)
        self.outbox: Outbox = _Outbox(self)
        self.audit: AuditLog = _Audit(self)

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

    def _release(self) -> None:
        if self._locked:
            self._locked = False
            self._store._turn.release()

    # -- transaction control --

    def commit(self) -> None:
        """Commit the transaction. Raises ConcurrencyConflict or StoreBusy (nothing committed)."""
        self._statement = "commit"
        self._raw = None
        try:
            with self._errors():
                self._conn.commit()
        finally:
            self._loaded.clear()
            self._project_of.clear()

    def rollback(self) -> None:
        """Roll the transaction back."""
        self._loaded.clear()
        self._project_of.clear()
        self._raw = None
        if self._conn.in_transaction():
            self._conn.rollback()

    def close(self) -> None:
        """Roll back what is not committed and return the connection."""
        if self._closed:
            return
        self._closed = True
        try:
            self.rollback()
        finally:
            self._conn.info.pop("crm_read_only", None)
            self._conn.close()
            self._release()

    def __enter__(self) -> UnitOfWork:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- statement helpers --

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn driver errors into named ones.

        Serialization failures and deadlocks become ConcurrencyConflict, a
        lock not had in time StoreBusy, a write in a read-only transaction
        ReadOnlyUnitOfWork, and text the database cannot hold (a lone
        surrogate on SQLite, NUL on PostgreSQL) InvalidInput: the stores
        check records before writing, so this is the net under that check.
        """
        try:
            yield
        except DBAPIError as exc:
            named = self._named(exc)
            if named is not None:
                raise named from None
            raise
        except UnicodeEncodeError:
            raise InvalidInput(None, UNSTORABLE_REASON) from None

    def _named(self, exc: DBAPIError) -> CrmError | None:
        orig = exc.orig
        state = getattr(orig, "sqlstate", None)
        kind, rid, expected = self._last
        if state in _CONFLICT_STATES:
            return ConcurrencyConflict(kind, rid, expected, None)
        if state in _BUSY_STATES:
            return StoreBusy(self._doing())
        if state == _READ_ONLY_STATE:
            return ReadOnlyUnitOfWork(self._doing())
        if isinstance(exc, OperationalError) and self.dialect == "sqlite":
            message = str(orig).lower()
            if "locked" in message or "busy" in message:
                return StoreBusy(self._doing())
        if isinstance(orig, UnicodeEncodeError) or "NUL (0x00)" in str(orig):
            return InvalidInput(None, UNSTORABLE_REASON)
        return None

    def _doing(self) -> str:
        """What the statement being run does, in words (for StoreBusy)."""
        kind, rid, _ = self._last
        if self._statement is None and rid:
            return f"write {kind} {rid}"
        return _describe(self._statement, self.read_only)

    def refuse_writes(self, operation: str) -> None:
        """Raise ReadOnlyUnitOfWork naming ``operation`` when this unit of work is read-only."""
        if self.read_only:
            raise ReadOnlyUnitOfWork(operation)

    def execute(self, statement: Any, params: Any = None) -> Any:
        """Execute a Core statement, mapping driver errors to named ones."""
        if self.read_only and getattr(statement, "is_dml", False):
            self.refuse_writes(_describe(statement, False))
        self._statement = statement
        with self._errors():
            return self._conn.execute(statement, params)

    def driver(self, sql: str, params: Any = ()) -> Any:
        """Execute DBAPI SQL (``executemany`` for a list of tuples), mapping driver errors."""
        if self.read_only and not sql.lstrip().upper().startswith("SELECT"):
            self.refuse_writes(_describe(sql, False))
        self._statement = sql
        with self._errors():
            return self._conn.exec_driver_sql(sql, params)

    def _driver_connection(self) -> Any:
        """The driver connection, inside this unit of work's transaction (begun if need be)."""
        if not self._conn.in_transaction():
            self._statement = None
            with self._errors():
                self._conn.begin()
        self._raw = self._conn.connection.dbapi_connection
        return self._raw

    def fast(self, sql: str, params: Any = ()) -> Any:
        """Run driver SQL on the driver's own cursor; returns the cursor.

        The hot paths (a step: loads, one update, a few inserts) spend more
        in SQLAlchemy's execution context than in the database; their
        statements are fixed text, so they skip it. Driver errors are mapped
        exactly as for :meth:`execute` (and arrive as SQLAlchemy's
        ``DBAPIError`` subclasses, e.g. ``IntegrityError``, where not named).
        """
        if self.read_only and not sql.startswith("SELECT"):
            self.refuse_writes(_describe(sql, False))
        raw = self._raw
        if raw is None:
            raw = self._driver_connection()
        self._statement = sql
        cursor = raw.cursor()
        try:
            cursor.execute(sql, params)
        except self._store._dbapi_error as exc:
            wrapped = DBAPIError.instance(sql, params, exc, self._store._dbapi_error)
            with self._errors():
                raise wrapped from None
        except UnicodeEncodeError:
            raise InvalidInput(None, UNSTORABLE_REASON) from None
        return cursor

    def prepared(self, key: Any, build: Callable[[], Any], **values: Any) -> Any:
        """Run a Core statement compiled once per ``key`` to driver SQL; returns the cursor.

        ``build()`` makes the statement the first time; its bound values are
        kept, and ``values`` replace those of named ``bindparam`` s.
        """
        store = self._store
        found = store._prepared.get(key)
        if found is None:
            compiled = build().compile(
                dialect=store.engine.dialect, compile_kwargs={"render_postcompile": True}
            )
            order = tuple(compiled.positiontup) if compiled.positional else None
            found = (compiled.string, order, dict(compiled.params))
            remember(store._prepared, key, found, _PREPARED_MAX)
        sql, order, fixed = found
        params = {**fixed, **values} if values else fixed
        return self.fast(sql, params if order is None else tuple([params[n] for n in order]))

    @contextmanager
    def atomic(self, statements: int) -> Iterator[None]:
        """Make ``statements`` writes all-or-nothing, keeping the transaction usable on failure.

        SQLite undoes a failed statement by itself and the transaction goes
        on, so one statement needs nothing; otherwise (and always on
        PostgreSQL, where a failed statement aborts the transaction) a
        savepoint, set in driver SQL.
        """
        if statements <= 1 and self.dialect == "sqlite":
            yield
            return
        self.fast("SAVEPOINT crm_write")
        try:
            yield
        except BaseException:
            self.fast("ROLLBACK TO SAVEPOINT crm_write")
            self.fast("RELEASE SAVEPOINT crm_write")
            raise
        self.fast("RELEASE SAVEPOINT crm_write")

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A savepoint: a failed write is undone and the transaction stays usable."""
        self._statement = None  # a busy store names the write (``_last``)
        with self._errors():
            nested = self._conn.begin_nested()
        try:
            yield
        except BaseException:
            if nested.is_active:
                with self._errors():
                    nested.rollback()
            raise
        with self._errors():
            nested.commit()

    def fast_many(self, sql: str, rows: Sequence[Any]) -> Any:
        """Run driver SQL once for each of ``rows`` (``executemany``); returns the cursor.

        The bulk paths' one statement per batch; errors are mapped as in :meth:`fast`.
        """
        if self.read_only:
            self.refuse_writes(_describe(sql, False))
        raw = self._raw
        if raw is None:
            raw = self._driver_connection()
        self._statement = sql
        cursor = raw.cursor()
        try:
            cursor.executemany(sql, rows)
        except self._store._dbapi_error as exc:
            wrapped = DBAPIError.instance(sql, rows[:1], exc, self._store._dbapi_error)
            with self._errors():
                raise wrapped from None
        except UnicodeEncodeError:
            raise InvalidInput(None, UNSTORABLE_REASON) from None
        return cursor


def _describe(statement: Any, read_only: bool) -> str:
    """A statement in a few words: ``insert into relations``, ``read prospects``."""
    if statement is None:
        return "start a transaction"
    if isinstance(statement, str):
        words = statement.split()
        if words[:2] == ["INSERT", "INTO"] and len(words) > 2:
            return f"insert into {words[2].strip(chr(34))}"
        return " ".join(words[:3]).lower()
    table_ = getattr(statement, "table", None)
    verb = getattr(statement, "__visit_name__", "statement")
    if table_ is not None and getattr(statement, "is_dml", False):
        return f"{verb} {'into' if verb == 'insert' else 'of'} {table_.name}"
    names = sorted(
        {str(getattr(f, "name", "")) for f in getattr(statement, "get_final_froms", list)()} - {""}
    )
    what = f"read {', '.join(names)}" if names else "read"
    return what if read_only else f"{what} (waiting for the write lock)"


# -- visibility, in SQL --


def _invisible_projects(viewer: Viewer | None) -> Select[Any] | None:
    """The ids of the projects the viewer may not see (None: sees all).

    Restricted projects the viewer is not linked to (unless ``project.read_all``),
    projects that deny the viewer or one of its groups, and for a
    ``project.members_only`` viewer every project it is neither linked to nor a
    member of. See :func:`~crm_procedures.access.viewer.may_see_project`.
    """
    if viewer is None or viewer.has("admin"):
        return None
    links = s.project_links.c
    groups = sorted(viewer.groups)
    denied = select(links.project_id).where(
        or_(
            and_(links.principal_kind == "deny_user", links.principal_id == viewer.user_id),
            and_(links.principal_kind == "deny_group", links.principal_id.in_(groups)),
        )
    )
    mine = ["user", "member"] if viewer.members_only else ["user"]
    linked = select(links.project_id).where(
        or_(
            and_(links.principal_kind.in_(mine), links.principal_id == viewer.user_id),
            and_(links.principal_kind == "group", links.principal_id.in_(groups)),
        )
    )
    p = s.projects.c
    if viewer.members_only:
        return select(p.id).where(or_(p.id.not_in(linked), p.id.in_(denied)))
    if viewer.all_projects:
        return denied
    return select(p.id).where(
        or_(and_(p.restricted == true(), p.id.not_in(linked)), p.id.in_(denied))
    )


def _project_visible(viewer: Viewer | None) -> list[ColumnElement[bool]]:
    hidden = _invisible_projects(viewer)
    return [] if hidden is None else [s.projects.c.id.not_in(hidden)]


def _prospect_visible(viewer: Viewer | None) -> list[ColumnElement[bool]]:
    if viewer is None:
        return []
    out: list[ColumnElement[bool]] = []
    if not viewer.sees_preparing:
        out.append(s.prospects.c.status != ProspectStatus.PREPARING.value)
    hidden = _invisible_projects(viewer)
    if hidden is not None:
        out.append(s.prospects.c.project_id.not_in(hidden))
    return out


def _activity_visible(viewer: Viewer | None) -> list[ColumnElement[bool]]:
    if viewer is None:
        return []
    c = s.activities.c
    out: list[ColumnElement[bool]] = []
    scope = viewer.activity_scope
    if scope is ActivityScope.OWN:
        out.append(c.employee == viewer.user_id)
    elif scope is ActivityScope.GROUP:
        out.append(c.employee.in_(sorted(viewer.group_members | {viewer.user_id})))
    hidden = _invisible_projects(viewer)
    if hidden is not None:
        out.append(or_(c.project_id.is_(None), c.project_id.not_in(hidden)))
    return out


# -- repositories --


class _Repo(Generic[R]):
    """Kinds stored as explicit columns plus the record as JSON (``data``)."""

    def __init__(self, uow: SqlUnitOfWork, kind: str, cls: type[R], table: Table) -> None:
        if not isinstance(uow, SqlUnitOfWork):
            raise InvalidInput("uow", "must be a unit of work of the SQL store", type(uow).__name__)
        self._uow = uow
        self._kind = kind
        self._cls = cls
        self._table = table
        self._memo: dict[str, Any] | None = uow._store._records.get(kind)
        ph = uow._placeholder
        self._by_id = f'SELECT data FROM "{table.name}" WHERE id = {ph}'

    # what a subclass says about its kind

    def _columns(self, record: R) -> tuple[Any, ...]:
        """The explicit column values between ``id`` and ``version``."""
        return ()

    def _visibility(self, viewer: Viewer | None) -> list[ColumnElement[bool]]:
        return []

    _side_tables = False
    """True when :meth:`_after_write` writes further rows (the write needs a savepoint)."""

    def _after_write(self, records: Sequence[R], new: bool) -> None:
        """Maintain side tables (project links)."""

    # shared machinery

    def _row(self, record: R) -> tuple[Any, ...]:
        return (
            record.id,  # type: ignore[attr-defined]
            *self._columns(record),
            record.version,  # type: ignore[attr-defined]
            _json(unstructure(record)),
        )

    def _load(self, data: str) -> R:
        memo = self._memo
        if memo is None:
            return structure(json.loads(data), self._cls)
        found: R | None = memo.get(data)
        if found is None:
            found = structure(json.loads(data), self._cls)
            remember(memo, data, found, _RECORDS_MAX)
        return self._handed_out(found)

    def _handed_out(self, record: R) -> R:
        """What a caller receives of a remembered record (users and groups: itself)."""
        return record

    def _select_data(self) -> Select[Any]:
        return select(self._table.c.data)

    def _many(self, statement: Select[Any]) -> list[R]:
        return [self._load(row[0]) for row in self._uow.execute(statement)]

    def _check_type(self, record: R, operation: str) -> None:
        """Refuse a write in a read-only unit of work, or of another type.

        Whether every text can be stored is checked on the row itself
        (:meth:`_stored_row`): it holds every text of the record.
        """
        self._uow.refuse_writes(f"{self._kind}.{operation}")
        if not isinstance(record, self._cls):
            raise InvalidInput(self._kind, f"must be a {self._cls.__name__}", type(record).__name__)

    def _stored_row(self, record: R) -> tuple[Any, ...]:
        """The row of ``record``; raises InvalidInput (naming the field) for text no store holds."""
        row = self._row(record)
        if not _surely_storable(row):
            check_storable(record, self._kind)
        return row

    def get(self, record_id: str, viewer: Viewer | None = None) -> R:
        """The record with that id. Raises NotFound (missing, or invisible to viewer)."""
        if some_unstorable(record_id):
            raise NotFound(self._kind, str(record_id))
        if viewer is None:
            row = self._uow.fast(self._by_id, (record_id,)).fetchone()
        else:
            t = self._table

            def build() -> Select[Any]:
                visible = self._visibility(viewer)
                return self._select_data().where(t.c.id == bindparam("rid", ""), *visible)

            row = self._uow.prepared((self._kind, "get", viewer), build, rid=record_id).fetchone()
        if row is None:
            raise NotFound(self._kind, str(record_id))
        return self._load(row[0])

    def find(self, record_id: str) -> R | None:
        """The record with that id, or ``None`` (no visibility check)."""
        if not isinstance(cast(object, record_id), str) or some_unstorable(record_id):
            return None
        row = self._uow.fast(self._by_id, (record_id,)).fetchone()
        return None if row is None else self._load(row[0])

    def _stored_version(self, record_id: str) -> int | None:
        t = self._table
        row = self._uow.execute(select(t.c.version).where(t.c.id == record_id)).first()
        return None if row is None else int(row[0])

    def _insert_failed(self, records: Sequence[R], exc: IntegrityError) -> CrmError:
        ids = [r.id for r in records]  # type: ignore[attr-defined]
        seen: set[str] = set()
        for rid in ids:
            if rid in seen:
                return ConcurrencyConflict(self._kind, rid, 0, 1)
            seen.add(rid)
        t = self._table
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            row = self._uow.execute(
                select(t.c.id, t.c.version).where(t.c.id.in_(chunk)).limit(1)
            ).first()
            if row is not None:
                return ConcurrencyConflict(self._kind, row[0], 0, int(row[1]))
        return InvalidInput(self._kind, f"breaks a database constraint: {exc.orig}")

    def add(self, record: R) -> R:
        """Insert a new record as version 1. Raises ConcurrencyConflict when the id exists."""
        self._check_type(record, "add")
        stored = with_version(record, 1)
        self._insert([stored])
        return stored

    def add_many(self, records: Sequence[R]) -> None:
        """Insert many new records in one statement batch (all or none).

        Raises ConcurrencyConflict when an id exists already (or repeats).
        """
        stored = []
        for record in records:
            self._check_type(record, "add_many")
            stored.append(with_version(record, 1))
        if stored:
            self._insert(stored)

    def _insert(self, stored: Sequence[R]) -> None:
        first = stored[0]
        self._uow._last = (self._kind, first.id, 0)  # type: ignore[attr-defined]
        rows = [self._stored_row(r) for r in stored]
        sql = self._uow._store.insert_sql(self._table)
        try:
            if len(rows) == 1 and not self._side_tables:
                with self._uow.atomic(1):
                    self._uow.fast(sql, rows[0])
                return
            with self._uow.savepoint():
                if len(rows) == 1:
                    self._uow.driver(sql, rows[0])
                else:
                    self._uow.driver(sql, rows)
                self._after_write(stored, True)
        except IntegrityError as exc:
            raise self._insert_failed(stored, exc) from None

    def save(self, record: R) -> R:
        """Store a changed record as version + 1.

        Raises:
            NotFound: no such record.
            ConcurrencyConflict: someone else saved it since it was loaded.
        """
        self._check_type(record, "save")
        rid: str = record.id  # type: ignore[attr-defined]
        version: int = record.version  # type: ignore[attr-defined]
        self._uow._last = (self._kind, rid, version)
        stored = with_version(record, version + 1)
        row = self._stored_row(stored)
        with self._uow.atomic(2 if self._side_tables else 1):
            result = self._uow.fast(self._update_sql(len(row)), (*row[1:], rid, version))
            if result.rowcount != 1:
                actual = self._stored_version(rid)
                if actual is None:
                    raise NotFound(self._kind, rid)
                raise ConcurrencyConflict(self._kind, rid, version, actual)
            self._after_write([stored], False)
        return stored

    def _update_sql(self, width: int) -> str:
        """``UPDATE`` of the first ``width`` columns but ``id``, at one version (driver SQL)."""
        store = self._uow._store
        key = f"update:{self._table.name}:{width}"
        sql = store._inserts.get(key)
        if sql is None:
            ph = store._placeholder
            names = [c.name for c in self._table.columns][1:width]
            sets = ", ".join(f'"{name}" = {ph}' for name in names)
            sql = f'UPDATE "{self._table.name}" SET {sets} WHERE id = {ph} AND version = {ph}'
            store._inserts[key] = sql
        return sql

    def count(self, viewer: Viewer | None = None) -> int:
        """How many records the viewer may see (all with ``None``)."""
        statement = select(func.count()).select_from(self._table)
        if viewer is not None:
            statement = statement.where(*self._visibility(viewer))
        return int(self._uow.execute(statement).scalar_one())


def _paged(statement: Select[Any], limit: int | None, offset: int) -> Select[Any]:
    check_limit(limit, offset)
    if limit is not None:
        statement = statement.limit(db_count(limit))
    if offset:
        statement = statement.offset(db_count(offset))
    return statement


_MAX_NAME: Final = 10_000
"""Longer than any relation name a store holds: a longer search text finds nothing."""


class _RelationRepo(_Repo[Relation]):
    def _columns(self, record: Relation) -> tuple[Any, ...]:
        return (record.name, record.name.casefold(), record.account_manager)

    def _visibility(self, viewer: Viewer | None) -> list[ColumnElement[bool]]:
        if viewer is None or viewer.sees_relations:
            return []
        return [self._table.c.account_manager == viewer.user_id]

    def by_account_manager(self, user_id: str) -> list[Relation]:
        """Relations of one account manager, by name."""
        if some_unstorable(user_id):
            return []
        c = self._table.c
        return self._many(
            self._select_data().where(c.account_manager == user_id).order_by(c.name, c.id)
        )

    def search(
        self,
        name_contains: str,
        limit: int | None = 50,
        offset: int = 0,
        viewer: Viewer | None = None,
    ) -> list[Relation]:
        """Relations whose name contains the text (case-insensitive), by name, one page."""
        if not isinstance(name_contains, str):
            raise InvalidInput("name_contains", "must be text", name_contains)
        check_limit(limit, offset)
        if some_unstorable(name_contains) or len(name_contains) > _MAX_NAME:
            # Text no name can hold (or longer than any name) matches nothing, as on
            # every store; SQLite would refuse a LIKE pattern that long.
            return []
        c = self._table.c
        needle = name_contains.casefold()
        escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        statement = (
            self._select_data()
            .where(c.name_folded.like(f"%{escaped}%", escape="\\"), *self._visibility(viewer))
            .order_by(c.name, c.id)
        )
        return self._many(_paged(statement, limit, offset))

    def by_phone(self, phone: str, viewer: Viewer | None = None) -> list[Relation]:
        """Relations whose stored (normalised) phone equals ``phone``, by id.

        The phone lives in the record's JSON; an expression index on it
        (schema migration 7) keeps the lookup fast.
        """
        if not isinstance(phone, str):
            raise InvalidInput("phone", "must be text", phone)
        if some_unstorable(phone) or not phone:
            return []
        c = self._table.c
        # Written exactly as the index of migration 7 is, so that the index applies.
        stored: ColumnElement[Any] = literal_column(
            s.RELATION_PHONE_SQL.get(self._uow.dialect, s.RELATION_PHONE_SQL["sqlite"])
        )
        statement = (
            self._select_data().where(stored == phone, *self._visibility(viewer)).order_by(c.id)
        )
        return self._many(statement)


class _ContactRepo(_Repo[Contact]):
    def _columns(self, record: Contact) -> tuple[Any, ...]:
        return (record.relation_id, record.last_name, record.phone)

    def of_relation(self, relation_id: str) -> list[Contact]:
        """Contacts of one relation, by last name."""
        if some_unstorable(relation_id):
            return []
        c = self._table.c
        return self._many(
            self._select_data().where(c.relation_id == relation_id).order_by(c.last_name, c.id)
        )

    def by_phone(self, phone: str) -> list[Contact]:
        """Contacts whose stored phone equals ``phone``, by id."""
        if some_unstorable(phone):
            return []
        c = self._table.c
        return self._many(self._select_data().where(c.phone == phone).order_by(c.id))


class _ProjectRepo(_Repo[Project]):
    _side_tables = True

    def _handed_out(self, record: Project) -> Project:
        # Frozen, but ``members`` is a dict: each caller gets its own.
        copy = with_version(record, record.version)
        object.__setattr__(copy, "members", dict(record.members))
        return copy

    def _columns(self, record: Project) -> tuple[Any, ...]:
        return (record.relation_id, record.name, record.restricted)

    def _visibility(self, viewer: Viewer | None) -> list[ColumnElement[bool]]:
        return _project_visible(viewer)

    def _after_write(self, records: Sequence[Project], new: bool) -> None:
        links = s.project_links
        if not new:
            ids = [p.id for p in records]
            self._uow.execute(links.delete().where(links.c.project_id.in_(ids)))
        rows = [(p.id, "user", u) for p in records for u in sorted(p.linked_users)]
        rows += [(p.id, "group", g) for p in records for g in sorted(p.linked_groups)]
        rows += [(p.id, "deny_user", u) for p in records for u in sorted(p.denied_users)]
        rows += [(p.id, "deny_group", g) for p in records for g in sorted(p.denied_groups)]
        rows += [
            (p.id, "member", u)
            for p in records
            for u in sorted({u for users in p.members.values() for u in users})
        ]
        if rows:
            self._uow.driver(self._uow._store.insert_sql(links), rows)

    def of_relation(self, relation_id: str, viewer: Viewer | None = None) -> list[Project]:
        """Projects under one relation that the viewer may see, by name."""
        if some_unstorable(relation_id):
            return []
        c = self._table.c
        statement = self._select_data().where(
            c.relation_id == relation_id, *_project_visible(viewer)
        )
        return self._many(statement.order_by(c.name, c.id))

    def visible(self, viewer: Viewer | None = None) -> list[Project]:
        """Every project the viewer may see, by name."""
        c = self._table.c
        return self._many(
            self._select_data().where(*_project_visible(viewer)).order_by(c.name, c.id)
        )


_P = s.prospects.c
_PROSPECT_COLUMNS: Final = [
    c for c in s.prospects.columns if c.name not in ("next_action_key", "next_due_key")
]
_H = s.prospect_history.c
_HISTORY_OF_ONE: Final = (
    "SELECT prospect_id, seq, kind, at, actor, role, step, supersedes, detail, note "
    "FROM prospect_history WHERE prospect_id = ? ORDER BY seq"
)
_HISTORY_OF_MANY: Final = (
    "SELECT prospect_id, seq, kind, at, actor, role, step, supersedes, detail, note "
    "FROM prospect_history WHERE prospect_id IN ({}) ORDER BY prospect_id, seq"
)
_PREPARED_MAX: Final = 1024
_RECORDS_MAX: Final = 4096


def _check_worker(worker: object) -> None:
    if not isinstance(worker, str) or not worker or some_unstorable(worker):
        raise InvalidInput("worker", "must be a non-empty one-line name", worker)


def _prospect_row(p: Prospect) -> tuple[Any, ...]:
    try:
        status = _STATUS[p.status]
        stage = _STAGE[p.stage]
    except KeyError as exc:
        raise InvalidInput("status", f"{exc.args[0]!r} is not a prospect status or stage") from None
    nxt = p.next_action_at
    return (
        p.id,
        p.project_id,
        p.relation_id,
        p.contact_id,
        status.value,
        p.close_reason,
        stage.value,
        None if p.became_prospect_at is None else _DUMP_DT(p.became_prospect_at),
        p.became_prospect_by,
        p.last_step,
        sort_key(nxt),
        None if nxt is None else _DUMP_DT(nxt),
        p.owner,
        p.version,
        len(p.history),
        *_due_columns(p),
    )


def _due_columns(p: Prospect) -> tuple[Any, ...]:
    due = p.next_due_at
    paused = p.paused_until
    return (
        None if due is None else utc_us(due),
        None if due is None else _DUMP_DT(due),
        p.due_step,
        p.due_role,
        bool(p.due_automatic),
        None if paused is None else _DUMP_DT(paused),
        p.sequence_exit,
        None if p.paused_at is None else _DUMP_DT(p.paused_at),
    )


def _history_rows(p: Prospect, start: int) -> list[tuple[Any, ...]]:
    out = []
    history = p.history
    superseded = {
        e.supersedes for e in history if e.kind == _CORRECTION and type(e.supersedes) is int
    }
    project_id = p.project_id
    for e in history[start:]:
        try:
            kind = _ENTRY[e.kind].value
        except KeyError:
            raise InvalidInput("history.kind", f"{e.kind!r} is not an entry kind") from None
        out.append(
            (
                p.id,
                e.seq,
                kind,
                _DUMP_DT(e.at),
                e.actor,
                e.role,
                e.step,
                e.supersedes,
                e.detail,
                e.note,
                project_id,
                1 if e.seq in superseded else 0,
                utc_us(e.at),
            )
        )
    return out


_CORRECTION: Final = EntryKind.CORRECTION


def _newly_superseded(p: Prospect, stored: int) -> list[tuple[str, int]]:
    """``(prospect id, seq)`` of stored entries that new corrections supersede."""
    history = p.history
    last = history[stored - 1].seq if stored else 0
    return [
        (p.id, e.supersedes)
        for e in history[stored:]
        if e.kind == _CORRECTION and type(e.supersedes) is int and e.supersedes <= last
    ]


class _ProspectRepo(_due.DuePageMixin):
    """Prospects: one row each plus ``prospect_history`` rows, no JSON."""

    _kind = "prospect"

    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow

    # reading

    def _fetch(self, statement: Select[Any], params: Any = None) -> list[Prospect]:
        return self._build(self._uow.execute(statement, params).all())

    def _build(self, rows: Sequence[Any]) -> list[Prospect]:
        histories: dict[str, list[HistoryEntry]] = {}
        wanted = [r[0] for r in rows if r[13]]
        if len(wanted) == 1:
            histories[wanted[0]] = [
                HistoryEntry(h[1], _ENTRY[h[2]], _at(h[3]), h[4], h[5], h[6], h[7], h[8], h[9])
                for h in self._uow.fast(self._history_sql(), (wanted[0],)).fetchall()
            ]
        elif wanted:
            ph = self._uow._placeholder
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                found = self._uow.fast(
                    _HISTORY_OF_MANY.format(", ".join([ph] * len(chunk))), chunk
                ).fetchall()
                for h in found:
                    histories.setdefault(h[0], []).append(
                        HistoryEntry(
                            h[1],
                            _ENTRY[h[2]],
                            _at(h[3]),
                            h[4],
                            h[5],
                            h[6],
                            h[7],
                            h[8],
                            h[9],
                        )
                    )
        out = []
        loaded = self._uow._loaded
        project_of = self._uow._project_of
        for r in rows:
            out.append(
                Prospect(
                    r[0],
                    r[1],
                    r[2],
                    r[3],
                    _STATUS[r[4]],
                    r[5],
                    _STAGE[r[6]],
                    _dt(r[7]),
                    r[8],
                    r[9],
                    histories.get(r[0], []),
                    _dt(r[10]),
                    r[11],
                    r[12],
                    _dt(r[14]),
                    r[15],
                    r[16],
                    bool(r[17]),
                    _dt(r[18]),
                    r[19],
                    _dt(r[20]),
                )
            )
            loaded[r[0]] = (r[12], r[13])
            project_of[r[0]] = r[1]
        return out

    def _select(self) -> Select[Any]:
        return select(*_PROSPECT_COLUMNS)

    def _history_sql(self) -> str:
        return _HISTORY_OF_ONE.replace("?", self._uow._placeholder)

    def _by_id(self, record_id: str, viewer: Viewer | None) -> list[Prospect]:
        def build() -> Select[Any]:
            return self._select().where(_P.id == bindparam("rid", ""), *_prospect_visible(viewer))

        cursor = self._uow.prepared(("prospect", "get", viewer), build, rid=record_id)
        return self._build(cursor.fetchall())

    def get(self, record_id: str, viewer: Viewer | None = None) -> Prospect:
        """The prospect with that id. Raises NotFound (missing, or invisible to viewer)."""
        if some_unstorable(record_id):
            raise NotFound(self._kind, str(record_id))
        found = self._by_id(record_id, viewer)
        if not found:
            raise NotFound(self._kind, str(record_id))
        return found[0]

    def find(self, record_id: str) -> Prospect | None:
        """The prospect with that id, or ``None`` (no visibility check)."""
        if not isinstance(cast(object, record_id), str) or some_unstorable(record_id):
            return None
        found = self._by_id(record_id, None)
        return found[0] if found else None

    # writing

    def _require_projects(self, project_ids: Iterable[str]) -> None:
        wanted = sorted(set(project_ids))
        pc = s.projects.c
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            have = set(self._uow.execute(select(pc.id).where(pc.id.in_(chunk))).scalars())
            for pid in chunk:
                if pid not in have:
                    raise InvalidInput("project_id", "refers to no stored project", pid)

    def add(self, record: Prospect) -> Prospect:
        """Insert a new prospect as version 1 (``record.version`` is set too)."""
        self.add_many([record])
        record.version = 1
        stored = record.copy()
        return stored

    def add_many(self, records: Sequence[Prospect]) -> None:
        """Insert many new prospects (all or none); the bulk-import path.

        Raises ConcurrencyConflict when an id exists already (or repeats),
        InvalidInput for an invalid prospect or an unknown project.
        """
        self._uow.refuse_writes("prospect.add_many")
        for p in records:
            check_prospect(p, 0)
        if not records:
            return
        self._require_projects(p.project_id for p in records)
        rows = []
        history: list[tuple[Any, ...]] = []
        for p in records:
            row = _prospect_row(p)
            rows.append((*row[:13], 1, *row[14:]))
            if p.history:
                history.extend(_history_rows(p, 0))
        self._uow._last = (self._kind, records[0].id, 0)
        store = self._uow._store
        try:
            with self._uow.savepoint():
                if len(rows) == 1:
                    self._uow.driver(store.insert_sql(s.prospects), rows[0])
                else:
                    self._uow.driver(store.insert_sql(s.prospects), rows)
                if history:
                    self._uow.driver(store.insert_sql(s.prospect_history), history)
        except IntegrityError as exc:
            raise self._insert_failed(records, exc) from None
        for p in records:
            self._uow._loaded[p.id] = (1, len(p.history))
            self._uow._project_of[p.id] = p.project_id

    def _insert_failed(self, records: Sequence[Prospect], exc: IntegrityError) -> CrmError:
        seen: set[str] = set()
        for p in records:
            if p.id in seen:
                return ConcurrencyConflict(self._kind, p.id, 0, 1)
            seen.add(p.id)
        ids = [p.id for p in records]
        for start in range(0, len(ids), 500):
            row = self._uow.execute(
                select(_P.id, _P.version).where(_P.id.in_(ids[start : start + 500])).limit(1)
            ).first()
            if row is not None:
                return ConcurrencyConflict(self._kind, row[0], 0, int(row[1]))
        return InvalidInput("prospect", f"breaks a database constraint: {exc.orig}")

    def save(self, record: Prospect) -> Prospect:
        """Store a changed prospect as version + 1 (``record.version`` is set too).

        Only history entries beyond the stored ones are written: history is
        append-only.

        Raises:
            NotFound: no such prospect.
            ConcurrencyConflict: someone else saved it since it was loaded.
            InvalidInput: a shortened history, a naive datetime, an unknown project.
        """
        self._uow.refuse_writes("prospect.save")
        if not isinstance(record, Prospect):
            raise InvalidInput("prospect", "must be a Prospect", type(record).__name__)
        if some_unstorable(record.id):
            raise InvalidInput("id", UNSTORABLE_REASON)
        rid = record.id
        version = record.version
        self._uow._last = (self._kind, rid, version)
        known = self._uow._loaded.get(rid)
        ph = self._uow._placeholder
        if known is None or known[0] != version:
            row = self._uow.fast(
                f"SELECT version, history_count, project_id FROM prospects WHERE id = {ph}",
                (rid,),
            ).fetchone()
            if row is None:
                raise NotFound(self._kind, rid)
            if row[0] != version:
                raise ConcurrencyConflict(self._kind, rid, version, int(row[0]))
            known = (int(row[0]), int(row[1]))
            self._uow._project_of[rid] = row[2]
        check_prospect(record, known[1])
        values = _prospect_row(record)
        new_entries = _history_rows(record, known[1])
        store = self._uow._store
        update = store._inserts.get("update:prospects")
        if update is None:
            sets = ", ".join(f'"{c.name}" = {ph}' for c in s.prospects.columns if c.name != "id")
            update = f"UPDATE prospects SET {sets} WHERE id = {ph} AND version = {ph}"
            store._inserts["update:prospects"] = update
        newly = _newly_superseded(record, known[1]) if new_entries else []
        moved = self._uow._project_of.get(rid) != record.project_id
        with self._uow.atomic(1 + len(new_entries) + len(newly) + moved):
            try:
                result = self._uow.fast(
                    update,
                    (*values[1:13], version + 1, values[14], *values[15:], rid, version),
                )
            except IntegrityError:
                raise InvalidInput(
                    "project_id", "refers to no stored project", record.project_id
                ) from None
            if result.rowcount != 1:
                row = self._uow.fast(
                    f"SELECT version FROM prospects WHERE id = {ph}", (rid,)
                ).fetchone()
                if row is None:
                    raise NotFound(self._kind, rid)
                raise ConcurrencyConflict(self._kind, rid, version, int(row[0]))
            insert = store.insert_sql(s.prospect_history)
            for entry in new_entries:
                self._uow.fast(insert, entry)
            for key in newly:
                self._uow.fast(
                    f"UPDATE prospect_history SET superseded = 1 "
                    f"WHERE prospect_id = {ph} AND seq = {ph}",
                    key,
                )
            if moved:
                self._uow.fast(
                    f"UPDATE prospect_history SET project_id = {ph} "
                    f"WHERE prospect_id = {ph} AND project_id <> {ph}",
                    (record.project_id, rid, record.project_id),
                )
        self._uow._project_of[rid] = record.project_id
        record.version = version + 1
        self._uow._loaded[rid] = (version + 1, len(record.history))
        return record.copy()

    # queries

    def count(self, viewer: Viewer | None = None) -> int:
        """How many prospects the viewer may see."""
        statement = select(func.count()).select_from(s.prospects).where(*_prospect_visible(viewer))
        return int(self._uow.execute(statement).scalar_one())

    def of_project(
        self,
        project_id: str,
        viewer: Viewer | None = None,
        status: ProspectStatus | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Prospect]:
        """Prospects of one project (optionally of one status), by id."""
        if some_unstorable(project_id):
            check_limit(limit, offset)
            return []
        statement = self._select().where(_P.project_id == project_id, *_prospect_visible(viewer))
        if status is not None:
            statement = statement.where(_P.status == ProspectStatus(status).value)
        return self._fetch(_paged(statement.order_by(_P.id), limit, offset))

    def count_by_status(self, project_id: str, viewer: Viewer | None = None) -> dict[str, int]:
        """``{status: count}`` for one project, every status present (0 when none)."""
        if some_unstorable(project_id):
            return {st.value: 0 for st in ProspectStatus}
        statement = (
            select(_P.status, func.count())
            .where(_P.project_id == project_id, *_prospect_visible(viewer))
            .group_by(_P.status)
        )
        counts = {st.value: 0 for st in ProspectStatus}
        for status, n in self._uow.execute(statement):
            counts[status] = int(n)
        return counts

    def worklist(
        self,
        project_id: str,
        last_steps: Collection[str | None],
        viewer: Viewer | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Prospect]:
        """Running prospects whose last step is in ``last_steps``, by next action, id.

        Each last step is one ordered range of the worklist index; the ranges
        are merged by the database (a ``UNION ALL`` of per-step pages), so the
        cost follows the page size, not the project size.
        """
        check_limit(limit, offset)
        steps = list(dict.fromkeys(last_steps))
        if some_unstorable(project_id):
            return []
        steps = [step for step in steps if not some_unstorable(step)]
        if not steps or limit == 0:
            return []
        key = ("worklist", tuple(steps), limit, offset, viewer)

        def build() -> Select[Any]:
            return self._worklist_statement(steps, viewer, limit, offset)

        cursor = self._uow.prepared(key, build, worklist_project=project_id)
        return self._build(cursor.fetchall())

    def due(
        self,
        *,
        project_id: str | None = None,
        role: str | None = None,
        owner: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        automatic: bool | None = None,
        viewer: Viewer | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Prospect]:
        """Running prospects with a step due in ``[since, until)``, by due time, then id."""
        if any(some_unstorable(v) for v in (project_id, role, owner) if v is not None):
            check_limit(limit, offset)
            return []
        return _due.due(
            self,
            project_id=project_id,
            role=role,
            owner=owner,
            since=since,
            until=until,
            automatic=automatic,
            viewer=viewer,
            limit=limit,
            offset=offset,
        )

    def claim_due(self, now: datetime, limit: int, worker: str, lease_seconds: float) -> list[str]:
        """Ids of prospects whose automatic step is due at ``now``, leased to ``worker``."""
        self._uow.refuse_writes("prospect.claim_due")
        _check_worker(worker)
        return _due.claim_due(self._uow, now, limit, worker, lease_seconds)

    def lease(self, prospect_id: str, worker: str, now: datetime, until: datetime) -> bool:
        """Lease one prospect to ``worker`` until ``until``; False when another holds it."""
        self._uow.refuse_writes("prospect.lease")
        _check_worker(worker)
        now_key = utc_us(require_aware(now, "now"))
        return _due.set_lease(
            self._uow, prospect_id, worker, now_key, utc_us(require_aware(until, "until"))
        )

    def lease_of(self, prospect_id: str) -> tuple[str, datetime] | None:
        """Who holds the lease of ``prospect_id`` and until when, or ``None``."""
        found = _due.lease_of(self._uow, prospect_id)
        if found is None:
            return None
        return found[0], EPOCH + timedelta(microseconds=found[1])

    def release_lease(self, prospect_id: str, worker: str) -> None:
        """Drop ``worker``'s lease of ``prospect_id``."""
        self._uow.refuse_writes("prospect.release_lease")
        _due.release_lease(self._uow, prospect_id, worker)

    def _worklist_statement(
        self, steps: list[str | None], viewer: Viewer | None, limit: int, offset: int
    ) -> Select[Any]:
        where = [
            _P.project_id == bindparam("worklist_project", ""),
            _P.status == ProspectStatus.RUNNING.value,
            *_prospect_visible(viewer),
        ]
        order = (_P.next_action_key, _P.id)
        if len(steps) == 1:
            step = steps[0]
            cond = _P.last_step.is_(None) if step is None else _P.last_step == step
            return _paged(self._select().where(*where, cond).order_by(*order), limit, offset)
        parts = []
        for step in steps:
            cond = _P.last_step.is_(None) if step is None else _P.last_step == step
            part = (
                select(*_PROSPECT_COLUMNS, _P.next_action_key)
                .where(*where, cond)
                .order_by(*order)
                .limit(db_count(limit + offset))
                .subquery()
            )
            parts.append(select(part))
        merged = union_all(*parts).subquery()
        columns = [merged.c[c.name] for c in _PROSPECT_COLUMNS]
        statement = select(*columns).order_by(merged.c.next_action_key, merged.c.id)
        return _paged(statement, limit, offset)

    # bulk status changes (release all, close all)

    def change_status_many(
        self, project_id: str, change: BulkStatusChange, *, after: str = "", limit: int = 1000
    ) -> list[tuple[str, int]]:
        """Apply ``change`` to the next ``limit`` prospects of the project it changes, by id.

        One read of the batch, then one update statement (each row with its
        version check) and one insert of the history rows, each run once for
        the whole batch. Returns the ``(id, new version)`` of those changed.

        Raises:
            InvalidInput: a malformed change, ``after`` or ``limit``.
            ConcurrencyConflict: another transaction changed one of the batch
                between its read and its update (nothing of the batch is written).
        """
        uow = self._uow
        uow.refuse_writes("prospect.change_status_many")
        check_bulk_change(change, after, limit)
        if not isinstance(project_id, str) or some_unstorable(project_id, after):
            return []
        statuses = sorted(st.value for st in change.from_statuses)
        if not statuses:
            return []
        ph = uow._placeholder
        rows = uow.fast(
            f"SELECT id, version, history_count FROM prospects WHERE project_id = {ph} "
            f"AND id > {ph} AND status IN ({', '.join([ph] * len(statuses))}) "
            f"AND NOT (status = {ph} AND COALESCE(close_reason, '') = {ph}) "
            f"ORDER BY id LIMIT {int(limit)}",
            (project_id, after, *statuses, change.status.value, change.close_reason or ""),
        ).fetchall()
        if not rows:
            return []
        uow._last = (self._kind, rows[0][0], int(rows[0][1]))
        status, reason = change.status.value, change.close_reason
        at, actor, detail, note = _DUMP_DT(change.at), change.actor, change.detail, change.note
        at_us = utc_us(change.at)
        updates = [(status, reason, v + 1, n + 1, rid, v) for rid, v, n in rows]
        history = [
            (rid, n + 1, "status", at, actor, None, None, None, detail, note, project_id, 0, at_us)
            for rid, _v, n in rows
        ]
        with uow.atomic(2):
            done = uow.fast_many(
                f"UPDATE prospects SET status = {ph}, close_reason = {ph}, version = {ph}, "
                f"history_count = {ph} WHERE id = {ph} AND version = {ph}",
                updates,
            ).rowcount
            if done != len(rows):
                raise self._bulk_conflict(rows)
            uow.fast_many(uow._store.insert_sql(s.prospect_history), history)
        loaded = uow._loaded
        for rid, v, n in rows:
            loaded[rid] = (v + 1, n + 1)
        return [(rid, v + 1) for rid, v, _n in rows]

    def _bulk_conflict(self, rows: Sequence[Any]) -> CrmError:
        ph = self._uow._placeholder
        for rid, version, _n in rows:
            now = self._uow.fast(
                f"SELECT version FROM prospects WHERE id = {ph}", (rid,)
            ).fetchone()
            if now is None:
                return NotFound(self._kind, rid)
            if int(now[0]) != version + 1:
                return ConcurrencyConflict(self._kind, rid, int(version), int(now[0]))
        return ConcurrencyConflict(self._kind, rows[0][0], int(rows[0][1]), int(rows[0][1]) + 1)


class _ActivityRepo(_Repo[Activity]):
    def _columns(self, record: Activity) -> tuple[Any, ...]:
        return (
            record.employee,
            record.relation_id,
            record.project_id,
            sort_key(record.start),
            sort_key(record.created_at),
            record.completed_at is not None,
            record.kind.value,
            record.outcome,
        )

    def _visibility(self, viewer: Viewer | None) -> list[ColumnElement[bool]]:
        return _activity_visible(viewer)

    def _list(
        self, where: list[ColumnElement[bool]], viewer: Viewer | None, limit: int, offset: int
    ) -> list[Activity]:
        c = self._table.c
        statement = (
            self._select_data()
            .where(*where, *_activity_visible(viewer))
            .order_by(c.start_key.desc(), c.created_key.desc(), c.id.desc())
        )
        return self._many(_paged(statement, limit, offset))

    def for_employee(
        self,
        employee: str,
        viewer: Viewer | None = None,
        open_only: bool = False,
        limit: int = 50,
        offset: int = 0,
        kind: str | None = None,
    ) -> list[Activity]:
        """One employee's activities, newest first (start, then created; missing last)."""
        if some_unstorable(employee):
            check_limit(limit, offset)
            return []
        c = self._table.c
        where = [c.employee == employee, *self._of_kind(kind)]
        if open_only:
            # A literal (not a bound value), so the partial index of open activities applies.
            where.append(c.completed == false())
        return self._list(where, viewer, limit, offset)

    def _of_kind(self, kind: str | None) -> list[ColumnElement[bool]]:
        if kind is None:
            return []
        if not isinstance(kind, str):
            raise InvalidInput("kind", "must be an activity kind", kind)
        return [self._table.c.kind == kind]

    def of_relation(
        self,
        relation_id: str,
        viewer: Viewer | None = None,
        limit: int = 50,
        offset: int = 0,
        kind: str | None = None,
    ) -> list[Activity]:
        """All activities of one relation, newest first."""
        if some_unstorable(relation_id):
            check_limit(limit, offset)
            return []
        where = [self._table.c.relation_id == relation_id, *self._of_kind(kind)]
        return self._list(where, viewer, limit, offset)

    def of_project(
        self,
        project_id: str,
        viewer: Viewer | None = None,
        limit: int = 50,
        offset: int = 0,
        kind: str | None = None,
    ) -> list[Activity]:
        """All activities of one project, newest first."""
        if some_unstorable(project_id):
            check_limit(limit, offset)
            return []
        where = [self._table.c.project_id == project_id, *self._of_kind(kind)]
        return self._list(where, viewer, limit, offset)


class _AppointmentRepo(_Repo[Appointment]):
    def _columns(self, record: Appointment) -> tuple[Any, ...]:
        return (
            record.employee,
            record.uid,
            utc_us(record.start),
            utc_us(record.end),
            record.status.value,
            record.rrule is not None,
            record.relation_id,
            record.project_id,
        )

    def agenda(self, employee: str, start: datetime, end: datetime) -> list[Appointment]:
        """Confirmed appointments of one employee overlapping [start, end), by start.

        A recurring appointment is returned once when its first occurrence
        starts before ``end``.
        """
        lo = utc_us(require_aware(start, "start"))
        hi = utc_us(require_aware(end, "end"))
        c = self._table.c
        if some_unstorable(employee):
            return []
        statement = (
            self._select_data()
            .where(
                c.employee == employee,
                c.start_key < hi,
                c.status == AppointmentStatus.CONFIRMED.value,
                or_(c.recurring == true(), c.end_key > lo),
            )
            .order_by(c.start_key, c.id)
        )
        return self._many(statement)

    def by_uid(self, uid: str) -> Appointment | None:
        """The appointment with this iCalendar UID (the lowest id if several), or None."""
        if some_unstorable(uid):
            return None
        c = self._table.c
        found = self._many(self._select_data().where(c.uid == uid).order_by(c.id).limit(1))
        return found[0] if found else None


# The FTS5 table of migration 2, as far as queries need to name it.
_FTS: Final = table("visit_reports_fts", column("rowid", Integer))


class _VisitReportRepo(_Repo[VisitReport]):
    def _visibility(self, viewer: Viewer | None) -> list[ColumnElement[bool]]:
        if viewer is None or viewer.reads_visit_reports:
            return []
        return [self._table.c.account_manager == viewer.user_id]

    def _row(self, record: VisitReport) -> tuple[Any, ...]:
        # rid is left to the database (it numbers rows for the search index)
        return (
            record.id,
            record.relation_id,
            record.account_manager,
            record.visit_type,
            utc_us(record.start),
            search_text(record),
            record.version,
            _json(unstructure(record)),
        )

    def _insert(self, stored: Sequence[VisitReport]) -> None:
        self._uow._last = (self._kind, stored[0].id, 0)
        store = self._uow._store
        sql = store._inserts.get("visit_reports")
        if sql is None:
            names = [c.name for c in self._table.columns if c.name != "rid"]
            marks = ", ".join([store._placeholder] * len(names))
            sql = f"INSERT INTO visit_reports ({', '.join(names)}) VALUES ({marks})"
            store._inserts["visit_reports"] = sql
        rows = [self._stored_row(r) for r in stored]
        try:
            with self._uow.savepoint():
                self._uow.driver(sql, rows if len(rows) > 1 else rows[0])
        except IntegrityError as exc:
            raise self._insert_failed(stored, exc) from None

    def save(self, record: VisitReport) -> VisitReport:
        """Store a changed report as version + 1 (its search words follow)."""
        self._check_type(record, "save")
        version = record.version
        self._uow._last = (self._kind, record.id, version)
        stored = with_version(record, version + 1)
        row = self._stored_row(stored)
        t = self._table
        names = [c.name for c in t.columns if c.name != "rid"]
        values = dict(zip(names, row))
        with self._uow.savepoint():
            result = self._uow.execute(
                t.update().where(t.c.id == record.id, t.c.version == version).values(values)
            )
            if result.rowcount != 1:
                actual = self._stored_version(record.id)
                if actual is None:
                    raise NotFound(self._kind, record.id)
                raise ConcurrencyConflict(self._kind, record.id, version, actual)
        return stored

    def search(
        self,
        *,
        account_manager: str | None = None,
        relation_id: str | None = None,
        visit_type: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        keyword: str | None = None,
        limit: int = 50,
        offset: int = 0,
        viewer: Viewer | None = None,
    ) -> list[VisitReport]:
        """Reports matching every filter (``since <= start < until``), newest first.

        ``keyword``: every word must begin a word of the keywords, subject or
        text, ignoring case and accents (an FTS5 / tsvector index, not a scan).
        Only reports ``viewer`` may see (all with ``None``).
        """
        check_limit(limit, offset)
        if some_unstorable(account_manager, relation_id, visit_type):
            return []
        c = self._table.c
        where: list[ColumnElement[bool]] = self._visibility(viewer)
        if account_manager is not None:
            where.append(c.account_manager == account_manager)
        if relation_id is not None:
            where.append(c.relation_id == relation_id)
        if visit_type is not None:
            where.append(c.visit_type == visit_type)
        if since is not None:
            where.append(c.start_key >= utc_us(require_aware(since, "since")))
        if until is not None:
            where.append(c.start_key < utc_us(require_aware(until, "until")))
        query = keyword_words(keyword)
        if query:
            where.append(self._keyword(query))
        statement = self._select_data().where(*where).order_by(c.start_key.desc(), c.id.desc())
        return self._many(_paged(statement, limit, offset))

    def _keyword(self, query: list[str]) -> ColumnElement[bool]:
        c = self._table.c
        if self._uow.dialect == "sqlite":
            match = " ".join(f'"{w}"*' for w in query)
            hits = select(_FTS.c.rowid).where(
                literal_column("visit_reports_fts").op("MATCH")(match)
            )
            return c.rid.in_(hits)
        if self._uow.dialect == "postgresql":
            tsquery = " & ".join(f"{w}:*" for w in query)
            # The literal 'simple' makes the expression match the index's.
            vector = func.to_tsvector(literal_column("'simple'"), c.search_text)
            return vector.op("@@")(func.to_tsquery(literal_column("'simple'"), tsquery))
        return and_(*(c.search_text.like(f"%{w}%") for w in query))


class _DocumentRepo(_Repo[Document]):
    def _columns(self, record: Document) -> tuple[Any, ...]:
        return (record.owner_kind, record.owner_id, sort_key(record.added_at))

    def of_owner(self, owner_kind: str, owner_id: str) -> list[Document]:
        """Documents attached to one record, oldest first."""
        if some_unstorable(owner_kind, owner_id):
            return []
        c = self._table.c
        return self._many(
            self._select_data()
            .where(c.owner_kind == owner_kind, c.owner_id == owner_id)
            .order_by(c.added_key, c.id)
        )


class _UserRepo(_Repo[User]):
    def all(self) -> list[User]:
        """Every user, by id."""
        rows = self._uow.fast('SELECT data FROM "users" ORDER BY id').fetchall()
        return [self._load(row[0]) for row in rows]


class _GroupRepo(_Repo[Group]):
    def all(self) -> list[Group]:
        """Every group, by id."""
        rows = self._uow.fast('SELECT data FROM "groups" ORDER BY id').fetchall()
        return [self._load(row[0]) for row in rows]


class _Definitions:
    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow

    def put(self, key: str, data: dict[str, Any]) -> int:
        """Store a new version of ``key``; returns it (1, 2, ...).

        Raises ConcurrencyConflict when another unit of work stored the same version.
        """
        self._uow.refuse_writes("definitions.put")
        payload = definition_text(key, data)
        d = s.definitions.c
        latest = self._uow.execute(select(func.max(d.version)).where(d.key == key)).scalar()
        version = int(latest or 0) + 1
        self._uow._last = ("definition", key, version - 1)
        try:
            with self._uow.savepoint():
                self._uow.execute(
                    s.definitions.insert().values(key=key, version=version, data=payload)
                )
        except IntegrityError:
            raise ConcurrencyConflict("definition", key, version - 1, None) from None
        return version

    def get(self, key: str, version: int | None = None) -> dict[str, Any]:
        """The data at ``version`` (latest when None). Raises NotFound."""
        if some_unstorable(key):
            raise NotFound("definition", "(a key no store can hold)")
        d = s.definitions.c
        statement = select(d.data).where(d.key == key)
        if version is None:
            statement = statement.order_by(d.version.desc()).limit(1)
        else:
            statement = statement.where(d.version == version)
        row = self._uow.execute(statement).first()
        if row is None:
            raise NotFound("definition", key if version is None else f"{key}@{version}")
        data: dict[str, Any] = json.loads(row[0])
        return data

    def versions(self, key: str) -> list[int]:
        """The stored versions of ``key``, ascending."""
        if some_unstorable(key):
            return []
        d = s.definitions.c
        return [
            int(v)
            for v in self._uow.execute(
                select(d.version).where(d.key == key).order_by(d.version)
            ).scalars()
        ]


_O = s.outbox.c
_OUTBOX_COLUMNS: Final = [
    _O.id,
    _O.key,
    _O.channel,
    _O.payload,
    _O.created_at,
    _O.due_at,
    _O.status,
    _O.attempts,
    _O.last_error,
    _O.delivered_at,
    _O.version,
    _O.recipients,
    _O.lease_token,
]


def _recipients_text(message: OutboxMessage) -> str | None:
    if not message.recipients:
        return None
    return _json(
        {
            address: {"state": o.state.value, "code": o.code, "detail": o.detail}
            for address, o in message.recipients.items()
        }
    )


def _message(row: Any) -> OutboxMessage:
    return OutboxMessage(
        id=row[0],
        key=row[1],
        channel=row[2],
        payload=json.loads(row[3]),
        created_at=_dt(row[4]),
        due_at=_dt(row[5]),
        status=OutboxStatus(row[6]),
        attempts=row[7],
        last_error=row[8],
        delivered_at=_dt(row[9]),
        version=row[10],
        recipients=json.loads(row[11]) if row[11] else {},
        lease_token=row[12],
    )


class _Outbox:
    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow

    def add(self, message: OutboxMessage) -> None:
        """Record a message in this transaction; a recorded key is ignored.

        Raises ConcurrencyConflict when the id is taken by another key,
        InvalidInput for a payload that is not JSON data.
        """
        if not isinstance(message, OutboxMessage):
            raise InvalidInput("message", "must be an OutboxMessage", type(message).__name__)
        try:
            payload = json.dumps(dict(message.payload), separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidInput("payload", f"must be plain JSON data: {exc}") from None
        if self._uow.execute(select(_O.id).where(_O.key == message.key)).first() is not None:
            return
        row = (
            message.id,
            message.key,
            message.channel,
            payload,
            sort_key(message.created_at),
            _dt_text(message.created_at),
            sort_key(message.due_at),
            _dt_text(message.due_at),
            message.status.value,
            message.attempts,
            message.last_error,
            _dt_text(message.delivered_at),
            1,
            message.lease_token,
            _recipients_text(message),
        )
        self._uow._last = ("outbox_message", message.id, 0)
        try:
            with self._uow.savepoint():
                self._uow.driver(self._uow._store.insert_sql(s.outbox), row)
        except IntegrityError:
            if self._uow.execute(select(_O.id).where(_O.key == message.key)).first():
                return  # recorded by a concurrent transaction: the same message
            raise ConcurrencyConflict("outbox_message", message.id, 0, None) from None

    def claim_due(
        self,
        now: datetime,
        limit: int,
        lease_seconds: float,
        channels: Collection[str] | None = None,
    ) -> list[OutboxMessage]:
        """Pending messages due at ``now``, leased for ``lease_seconds`` (attempts + 1).

        On PostgreSQL rows locked by another claimer are skipped (``FOR UPDATE
        SKIP LOCKED``); on SQLite the write lock serialises claimers.
        """
        check_limit(limit, 0)
        check_lease_seconds(lease_seconds)
        at = utc_us(require_aware(now, "now"))
        statement = (
            select(*_OUTBOX_COLUMNS)
            .where(_O.status == OutboxStatus.PENDING.value, _O.due_key <= at)
            .order_by(_O.due_key, _O.created_key, _O.id)
            .limit(db_count(limit))
        )
        if channels is not None:
            statement = statement.where(_O.channel.in_(sorted(channels)))
        if self._uow.dialect == "postgresql":
            statement = statement.with_for_update(skip_locked=True)
        found = [_message(r) for r in self._uow.execute(statement)]
        if not found:
            return []
        until = now + timedelta(seconds=lease_seconds)
        until_key, until_text = utc_us(until), _dt_text(until)
        token = uuid.uuid4().hex
        claimed = []
        for m in found:
            self._uow._last = ("outbox_message", m.id, m.version)
            result = self._uow.execute(
                s.outbox.update()
                .where(_O.id == m.id, _O.version == m.version)
                .values(
                    due_key=until_key,
                    due_at=until_text,
                    lease_token=token,
                    version=_O.version + 1,
                )
            )
            if result.rowcount == 1:
                claimed.append(
                    attrs.evolve(m, due_at=until, lease_token=token, version=m.version + 1)
                )
        return claimed

    def start_attempt(
        self, message_id: str, lease_token: str, now: datetime, lease_seconds: float
    ) -> OutboxMessage | None:
        """Renew the lease and count the try when ``lease_token`` still holds it; else None.

        One conditional UPDATE: a concurrent claim (which changes the token)
        and this fence cannot both succeed.
        """
        until = require_aware(now, "now") + timedelta(seconds=check_lease_seconds(lease_seconds))
        if not isinstance(message_id, str) or not isinstance(lease_token, str):
            raise InvalidInput("lease_token", "message id and lease token must be text")
        self._uow._last = ("outbox_message", message_id, None)
        result = self._uow.execute(
            s.outbox.update()
            .where(
                _O.id == message_id,
                _O.lease_token == lease_token,
                _O.status == OutboxStatus.PENDING.value,
            )
            .values(
                due_key=utc_us(until),
                due_at=_dt_text(until),
                attempts=_O.attempts + 1,
                version=_O.version + 1,
            )
        )
        if result.rowcount != 1:
            return None
        return self.get(message_id)

    def record(self, message: OutboxMessage) -> OutboxMessage:
        """Store ``message`` over the version it was read at. Raises ConcurrencyConflict."""
        if not isinstance(message, OutboxMessage):
            raise InvalidInput("message", "must be an OutboxMessage", type(message).__name__)
        self._uow._last = ("outbox_message", message.id, message.version)
        result = self._uow.execute(
            s.outbox.update()
            .where(_O.id == message.id, _O.version == message.version)
            .values(
                status=message.status.value,
                attempts=message.attempts,
                last_error=message.last_error,
                due_key=sort_key(message.due_at),
                due_at=_dt_text(message.due_at),
                delivered_at=_dt_text(message.delivered_at),
                recipients=_recipients_text(message),
                lease_token=message.lease_token,
                version=_O.version + 1,
            )
        )
        if result.rowcount != 1:
            current = self.get(message.id)  # NotFound when missing
            raise ConcurrencyConflict(
                "outbox_message", message.id, message.version, current.version
            )
        return self.get(message.id)

    def _change(self, message_id: str, values: dict[str, Any]) -> None:
        self._uow._last = ("outbox_message", message_id, None)
        result = self._uow.execute(
            s.outbox.update()
            .where(_O.id == message_id, _O.status != OutboxStatus.DELIVERED.value)
            .values(version=_O.version + 1, **values)
        )
        if result.rowcount == 0:
            self.get(message_id)  # raises NotFound; otherwise it was delivered already

    def mark_delivered(self, message_id: str, at: datetime) -> None:
        """Mark a message delivered (idempotent). Raises NotFound."""
        require_aware(at, "at")
        self._change(
            message_id,
            {
                "status": OutboxStatus.DELIVERED.value,
                "delivered_at": _dt_text(at),
                "lease_token": None,
            },
        )

    def mark_failed(self, message_id: str, error: str, retry_at: datetime | None) -> None:
        """Record a failed attempt: pending again at ``retry_at``, or failed for good."""
        if retry_at is None:
            self._change(
                message_id,
                {
                    "status": OutboxStatus.FAILED.value,
                    "last_error": str(error),
                    "lease_token": None,
                },
            )
            return
        require_aware(retry_at, "retry_at")
        self._change(
            message_id,
            {
                "status": OutboxStatus.PENDING.value,
                "last_error": str(error),
                "due_key": utc_us(retry_at),
                "due_at": _dt_text(retry_at),
                "lease_token": None,
            },
        )

    def get(self, message_id: str) -> OutboxMessage:
        """One message. Raises NotFound."""
        row = self._uow.execute(select(*_OUTBOX_COLUMNS).where(_O.id == message_id)).first()
        if row is None:
            raise NotFound("outbox_message", str(message_id))
        return _message(row)

    def list(self, status: str | None = None, limit: int = 1000) -> list[OutboxMessage]:
        """Messages (optionally of one status), by creation then id."""
        statement = select(*_OUTBOX_COLUMNS).order_by(_O.created_key, _O.id)
        if status is not None:
            statement = statement.where(_O.status == OutboxStatus(status).value)
        return [_message(r) for r in self._uow.execute(_paged(statement, limit, 0))]


class _Audit:
    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow

    def record(self, change: Change) -> None:
        """Append one change in this transaction."""
        self._uow.refuse_writes("audit.record")
        if not isinstance(change, Change):
            raise InvalidInput("change", "must be a Change", type(change).__name__)
        row = (
            change.record_kind,
            change.record_id,
            change.version,
            _DUMP_DT(change.at),
            change.actor,
            change.action,
            _json({k: list(v) for k, v in change.changes.items()}),
        )
        if not _surely_storable(row):
            check_storable(change, "change")
        ph = self._uow._placeholder
        self._uow.fast(
            "INSERT INTO audit (record_kind, record_id, version, at, actor, action, changes) "
            f"VALUES ({ph}, {ph}, {ph}, {ph}, {ph}, {ph}, {ph})",
            row,
        )

    def record_many(self, changes: Sequence[Change]) -> None:
        """Append the changes in this transaction, with one statement."""
        self._uow.refuse_writes("audit.record_many")
        rows = []
        for change in changes:
            if not isinstance(change, Change):
                raise InvalidInput("change", "must be a Change", type(change).__name__)
            row = (
                change.record_kind,
                change.record_id,
                change.version,
                _DUMP_DT(change.at),
                change.actor,
                change.action,
                _json({k: list(v) for k, v in change.changes.items()}),
            )
            if not _surely_storable(row):
                check_storable(change, "change")
            rows.append(row)
        if not rows:
            return
        ph = self._uow._placeholder
        with self._uow.atomic(len(rows)):
            self._uow.fast_many(
                "INSERT INTO audit (record_kind, record_id, version, at, actor, action, changes) "
                f"VALUES ({ph}, {ph}, {ph}, {ph}, {ph}, {ph}, {ph})",
                rows,
            )

    def of_record(self, record_kind: str, record_id: str) -> list[Change]:
        """Every change of one record, oldest first."""
        if some_unstorable(record_kind, record_id):
            return []
        a = s.audit.c
        rows = self._uow.execute(
            select(a.record_kind, a.record_id, a.version, a.at, a.actor, a.action, a.changes)
            .where(a.record_kind == record_kind, a.record_id == record_id)
            .order_by(a.seq)
        )
        return [
            Change(
                record_kind=r[0],
                record_id=r[1],
                version=r[2],
                at=_at(r[3]),
                actor=r[4],
                action=r[5],
                changes={k: (v[0], v[1]) for k, v in json.loads(r[6]).items()},
            )
            for r in rows
        ]

"""The transaction under a SQL unit of work, and its statement paths.

:class:`SqlTransaction` owns one connection and one transaction: commit,
rollback, close; the statement paths the repositories run on (``execute``,
``driver``, ``fast``, ``fast_many``, ``prepared``, ``atomic``, ``savepoint``);
and the naming of driver errors (ConcurrencyConflict, StoreBusy,
ReadOnlyUnitOfWork, InvalidInput for text the database cannot hold).
:class:`~crm_procedures.adapters.sql.store.SqlUnitOfWork` adds the repositories.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError, OperationalError

from crm_procedures._memo import remember
from crm_procedures.errors import (
    ConcurrencyConflict,
    CrmError,
    InvalidInput,
    ReadOnlyUnitOfWork,
    StoreBusy,
)
from crm_procedures.model._storable import UNSTORABLE_REASON

if TYPE_CHECKING:
    from crm_procedures.adapters.sql.store import SqlStore

_CONFLICT_STATES: Final = frozenset({"40001", "40P01"})
_BUSY_STATES: Final = frozenset({"55P03"})
_READ_ONLY_STATE: Final = "25006"


_PREPARED_MAX: Final = 1024


class SqlTransaction:
    """One database transaction: its connection, commit and rollback, and statement helpers.

    :class:`~crm_procedures.adapters.sql.store.SqlUnitOfWork` adds the
    repositories; they run their statements through the helpers here
    (:meth:`fast`, :meth:`prepared`, :meth:`atomic`, :meth:`savepoint`), which
    turn driver errors into named ones.
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
        # prospect id -> (version, its row as read or written here): a save then
        # sets only the columns that changed, leaving the other indexes untouched
        self._rows: dict[str, tuple[int, tuple[Any, ...]]] = {}
        self._last: tuple[str, str, int | None] = ("transaction", "", None)
        self._closed = False

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
            self._rows.clear()

    def rollback(self) -> None:
        """Roll the transaction back."""
        self._loaded.clear()
        self._project_of.clear()
        self._rows.clear()
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

"""The generic SQL repository and the row helpers every record family shares.

A kind is stored as its explicit (indexed) columns plus the whole record as
JSON (``data``): :class:`_Repo` reads, inserts and saves such rows with
optimistic versions. Also: paging, timestamps to and from text, and the quick
check that a row holds no text a database refuses.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Final, Generic, TypeVar, cast

from sqlalchemy import ColumnElement, Select, Table, bindparam, func, select
from sqlalchemy.exc import IntegrityError

from crm_procedures._memo import remember
from crm_procedures.access.viewer import Viewer
from crm_procedures.adapters._common import (
    check_limit,
    check_storable,
    db_count,
    some_unstorable,
    with_version,
)
from crm_procedures.adapters.sql._uow import SqlTransaction
from crm_procedures.errors import ConcurrencyConflict, CrmError, InvalidInput, NotFound
from crm_procedures.serialization import structure, unstructure

R = TypeVar("R")


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


_RECORDS_MAX: Final = 4096


class _Repo(Generic[R]):
    """Kinds stored as explicit columns plus the record as JSON (``data``)."""

    def __init__(self, uow: SqlTransaction, kind: str, cls: type[R], table: Table) -> None:
        if not isinstance(uow, SqlTransaction):
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

    def add_unless_stored(self, record: R) -> None:
        """Insert a new record as version 1 unless its id is stored already: one statement.

        For kinds without side tables, whose records are the same whoever
        stores them first (a sent e-mail's Message-ID): the database skips
        a stored id itself (also one a concurrent transaction commits first).
        """
        self._check_type(record, "add")
        stored = with_version(record, 1)
        self._uow._last = (self._kind, stored.id, 0)  # type: ignore[attr-defined]
        row = self._stored_row(stored)
        sql = f"{self._uow._store.insert_sql(self._table)} ON CONFLICT (id) DO NOTHING"
        try:
            with self._uow.atomic(1):
                self._uow.fast(sql, row)
        except IntegrityError as exc:
            raise self._insert_failed([stored], exc) from None

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

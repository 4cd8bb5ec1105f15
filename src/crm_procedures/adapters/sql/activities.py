"""The SQL repositories of activities, appointments, visit reports and documents.

Visit reports are searched by keyword through FTS5 (SQLite) or a ``tsvector``
index (PostgreSQL).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    Integer,
    and_,
    column,
    func,
    literal_column,
    select,
    table,
)
from sqlalchemy.exc import IntegrityError

from crm_procedures.access.viewer import Viewer
from crm_procedures.adapters._common import (
    check_limit,
    keyword_words,
    search_text,
    some_unstorable,
    sort_key,
    utc_us,
    with_version,
)
from crm_procedures.adapters.sql import _appointments, _loaders
from crm_procedures.adapters.sql._repo import _json, _paged, _Repo
from crm_procedures.adapters.sql._visibility import _activity_visible
from crm_procedures.errors import ConcurrencyConflict, NotFound
from crm_procedures.model._checks import require_aware
from crm_procedures.model.activity import Activity
from crm_procedures.model.appointment import Appointment
from crm_procedures.model.document import Document
from crm_procedures.model.visit_report import VisitReport
from crm_procedures.serialization import unstructure


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

    def _load(self, data: str) -> Activity:
        return _loaders.activity_from_data(json.loads(data))

    def _list(
        self,
        by: str,
        value: str,
        kind: str | None,
        open_only: bool,
        viewer: Viewer | None,
        limit: int,
        offset: int,
    ) -> list[Activity]:
        cursor = _loaders.activity_page(
            self._uow, by, value, kind, open_only, viewer, limit, offset, _activity_visible
        )
        return _loaders.activities_from_rows(cursor.fetchall())

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
        return self._list("employee", employee, kind, open_only, viewer, limit, offset)

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
        return self._list("relation_id", relation_id, kind, False, viewer, limit, offset)

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
        return self._list("project_id", project_id, kind, False, viewer, limit, offset)


class _AppointmentRepo(_Repo[Appointment]):
    _side_tables = True  # appointment_participants

    def _after_write(self, records: Sequence[Appointment], new: bool) -> None:
        uow = self._uow
        _appointments.write_participants(
            uow.execute, uow.driver, uow._store.insert_sql, records, new
        )

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

        Their own and those they take part in (``participants``). A recurring
        appointment is returned once when its first occurrence starts before
        ``end``.
        """
        statement = _appointments.agenda(self._select_data(), employee, start, end)
        return [] if statement is None else self._many(statement)

    def by_uid(self, uid: str) -> Appointment | None:
        """The appointment with this iCalendar UID (the lowest id if several), or None."""
        if some_unstorable(uid):
            return None
        c = self._table.c
        found = self._many(self._select_data().where(c.uid == uid).order_by(c.id).limit(1))
        return found[0] if found else None

    def of_project(self, project_id: str, start: datetime, end: datetime) -> list[Appointment]:
        """Confirmed appointments of one project overlapping [start, end), by start."""
        statement = _appointments.of_project(self._select_data(), project_id, start, end)
        return [] if statement is None else self._many(statement)


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

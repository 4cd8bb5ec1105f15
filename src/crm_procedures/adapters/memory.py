"""The in-memory store: complete, transactional and thread-safe, for tests and demos.

A unit of work keeps its writes in a change log over the committed state and
publishes them on commit, under the store's lock, after checking that every
record it saved still has the version it was loaded at. Rollback drops the
log, so the committed state is exactly what it was. Reads inside a unit of
work see its own writes. Visibility uses the reference predicates of
:mod:`crm_procedures.access.viewer`.
"""

from __future__ import annotations

import heapq
import json
import threading
from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

import attrs

from crm_procedures.access.viewer import (
    Viewer,
    may_see_activity,
    may_see_project,
    may_see_prospect,
    may_see_relation,
    may_see_visit_report,
)
from crm_procedures.adapters._common import (
    check_bulk_change,
    check_limit,
    check_prospect,
    check_storable,
    definition_text,
    keyword_words,
    matches_words,
    search_text,
    some_unstorable,
    sort_key,
    utc_us,
    with_version,
)
from crm_procedures.adapters.memory_inbound import INBOUND_TABLES, MemoryEventLog, MemoryInbound
from crm_procedures.errors import ConcurrencyConflict, InvalidInput, NotFound, ReadOnlyUnitOfWork
from crm_procedures.model._checks import require_aware
from crm_procedures.model._storable import UNSTORABLE_REASON
from crm_procedures.model.activity import Activity
from crm_procedures.model.appointment import Appointment, AppointmentStatus
from crm_procedures.model.audit import Change
from crm_procedures.model.contact import Contact
from crm_procedures.model.document import Document
from crm_procedures.model.due import DueCursor, DueEntry, check_cursor, due_entries
from crm_procedures.model.outbox import OutboxMessage, OutboxStatus, check_lease_seconds
from crm_procedures.model.project import Project
from crm_procedures.model.prospect import BulkStatusChange, Prospect, ProspectStatus
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

__all__ = ["MemoryStore", "MemoryUnitOfWork"]

R = TypeVar("R")

_INDEXED: dict[str, tuple[str, ...]] = {
    "relation": ("account_manager",),
    "contact": ("relation_id",),
    "project": ("relation_id",),
    "prospect": ("project_id",),
    "activity": ("employee", "relation_id", "project_id"),
    "appointment": ("employee", "uid", "project_id", "participants"),
    "visit_report": ("account_manager",),
    "document": ("owner_id",),
    "user": (),
    "group": (),
    "outbox": ("key",),
}
_INDEXED.update(INBOUND_TABLES)
_MULTI: dict[str, frozenset[str]] = {"appointment": frozenset({"participants"})}
"""Indexed fields that hold a tuple: each of its values is indexed (a participant's agenda)."""


class _Table:
    """The committed records of one kind, with value indexes on a few fields."""

    __slots__ = ("indexes", "multi", "rows")

    def __init__(self, fields: tuple[str, ...], multi: frozenset[str] = frozenset()) -> None:
        self.rows: dict[str, Any] = {}
        # value -> ids (a dict used as an ordered set)
        self.indexes: dict[str, dict[Any, dict[str, None]]] = {f: {} for f in fields}
        self.multi = multi

    def put(self, record: Any) -> None:
        rid = record.id
        old = self.rows.get(rid)
        for field, index in self.indexes.items():
            new_value = getattr(record, field)
            if field in self.multi:
                before = set(getattr(old, field)) if old is not None else set()
                after = set(new_value)
                for value in before - after:
                    ids = index.get(value)
                    if ids is not None:
                        ids.pop(rid, None)
                for value in after - before:
                    index.setdefault(value, {})[rid] = None
                continue
            if old is not None:
                old_value = getattr(old, field)
                if old_value == new_value:
                    continue
                ids = index.get(old_value)
                if ids is not None:
                    ids.pop(rid, None)
            index.setdefault(new_value, {})[rid] = None
        self.rows[rid] = record

    def ids_with(self, field: str, value: Any) -> list[str]:
        return list(self.indexes[field].get(value, ()))


class MemoryStore:
    """A :class:`~crm_procedures.ports.Store` that keeps everything in memory.

    Safe to share between threads: units of work run concurrently and their
    commits are serialised by a lock, with optimistic version checks.
    Capabilities: ``fulltext`` (keyword search of visit reports), ``dump``, ``threads``,
    ``inbound`` (``uow.inbound`` and ``uow.events``) and ``cadence``.
    """

    capabilities: frozenset[str] = frozenset({"fulltext", "dump", "threads", "inbound", "cadence"})

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tables: dict[str, _Table] = {
            k: _Table(f, _MULTI.get(k, frozenset())) for k, f in _INDEXED.items()
        }
        self._audit: list[Change] = []
        self._audit_index: dict[tuple[str, str], list[Change]] = {}
        self._definitions: dict[str, list[str]] = {}
        self._search_cache: dict[str, tuple[VisitReport, tuple[str, ...]]] = {}
        # prospect id -> (worker, lease end): the scheduler's leases, effective at once
        self._leases: dict[str, tuple[str, datetime]] = {}
        self._closed = False

    def unit_of_work(self, *, read_only: bool = False) -> MemoryUnitOfWork:
        """A new unit of work over this store (one transaction).

        ``read_only=True``: a write in it raises ReadOnlyUnitOfWork.
        """
        if self._closed:
            raise InvalidInput("store", "is closed")
        return MemoryUnitOfWork(self, read_only=read_only)

    def close(self) -> None:
        """Refuse further units of work (the data stays readable through ``dump``)."""
        self._closed = True

    def dump(self) -> dict[str, Any]:
        """Every committed record as plain data, sorted: for comparisons in tests."""
        # Imported here: the converter (and cattrs) loads on first use, not with the package.
        from crm_procedures.serialization import unstructure

        with self._lock:
            out: dict[str, Any] = {}
            for kind, table in self._tables.items():
                out[kind] = [unstructure(table.rows[k]) for k in sorted(table.rows)]
            out["audit"] = [unstructure(c) for c in self._audit]
            out["definitions"] = {k: list(v) for k, v in sorted(self._definitions.items())}
            return out

    def _tokens(self, report: VisitReport) -> tuple[str, ...]:
        cached = self._search_cache.get(report.id)
        if cached is not None and cached[0] is report:
            return cached[1]
        tokens = tuple(search_text(report).split())
        self._search_cache[report.id] = (report, tokens)
        return tokens

    def _publish(self, uow: MemoryUnitOfWork) -> None:
        with self._lock:
            for kind, writes in uow._writes.items():
                table = self._tables[kind]
                for rid, (expected, _record) in writes.items():
                    current = table.rows.get(rid)
                    if expected is None:
                        if current is not None and kind != "outbox":
                            raise ConcurrencyConflict(kind, rid, 0, current.version)
                    elif current is None or current.version != expected:
                        raise ConcurrencyConflict(
                            kind, rid, expected, None if current is None else current.version
                        )
            for key, (base, _datas) in uow._definitions.items():
                have = len(self._definitions.get(key, ()))
                if have != base:
                    raise ConcurrencyConflict("definition", key, base, have)
            # Every check passed: from here on nothing can fail half-way.
            for kind, writes in uow._writes.items():
                table = self._tables[kind]
                key_index = table.indexes.get("key") if kind == "outbox" else None
                for rid, (expected, record) in writes.items():
                    if (
                        key_index is not None
                        and expected is None
                        and (rid in table.rows or key_index.get(record.key))
                    ):
                        continue  # the same message was recorded by a concurrent commit
                    table.put(record)
            for change in uow._audit:
                self._audit.append(change)
                self._audit_index.setdefault((change.record_kind, change.record_id), []).append(
                    change
                )
            for key, (_base, datas) in uow._definitions.items():
                self._definitions.setdefault(key, []).extend(datas)


class MemoryUnitOfWork:
    """One transaction over a :class:`MemoryStore`.

    Implements :class:`~crm_procedures.ports.UnitOfWork`.
    """

    def __init__(self, store: MemoryStore, *, read_only: bool = False) -> None:
        self._store = store
        self.read_only = read_only
        # kind -> id -> (committed version it was based on, or None for an add; record)
        self._writes: dict[str, dict[str, tuple[int | None, Any]]] = {}
        self._audit: list[Change] = []
        self._definitions: dict[str, tuple[int, list[str]]] = {}
        self.relations: RelationRepository = _RelationRepo(self, "relation", Relation)
        self.contacts: ContactRepository = _ContactRepo(self, "contact", Contact)
        self.projects: ProjectRepository = _ProjectRepo(self, "project", Project)
        self.prospects: ProspectRepository = _ProspectRepo(self, "prospect", Prospect)
        self.activities: ActivityRepository = _ActivityRepo(self, "activity", Activity)
        self.appointments: AppointmentRepository = _AppointmentRepo(
            self, "appointment", Appointment
        )
        self.visit_reports: VisitReportRepository = _VisitReportRepo(
            self, "visit_report", VisitReport
        )
        self.documents: DocumentRepository = _DocumentRepo(self, "document", Document)
        self.users: UserRepository = _UserRepo(self, "user", User)
        self.groups: GroupRepository = _GroupRepo(self, "group", Group)
        self.definitions: DefinitionRepository = _Definitions(self)
        self.outbox: Outbox = _Outbox(self)
        self.audit: AuditLog = _Audit(self)

    @property
    def reports(self) -> ReportQueries:
        """The report queries over what this unit of work sees (its own writes included)."""
        from crm_procedures.adapters.memory_reports import MemoryReports

        return MemoryReports(self)

    @property
    def inbound(self) -> InboundRepository:
        """Processed messages, inbox positions, kept messages, address records."""
        return MemoryInbound(self)

    @property
    def events(self) -> EventLog:
        """The stored events."""
        return MemoryEventLog(self)

    def commit(self) -> None:
        """Publish every change atomically. Raises ConcurrencyConflict (nothing published)."""
        try:
            self._store._publish(self)
        finally:
            self._clear()

    def rollback(self) -> None:
        """Drop every change of this unit of work."""
        self._clear()

    def _clear(self) -> None:
        self._writes = {}
        self._audit = []
        self._definitions = {}

    def __enter__(self) -> UnitOfWork:
        return self

    def __exit__(self, *exc: object) -> None:
        self.rollback()

    # -- the view: committed state overlaid with this unit of work's writes --

    def _current(self, kind: str, rid: str) -> Any:
        writes = self._writes.get(kind)
        if writes is not None:
            hit = writes.get(rid)
            if hit is not None:
                return hit[1]
        return self._store._tables[kind].rows.get(rid)

    def _records(self, kind: str, field: str | None = None, value: Any = None) -> list[Any]:
        """Current records of a kind (those with ``field == value`` when given)."""
        table = self._store._tables[kind]
        rows = table.rows
        if field is None:
            base = list(rows.values())
        else:
            base = [r for r in map(rows.get, table.ids_with(field, value)) if r is not None]
        writes = self._writes.get(kind)
        if not writes:
            return base
        seen = {r.id for r in base}
        out = [writes[r.id][1] if r.id in writes else r for r in base]
        out.extend(rec for rid, (_e, rec) in writes.items() if rid not in seen)
        if field in table.multi:
            out = [r for r in out if value in getattr(r, field)]
        elif field is not None:
            out = [r for r in out if getattr(r, field) == value]
        return out

    def refuse_writes(self, operation: str) -> None:
        """Raise ReadOnlyUnitOfWork naming ``operation`` when this unit of work is read-only."""
        if self.read_only:
            raise ReadOnlyUnitOfWork(operation)

    def _write(self, kind: str, rid: str, expected: int | None, record: Any) -> None:
        self.refuse_writes(f"{kind} write")
        writes = self._writes.setdefault(kind, {})
        earlier = writes.get(rid)
        if earlier is not None:
            expected = earlier[0]
        writes[rid] = (expected, record)

    def _project_visibility(self, viewer: Viewer | None) -> Callable[[str | None], bool]:
        if viewer is None or viewer.all_projects:
            return lambda _pid: True
        cache: dict[str | None, bool] = {}

        def visible(pid: str | None) -> bool:
            hit = cache.get(pid)
            if hit is None:
                project = self._current("project", pid) if pid is not None else None
                hit = project is None or may_see_project(viewer, project)
                cache[pid] = hit
            return hit

        return visible


class _Repo(Generic[R]):
    """Operations every record kind has."""

    def __init__(self, uow: MemoryUnitOfWork, kind: str, cls: type[R]) -> None:
        self._uow = uow
        self._kind = kind
        self._cls = cls

    def _visible(self, record: R, viewer: Viewer) -> bool:
        return True

    def _out(self, record: R) -> R:
        return record

    def _check_new(self, record: R) -> None:
        self._uow.refuse_writes(f"{self._kind}.add")
        if not isinstance(record, self._cls):
            raise InvalidInput(self._kind, f"must be a {self._cls.__name__}", type(record).__name__)
        check_storable(record, self._kind)

    def get(self, record_id: str, viewer: Viewer | None = None) -> R:
        """The record with that id. Raises NotFound (missing, or invisible to viewer)."""
        record = self._uow._current(self._kind, record_id) if isinstance(record_id, str) else None
        if record is None or (viewer is not None and not self._visible(record, viewer)):
            raise NotFound(self._kind, str(record_id))
        return self._out(record)

    def find(self, record_id: str) -> R | None:
        """The record with that id, or ``None`` (no visibility check)."""
        record = self._uow._current(self._kind, record_id) if isinstance(record_id, str) else None
        return None if record is None else self._out(record)

    def add(self, record: R) -> R:
        """Insert a new record as version 1. Raises ConcurrencyConflict when the id exists."""
        self._check_new(record)
        rid: str = record.id  # type: ignore[attr-defined]
        current = self._uow._current(self._kind, rid)
        if current is not None:
            raise ConcurrencyConflict(self._kind, rid, 0, current.version)
        stored = with_version(record, 1)
        self._uow._write(self._kind, rid, None, stored)
        return self._out(stored)

    def add_many(self, records: Sequence[R]) -> None:
        """Insert many new records (all or none). Raises ConcurrencyConflict on a taken id."""
        records = list(records)
        seen: set[str] = set()
        for record in records:
            self._check_new(record)
            rid: str = record.id  # type: ignore[attr-defined]
            current = self._uow._current(self._kind, rid)
            if current is not None:
                raise ConcurrencyConflict(self._kind, rid, 0, current.version)
            if rid in seen:
                raise ConcurrencyConflict(self._kind, rid, 0, 1)
            seen.add(rid)
        for record in records:
            self._uow._write(self._kind, record.id, None, with_version(record, 1))  # type: ignore[attr-defined]

    def save(self, record: R) -> R:
        """Store a changed record as version + 1.

        Raises:
            NotFound: no such record.
            ConcurrencyConflict: the record was saved by someone else since it was loaded.
        """
        self._uow.refuse_writes(f"{self._kind}.save")
        if not isinstance(record, self._cls):
            raise InvalidInput(self._kind, f"must be a {self._cls.__name__}", type(record).__name__)
        if not isinstance(record, Prospect):
            check_storable(record, self._kind)
        elif some_unstorable(record.id):
            raise InvalidInput("id", UNSTORABLE_REASON)
        rid: str = record.id  # type: ignore[attr-defined]
        current = self._uow._current(self._kind, rid)
        if current is None:
            raise NotFound(self._kind, rid)
        version: int = record.version  # type: ignore[attr-defined]
        if current.version != version:
            raise ConcurrencyConflict(self._kind, rid, version, current.version)
        self._check_save(record, current)
        stored = with_version(record, version + 1)
        self._uow._write(self._kind, rid, version, stored)
        return self._out(stored)

    def _check_save(self, record: R, current: R) -> None:
        pass

    def count(self, viewer: Viewer | None = None) -> int:
        """How many records the viewer may see (all with ``None``)."""
        records = self._uow._records(self._kind)
        if viewer is None:
            return len(records)
        return sum(1 for r in records if self._visible(r, viewer))


def _page(records: list[R], limit: int | None, offset: int) -> list[R]:
    check_limit(limit, offset)
    return records[offset:] if limit is None else records[offset : offset + limit]


class _RelationRepo(_Repo[Relation]):
    def _visible(self, record: Relation, viewer: Viewer) -> bool:
        return may_see_relation(viewer, record)

    def by_account_manager(self, user_id: str) -> list[Relation]:
        """Relations of one account manager, by name."""
        found = self._uow._records(self._kind, "account_manager", user_id)
        return sorted(found, key=lambda r: (r.name, r.id))

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
        needle = name_contains.casefold()
        found = [
            r
            for r in self._uow._records(self._kind)
            if needle in r.name.casefold() and (viewer is None or may_see_relation(viewer, r))
        ]
        found.sort(key=lambda r: (r.name, r.id))
        return _page(found, limit, offset)

    def by_phone(self, phone: str, viewer: Viewer | None = None) -> list[Relation]:
        """Relations whose stored (normalised) phone equals ``phone``, by id."""
        found = [
            r
            for r in self._uow._records(self._kind)
            if r.phone == phone and (viewer is None or may_see_relation(viewer, r))
        ]
        return sorted(found, key=lambda r: r.id)


class _ContactRepo(_Repo[Contact]):
    def of_relation(self, relation_id: str) -> list[Contact]:
        """Contacts of one relation, by last name."""
        found = self._uow._records(self._kind, "relation_id", relation_id)
        return sorted(found, key=lambda c: (c.last_name, c.id))

    def by_phone(self, phone: str) -> list[Contact]:
        """Contacts whose stored phone equals ``phone``, by id."""
        found = [c for c in self._uow._records(self._kind) if c.phone == phone]
        return sorted(found, key=lambda c: c.id)


class _ProjectRepo(_Repo[Project]):
    def _visible(self, record: Project, viewer: Viewer) -> bool:
        return may_see_project(viewer, record)

    def of_relation(self, relation_id: str, viewer: Viewer | None = None) -> list[Project]:
        """Projects under one relation that the viewer may see, by name."""
        found = self._uow._records(self._kind, "relation_id", relation_id)
        if viewer is not None:
            found = [p for p in found if may_see_project(viewer, p)]
        return sorted(found, key=lambda p: (p.name, p.id))

    def visible(self, viewer: Viewer | None = None) -> list[Project]:
        """Every project the viewer may see, by name."""
        found = self._uow._records(self._kind)
        if viewer is not None:
            found = [p for p in found if may_see_project(viewer, p)]
        return sorted(found, key=lambda p: (p.name, p.id))


class _ProspectRepo(_Repo[Prospect]):
    def _visible(self, record: Prospect, viewer: Viewer) -> bool:
        project = self._uow._current("project", record.project_id)
        return project is not None and may_see_prospect(viewer, record, project)

    def _out(self, record: Prospect) -> Prospect:
        return record.copy()

    def _check_new(self, record: Prospect) -> None:
        self._uow.refuse_writes("prospect.add")
        check_prospect(record, 0)
        self._require_project(record.project_id)

    def _check_save(self, record: Prospect, current: Prospect) -> None:
        check_prospect(record, len(current.history))
        if record.project_id != current.project_id:
            self._require_project(record.project_id)

    def _require_project(self, project_id: str) -> None:
        if self._uow._current("project", project_id) is None:
            raise InvalidInput("project_id", "refers to no stored project", project_id)

    def add(self, record: Prospect) -> Prospect:
        """Insert a new prospect as version 1 (``record.version`` is set too)."""
        stored = super().add(record)
        record.version = stored.version
        return stored

    def save(self, record: Prospect) -> Prospect:
        """Store a changed prospect as version + 1 (``record.version`` is set too).

        Raises ConcurrencyConflict, NotFound, or InvalidInput (history shortened,
        naive datetime, unknown project).
        """
        stored = super().save(record)
        record.version = stored.version
        return stored

    def _filtered(
        self,
        project_id: str,
        viewer: Viewer | None,
        keep: Callable[[Prospect], bool],
    ) -> list[Prospect]:
        found = self._uow._records(self._kind, "project_id", project_id)
        if viewer is not None:
            project = self._uow._current("project", project_id)
            if project is None or not may_see_project(viewer, project):
                return []
            if not viewer.sees_preparing:
                found = [p for p in found if p.status is not ProspectStatus.PREPARING]
        return [p for p in found if keep(p)]

    def of_project(
        self,
        project_id: str,
        viewer: Viewer | None = None,
        status: ProspectStatus | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Prospect]:
        """Prospects of one project (optionally of one status), by id."""
        check_limit(limit, offset)
        wanted = None if status is None else ProspectStatus(status)
        found = self._filtered(project_id, viewer, lambda p: wanted is None or p.status is wanted)
        found.sort(key=lambda p: p.id)
        return [p.copy() for p in _page(found, limit, offset)]

    def count_by_status(self, project_id: str, viewer: Viewer | None = None) -> dict[str, int]:
        """``{status: count}`` for one project, every status present (0 when none)."""
        counts = {s.value: 0 for s in ProspectStatus}
        for p in self._filtered(project_id, viewer, lambda _p: True):
            counts[p.status.value] += 1
        return counts

    def worklist(
        self,
        project_id: str,
        last_steps: Collection[str | None],
        viewer: Viewer | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Prospect]:
        """Running prospects whose last step is in ``last_steps``, by next action, id."""
        check_limit(limit, offset)
        steps = set(last_steps)
        found = self._filtered(
            project_id,
            viewer,
            lambda p: p.status is ProspectStatus.RUNNING and p.last_step in steps,
        )
        found.sort(key=lambda p: (sort_key(p.next_action_at), p.id))
        return [p.copy() for p in _page(found, limit, offset)]

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
        check_limit(limit, offset)
        hits = self._due_hits(project_id, role, owner, since, until, automatic, viewer)
        hits.sort(key=lambda p: (sort_key(p.next_due_at), p.id))
        return [p.copy() for p in _page(hits, limit, offset)]

    def due_page(
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
        after: DueEntry | DueCursor | None = None,
    ) -> list[DueEntry]:
        """The entries :meth:`due` lists, after ``after``, as small rows."""
        check_limit(limit, 0)
        cursor = check_cursor(after)
        hits = self._due_hits(project_id, role, owner, since, until, automatic, viewer)
        return due_entries(hits, cursor, limit)

    def _due_hits(
        self,
        project_id: str | None,
        role: str | None,
        owner: str | None,
        since: datetime | None,
        until: datetime | None,
        automatic: bool | None,
        viewer: Viewer | None,
    ) -> list[Prospect]:
        low = None if since is None else require_aware(since, "since")
        high = None if until is None else require_aware(until, "until")
        if project_id is None:
            found = self._uow._records(self._kind)
        else:
            found = self._uow._records(self._kind, "project_id", project_id)
        visible = self._uow._project_visibility(viewer)

        def keep(p: Prospect) -> bool:
            at = p.next_due_at
            return (
                at is not None
                and p.status is ProspectStatus.RUNNING
                and (role is None or p.due_role == role)
                and (owner is None or p.owner == owner)
                and (automatic is None or p.due_automatic == automatic)
                and (low is None or at >= low)
                and (high is None or at < high)
                and visible(p.project_id)
            )

        return [p for p in found if keep(p)]

    def claim_due(self, now: datetime, limit: int, worker: str, lease_seconds: float) -> list[str]:
        """Ids of prospects whose automatic step is due at ``now``, leased to ``worker``."""
        self._uow.refuse_writes("prospect.claim_due")
        check_limit(limit, 0)
        if not isinstance(worker, str) or not worker or some_unstorable(worker):
            raise InvalidInput("worker", "must be a non-empty one-line name", worker)
        now = require_aware(now, "now")
        until = _lease_end(now, check_lease_seconds(lease_seconds))
        store = self._uow._store
        with store._lock:
            found = [
                p
                for p in store._tables["prospect"].rows.values()
                if p.due_automatic
                and p.next_due_at is not None
                and p.next_due_at <= now
                and p.status is ProspectStatus.RUNNING
                and not _held(store._leases.get(p.id), worker, now, others_only=False)
            ]
            found.sort(key=lambda p: (sort_key(p.next_due_at), p.id))
            ids = [p.id for p in found[:limit]]
            for pid in ids:
                store._leases[pid] = (worker, until)
        return ids

    def lease(self, prospect_id: str, worker: str, now: datetime, until: datetime) -> bool:
        """Lease one prospect to ``worker`` until ``until``; False when another holds it."""
        self._uow.refuse_writes("prospect.lease")
        now, until = require_aware(now, "now"), require_aware(until, "until")
        store = self._uow._store
        with store._lock:
            if _held(store._leases.get(prospect_id), worker, now, others_only=True):
                return False
            store._leases[prospect_id] = (worker, until)
        return True

    def lease_of(self, prospect_id: str) -> tuple[str, datetime] | None:
        """Who holds the lease of ``prospect_id`` and until when, or ``None``."""
        return self._uow._store._leases.get(prospect_id)

    def release_lease(self, prospect_id: str, worker: str) -> None:
        """Drop ``worker``'s lease of ``prospect_id``."""
        self._uow.refuse_writes("prospect.release_lease")
        store = self._uow._store
        with store._lock:
            held = store._leases.get(prospect_id)
            if held is not None and held[0] == worker:
                del store._leases[prospect_id]

    # bulk status changes (release all, close all)

    def change_status_many(
        self, project_id: str, change: BulkStatusChange, *, after: str = "", limit: int = 1000
    ) -> list[tuple[str, int]]:
        """Apply ``change`` to the next ``limit`` prospects of the project it changes, by id.

        Returns the ``(id, new version)`` of those changed (see
        :class:`~crm_procedures.ports.BulkProspectChanges`).
        """
        self._uow.refuse_writes("prospect.change_status_many")
        check_bulk_change(change, after, limit)
        found = heapq.nsmallest(
            limit,
            (
                p
                for p in self._uow._records(self._kind, "project_id", project_id)
                if p.id > after and change.changes(p)
            ),
            key=lambda p: p.id,
        )
        out = []
        for current in found:
            changed = current.copy()
            change.apply(changed)
            stored = self.save(changed)
            out.append((stored.id, stored.version))
        return out


def _held(
    lease: tuple[str, datetime] | None, worker: str, now: datetime, *, others_only: bool
) -> bool:
    if lease is None or lease[1] <= now:
        return False
    return lease[0] != worker if others_only else True


def _activity_order(a: Activity) -> tuple[int, int, str]:
    return (sort_key(a.start), sort_key(a.created_at), a.id)


class _ActivityRepo(_Repo[Activity]):
    def _visible(self, record: Activity, viewer: Viewer) -> bool:
        project = self._uow._current("project", record.project_id) if record.project_id else None
        return may_see_activity(viewer, record, project)

    def _list(
        self,
        field: str,
        value: str,
        viewer: Viewer | None,
        limit: int,
        offset: int,
        keep: Callable[[Activity], bool] | None = None,
        kind: str | None = None,
    ) -> list[Activity]:
        check_limit(limit, offset)
        found = self._uow._records(self._kind, field, value)
        if keep is not None:
            found = [a for a in found if keep(a)]
        if kind is not None:
            found = [a for a in found if a.kind == kind]
        if viewer is not None:
            found = [a for a in found if self._visible(a, viewer)]
        found.sort(key=_activity_order, reverse=True)
        return _page(found, limit, offset)

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
        keep = (lambda a: a.completed_at is None) if open_only else None
        return self._list("employee", employee, viewer, limit, offset, keep, kind)

    def of_relation(
        self,
        relation_id: str,
        viewer: Viewer | None = None,
        limit: int = 50,
        offset: int = 0,
        kind: str | None = None,
    ) -> list[Activity]:
        """All activities of one relation, newest first."""
        return self._list("relation_id", relation_id, viewer, limit, offset, None, kind)

    def of_project(
        self,
        project_id: str,
        viewer: Viewer | None = None,
        limit: int = 50,
        offset: int = 0,
        kind: str | None = None,
    ) -> list[Activity]:
        """All activities of one project, newest first."""
        return self._list("project_id", project_id, viewer, limit, offset, None, kind)


class _AppointmentRepo(_Repo[Appointment]):
    def agenda(self, employee: str, start: datetime, end: datetime) -> list[Appointment]:
        """Confirmed appointments of one employee overlapping [start, end), by start.

        Their own and those they take part in (``participants``, indexed per
        user). A recurring appointment (``rrule`` set) is returned once when
        its first occurrence starts before ``end``.
        """
        lo = utc_us(require_aware(start, "start"))
        hi = utc_us(require_aware(end, "end"))
        records = self._uow._records
        own = records(self._kind, "employee", employee)
        taking_part = records(self._kind, "participants", employee)
        found = {
            a.id: a
            for a in (*own, *taking_part)
            if a.status is AppointmentStatus.CONFIRMED
            and utc_us(a.start) < hi
            and (a.rrule is not None or utc_us(a.end) > lo)
        }
        return sorted(found.values(), key=lambda a: (utc_us(a.start), a.id))

    def by_uid(self, uid: str) -> Appointment | None:
        """The appointment with this iCalendar UID (the lowest id if several), or None."""
        found = sorted(self._uow._records(self._kind, "uid", uid), key=lambda a: a.id)
        return found[0] if found else None

    def of_project(self, project_id: str, start: datetime, end: datetime) -> list[Appointment]:
        """Confirmed appointments of one project overlapping [start, end), by start."""
        lo = utc_us(require_aware(start, "start"))
        hi = utc_us(require_aware(end, "end"))
        found = [
            a
            for a in self._uow._records(self._kind, "project_id", project_id)
            if a.status is AppointmentStatus.CONFIRMED
            and utc_us(a.start) < hi
            and (a.rrule is not None or utc_us(a.end) > lo)
        ]
        return sorted(found, key=lambda a: (utc_us(a.start), a.id))


class _VisitReportRepo(_Repo[VisitReport]):
    def _visible(self, record: VisitReport, viewer: Viewer) -> bool:
        return may_see_visit_report(viewer, record)

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

        Only reports ``viewer`` may see (all with ``None``).
        """
        check_limit(limit, offset)
        query = keyword_words(keyword)
        lo = None if since is None else utc_us(require_aware(since, "since"))
        hi = None if until is None else utc_us(require_aware(until, "until"))
        if account_manager is not None:
            found = self._uow._records(self._kind, "account_manager", account_manager)
        else:
            found = self._uow._records(self._kind)
        store = self._uow._store
        out = []
        for r in found:
            if viewer is not None and not may_see_visit_report(viewer, r):
                continue
            if relation_id is not None and r.relation_id != relation_id:
                continue
            if visit_type is not None and r.visit_type != visit_type:
                continue
            if lo is not None or hi is not None:
                at = utc_us(r.start)
                if (lo is not None and at < lo) or (hi is not None and at >= hi):
                    continue
            if query and not matches_words(store._tokens(r), query):
                continue
            out.append(r)
        out.sort(key=lambda r: (utc_us(r.start), r.id), reverse=True)
        return _page(out, limit, offset)


class _DocumentRepo(_Repo[Document]):
    def of_owner(self, owner_kind: str, owner_id: str) -> list[Document]:
        """Documents attached to one record, oldest first."""
        found = [
            d
            for d in self._uow._records(self._kind, "owner_id", owner_id)
            if d.owner_kind == owner_kind
        ]
        return sorted(found, key=lambda d: (sort_key(d.added_at), d.id))


class _UserRepo(_Repo[User]):
    def all(self) -> list[User]:
        """Every user, by id."""
        return sorted(self._uow._records(self._kind), key=lambda u: u.id)


class _GroupRepo(_Repo[Group]):
    def all(self) -> list[Group]:
        """Every group, by id."""
        return sorted(self._uow._records(self._kind), key=lambda g: g.id)


class _Definitions:
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._uow = uow

    def _texts(self, key: str) -> list[str]:
        committed = self._uow._store._definitions.get(key, [])
        pending = self._uow._definitions.get(key)
        return committed + pending[1] if pending else list(committed)

    def put(self, key: str, data: dict[str, Any]) -> int:
        """Store a new version of ``key``; returns it (1, 2, ...)."""
        self._uow.refuse_writes("definitions.put")
        text = definition_text(key, data)
        pending = self._uow._definitions.get(key)
        if pending is None:
            base = len(self._uow._store._definitions.get(key, ()))
            pending = (base, [])
            self._uow._definitions[key] = pending
        pending[1].append(text)
        return pending[0] + len(pending[1])

    def get(self, key: str, version: int | None = None) -> dict[str, Any]:
        """The data at ``version`` (latest when None). Raises NotFound."""
        texts = self._texts(key)
        if not texts or (version is not None and not 1 <= version <= len(texts)):
            raise NotFound("definition", key if version is None else f"{key}@{version}")
        data: dict[str, Any] = json.loads(texts[-1 if version is None else version - 1])
        return data

    def versions(self, key: str) -> list[int]:
        """The stored versions of ``key``, ascending."""
        return list(range(1, len(self._texts(key)) + 1))


def _claim_order(m: OutboxMessage) -> tuple[int, int, str]:
    return (sort_key(m.due_at), sort_key(m.created_at), m.id)


class _Outbox:
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._uow = uow

    def add(self, message: OutboxMessage) -> None:
        """Record a message; a message whose key is recorded already is ignored."""
        if not isinstance(message, OutboxMessage):
            raise InvalidInput("message", "must be an OutboxMessage", type(message).__name__)
        try:  # what the SQL store can write, so that both refuse the same messages
            json.dumps(dict(message.payload), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidInput("payload", f"must be plain JSON data: {exc}") from None
        if self._uow._records("outbox", "key", message.key):
            return
        current = self._uow._current("outbox", message.id)
        if current is not None:
            raise ConcurrencyConflict("outbox_message", message.id, 0, current.version)
        self._uow._write("outbox", message.id, None, with_version(message, 1))

    def _update(self, message: OutboxMessage, **changes: Any) -> None:
        new = attrs.evolve(message, version=message.version + 1, **changes)
        self._uow._write("outbox", message.id, message.version, new)

    def claim_due(
        self,
        now: datetime,
        limit: int,
        lease_seconds: float,
        channels: Collection[str] | None = None,
    ) -> list[OutboxMessage]:
        """Pending messages due at ``now``, leased for ``lease_seconds`` (attempts + 1)."""
        check_limit(limit, 0)
        check_lease_seconds(lease_seconds)
        at = utc_us(require_aware(now, "now"))
        wanted = None if channels is None else frozenset(channels)
        due = [
            m
            for m in self._uow._records("outbox")
            if m.status is OutboxStatus.PENDING
            and sort_key(m.due_at) <= at
            and (wanted is None or m.channel in wanted)
        ]
        due.sort(key=_claim_order)
        lease_until = now + timedelta(seconds=lease_seconds)
        import uuid  # loaded with the first claim, not with the store

        token = uuid.uuid4().hex
        claimed = []
        for m in due[:limit]:
            self._update(m, due_at=lease_until, lease_token=token)
            claimed.append(self._uow._current("outbox", m.id))
        return claimed

    def start_attempt(
        self, message_id: str, lease_token: str, now: datetime, lease_seconds: float
    ) -> OutboxMessage | None:
        """Renew the lease and count the try when ``lease_token`` still holds it; else None."""
        until = require_aware(now, "now") + timedelta(seconds=check_lease_seconds(lease_seconds))
        m = self.get(message_id)
        if m.status is not OutboxStatus.PENDING or m.lease_token != lease_token:
            return None
        self._update(m, due_at=until, attempts=m.attempts + 1)
        result: OutboxMessage = self._uow._current("outbox", m.id)
        return result

    def record(self, message: OutboxMessage) -> OutboxMessage:
        """Store ``message`` over the version it was read at. Raises ConcurrencyConflict."""
        if not isinstance(message, OutboxMessage):
            raise InvalidInput("message", "must be an OutboxMessage", type(message).__name__)
        current = self.get(message.id)
        if current.version != message.version:
            raise ConcurrencyConflict(
                "outbox_message", message.id, message.version, current.version
            )
        self._update(
            current,
            status=message.status,
            attempts=message.attempts,
            last_error=message.last_error,
            due_at=message.due_at,
            delivered_at=message.delivered_at,
            recipients=message.recipients,
            lease_token=message.lease_token,
        )
        return self.get(message.id)

    def mark_delivered(self, message_id: str, at: datetime) -> None:
        """Mark a message delivered (idempotent). Raises NotFound."""
        require_aware(at, "at")
        m = self.get(message_id)
        if m.status is not OutboxStatus.DELIVERED:
            self._update(m, status=OutboxStatus.DELIVERED, delivered_at=at, lease_token=None)

    def mark_failed(self, message_id: str, error: str, retry_at: datetime | None) -> None:
        """Record a failed attempt: pending again at ``retry_at``, or failed for good."""
        if retry_at is not None:
            require_aware(retry_at, "retry_at")
        m = self.get(message_id)
        if m.status is OutboxStatus.DELIVERED:
            return  # a late report of an attempt that another dispatcher completed
        if retry_at is None:
            self._update(m, status=OutboxStatus.FAILED, last_error=error, lease_token=None)
        else:
            self._update(
                m, status=OutboxStatus.PENDING, last_error=error, due_at=retry_at, lease_token=None
            )

    def get(self, message_id: str) -> OutboxMessage:
        """One message. Raises NotFound."""
        m = self._uow._current("outbox", message_id) if isinstance(message_id, str) else None
        if m is None:
            raise NotFound("outbox_message", str(message_id))
        result: OutboxMessage = m
        return result

    def list(self, status: str | None = None, limit: int = 1000) -> list[OutboxMessage]:
        """Messages (optionally of one status), by creation then id."""
        check_limit(limit, 0)
        wanted = None if status is None else OutboxStatus(status)
        found = [m for m in self._uow._records("outbox") if wanted is None or m.status is wanted]
        found.sort(key=lambda m: (sort_key(m.created_at), m.id))
        return found[:limit]


class _Audit:
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._uow = uow

    def record(self, change: Change) -> None:
        """Append one change (published on commit)."""
        self._uow.refuse_writes("audit.record")
        if not isinstance(change, Change):
            raise InvalidInput("change", "must be a Change", type(change).__name__)
        check_storable(change, "change")
        self._uow._audit.append(change)

    def record_many(self, changes: Sequence[Change]) -> None:
        """Append the changes, in order (published on commit; all or none)."""
        self._uow.refuse_writes("audit.record_many")
        changes = list(changes)
        for change in changes:
            if not isinstance(change, Change):
                raise InvalidInput("change", "must be a Change", type(change).__name__)
            check_storable(change, "change")
        self._uow._audit.extend(changes)

    def of_record(self, record_kind: str, record_id: str) -> list[Change]:
        """Every change of one record, oldest first (this unit of work's last)."""
        committed = self._uow._store._audit_index.get((record_kind, record_id), [])
        mine = [
            c for c in self._uow._audit if c.record_kind == record_kind and c.record_id == record_id
        ]
        return list(committed) + mine


def _lease_end(now: datetime, lease_seconds: float) -> datetime:
    """``now`` plus the lease, or InvalidInput when that passes year 9999."""
    try:
        return now + timedelta(seconds=lease_seconds)
    except OverflowError:
        raise InvalidInput("now", "a lease from this time would end after year 9999", now) from None

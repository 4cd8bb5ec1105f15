"""``DjangoStore``: a crm_procedures :class:`~crm_procedures.ports.Store` on the Django ORM.

A unit of work is one ``transaction.atomic()`` block; ``commit()`` ends it and
starts the next, ``rollback()`` (or leaving without a commit) rolls it back.
A save updates the row only where the version is the one the record was
loaded at, so a stale copy raises ``ConcurrencyConflict`` and overwrites
nothing.

Read-only units of work (``store.unit_of_work(read_only=True)``) refuse every
write with ``ReadOnlyUnitOfWork`` before it reaches the database, and run on
``read_using`` when given: in the example's settings a second alias of the
same SQLite file with deferred transactions and ``PRAGMA query_only``, so a
page that only reads takes no write lock and reads beside a writer (WAL). On
PostgreSQL the transaction is also declared ``READ ONLY``.

Visibility follows the library's reference predicates
(``crm_procedures.access.viewer``) and is applied inside the queries: each
repository narrows its query set (``_scope``) before counting, paging or
loading, so a list, a count and a get agree.

Text no store can hold (NUL, a lone surrogate: see
``crm_procedures.model._storable``) is refused with ``InvalidInput`` on every
write, leaving the tables as they were, and a read by such a value finds
nothing (``NotFound``, ``None`` or ``[]``), as on the shipped stores.

The outbox follows the fenced protocol: a claim leases due messages under a
new ``lease_token`` (a column, compared in the fence's UPDATE), a try starts
with ``start_attempt`` (which counts it), and ``record`` stores the outcome
over the version read, per-recipient states included.

The cadence queries (``prospects.due``) filter the viewer's prospects; the
scheduler's leases (``claim_due``, ``lease``, ``lease_of``,
``release_lease``) are rows of their own table and hold once the claiming
unit of work commits, as on the SQL store.

Capabilities: ``dump`` and ``threads`` (each thread has its own Django
connection; SQLite writers queue for the lock). This store has no keyword
search of visit reports (no ``fulltext``): ``search(keyword=...)`` is refused
with ``InvalidInput``, which the contract suite checks. It keeps no inbound
records (no ``inbound``: its units of work have no ``inbound`` or ``events``,
so the inbound services raise ``CapabilityMissing``) and offers no report
queries (no ``uow.reports``: the report services raise ``CapabilityMissing``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Collection, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
from django.db import IntegrityError, OperationalError, connections, models, transaction

from crm_procedures import (
    Activity,
    Appointment,
    AppointmentStatus,
    ConcurrencyConflict,
    Contact,
    Document,
    Group,
    InvalidInput,
    NotFound,
    OutboxMessage,
    OutboxStatus,
    Project,
    Prospect,
    ProspectStatus,
    ReadOnlyUnitOfWork,
    Relation,
    User,
    VisitReport,
)
from crm_procedures.access.viewer import (
    ActivityScope,
    Viewer,
    may_see_project,
)
from crm_procedures.model._storable import UNSTORABLE_REASON, storable, unstorable
from crm_procedures.model.audit import Change
from crm_procedures.model.due import DueCursor, DueEntry, check_cursor, due_entries
from crm_procedures.model.outbox import check_lease_seconds
from crm_procedures.serialization import structure, unstructure
from crm_store import models as m

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MISSING_FIRST = -(2**62)


def _aware(value: Any, name: str) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise InvalidInput(name, "must be a timezone-aware datetime", value)
    return value


def _key(value: datetime | None) -> int:
    """A sortable instant in microseconds; a missing time sorts first."""
    if value is None:
        return MISSING_FIRST
    return (value - EPOCH) // timedelta(microseconds=1)


def _page(records: list[Any], limit: int | None, offset: int) -> list[Any]:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise InvalidInput("limit", "must be a whole number >= 0", limit)
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidInput("offset", "must be a whole number >= 0", offset)
    return records[offset:] if limit is None else records[offset : offset + limit]


def _versioned(record: Any, version: int) -> Any:
    if isinstance(record, Prospect):
        copy = record.copy()
        copy.version = version
        return copy
    return attrs.evolve(record, version=version)


def _check_storable(value: Any, name: str) -> None:
    """InvalidInput naming the field when ``value`` holds text no store can keep."""
    path = unstorable(value)
    if path is not None:
        raise InvalidInput(path or name, UNSTORABLE_REASON)


def _unfindable(value: Any) -> bool:
    """True when ``value`` is text no store holds: a query for it finds nothing.

    (SQLite cannot even encode a lone surrogate as a query parameter.)
    """
    return isinstance(value, str) and not storable(value)


def _plain(record: Any) -> Any:
    """The record as JSON data (InvalidInput when it holds what JSON cannot)."""
    data = unstructure(record)
    try:
        return json.loads(json.dumps(data, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(None, f"cannot be stored as JSON: {exc}") from None


class DjangoStore:
    """The records in this app's Django models, on the database ``using``."""

    capabilities = frozenset({"dump", "threads", "cadence"})

    def __init__(self, using: str = "default", read_using: str | None = None) -> None:
        self.using = using
        self.read_using = using if read_using is None else read_using

    def unit_of_work(self, *, read_only: bool = False) -> DjangoUnitOfWork:
        """One transaction; ``read_only=True`` refuses writes and takes no write lock."""
        return DjangoUnitOfWork(self, read_only=read_only)

    def close(self) -> None:
        """Nothing to release: Django owns the connections."""

    def erase(self) -> None:
        """Delete every record (for tests: a new, empty store)."""
        with transaction.atomic(using=self.using):
            for model in ALL_MODELS:
                model.objects.using(self.using).all().delete()

    def dump(self) -> dict[str, list[Any]]:
        """Every row of every table, by primary key: for before/after comparisons."""
        with transaction.atomic(using=self.using):
            return {
                model.__name__: list(
                    model.objects.using(self.using).order_by("pk").values_list()  # type: ignore[attr-defined]
                )
                for model in ALL_MODELS
            }


class DjangoUnitOfWork:
    """One ``transaction.atomic()`` over every repository."""

    def __init__(self, store: DjangoStore, *, read_only: bool = False) -> None:
        self.read_only = read_only
        self.using = store.read_using if read_only else store.using
        self._atomic: Any = None
        self.relations = _RelationRepo(self, "relation")
        self.contacts = _ContactRepo(self, "contact")
        self.projects = _ProjectRepo(self, "project")
        self.prospects = _ProspectRepo(self, "prospect")
        self.activities = _ActivityRepo(self, "activity")
        self.appointments = _AppointmentRepo(self, "appointment")
        self.visit_reports = _VisitReportRepo(self, "visit_report")
        self.documents = _DocumentRepo(self, "document")
        self.users = _UserRepo(self, "user")
        self.groups = _GroupRepo(self, "group")
        self.definitions = _Definitions(self)
        self.outbox = _Outbox(self)
        self.audit = _Audit(self)

    def _begin(self) -> None:
        self._atomic = transaction.atomic(using=self.using)
        try:
            self._atomic.__enter__()
        except OperationalError as exc:  # the write lock was not free in time
            raise ConcurrencyConflict("transaction", "", None, None) from exc
        connection = connections[self.using]
        if self.read_only and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION READ ONLY")

    def refuse_writes(self, operation: str) -> None:
        """ReadOnlyUnitOfWork naming ``operation`` when this unit of work is read-only."""
        if self.read_only:
            raise ReadOnlyUnitOfWork(operation)

    def _end(self, keep: bool) -> None:
        if not keep:
            transaction.set_rollback(True, using=self.using)
        atomic, self._atomic = self._atomic, None
        try:
            atomic.__exit__(None, None, None)
        except OperationalError as exc:
            raise ConcurrencyConflict("transaction", "", None, None) from exc

    def commit(self) -> None:
        self._end(keep=True)
        self._begin()

    def rollback(self) -> None:
        self._end(keep=False)
        self._begin()

    def __enter__(self) -> DjangoUnitOfWork:
        self._begin()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._atomic is not None:
            transaction.set_rollback(True, using=self.using)
            atomic, self._atomic = self._atomic, None
            atomic.__exit__(*exc)

    def objects(self, model: type[models.Model]) -> Any:
        return model.objects.using(self.using)  # type: ignore[attr-defined]

    def hidden_projects(self, viewer: Viewer) -> list[str]:
        """The ids of the projects ``viewer`` may not see (none with ``project.read_all``)."""
        if viewer.all_projects:
            return []
        rows = self.objects(m.ProjectRow).values_list("id", "data")
        return [pid for pid, data in rows if not may_see_project(viewer, structure(data, Project))]


@attrs.frozen
class _Kind:
    model: type[m.Row]
    cls: type
    columns: Callable[[Any], dict[str, Any]]


KINDS: dict[str, _Kind] = {
    "relation": _Kind(
        m.RelationRow,
        Relation,
        lambda r: {"name": r.name, "account_manager": r.account_manager, "phone": r.phone},
    ),
    "contact": _Kind(
        m.ContactRow, Contact, lambda r: {"relation_id": r.relation_id, "phone": r.phone}
    ),
    "project": _Kind(m.ProjectRow, Project, lambda r: {"relation_id": r.relation_id}),
    "prospect": _Kind(
        m.ProspectRow,
        Prospect,
        lambda r: {"project_id": r.project_id, "status": ProspectStatus(r.status).value},
    ),
    "activity": _Kind(
        m.ActivityRow,
        Activity,
        lambda r: {
            "employee": r.employee,
            "relation_id": r.relation_id,
            "project_id": r.project_id,
        },
    ),
    "appointment": _Kind(
        m.AppointmentRow, Appointment, lambda r: {"employee": r.employee, "uid": r.uid}
    ),
    "visit_report": _Kind(
        m.VisitReportRow,
        VisitReport,
        lambda r: {"account_manager": r.account_manager, "relation_id": r.relation_id},
    ),
    "document": _Kind(
        m.DocumentRow, Document, lambda r: {"owner_kind": r.owner_kind, "owner_id": r.owner_id}
    ),
    "user": _Kind(m.UserRow, User, lambda r: {}),
    "group": _Kind(m.GroupRow, Group, lambda r: {}),
}
ALL_MODELS: list[type[models.Model]] = [
    *(k.model for k in KINDS.values()),
    m.ProspectLeaseRow,
    m.AppointmentParticipantRow,
    m.OutboxRow,
    m.DefinitionRow,
    m.AuditRow,
]


class _Repo:
    """What every record kind has: get, find, add, add_many, save, count."""

    def __init__(self, uow: DjangoUnitOfWork, kind: str) -> None:
        self._uow = uow
        self._kind = kind
        spec = KINDS[kind]
        self._model = spec.model
        self._cls = spec.cls
        self._columns = spec.columns

    # -- rows and records --

    def _rows(self, **filters: Any) -> Any:
        """The rows matching ``filters``; none when a filter is text no store holds."""
        rows = self._uow.objects(self._model)
        if any(_unfindable(v) for v in filters.values()):
            return rows.none()
        return rows.filter(**filters)

    def _load(self, data: Any) -> Any:
        return structure(data, self._cls)

    def _records(self, rows: Any) -> list[Any]:
        return [self._load(d) for d in rows.values_list("data", flat=True)]

    def _all(self, viewer: Viewer | None = None, **filters: Any) -> list[Any]:
        """The records matching ``filters`` that ``viewer`` may see (all with None)."""
        return self._records(self._visible_rows(viewer, **filters))

    def _visible_rows(self, viewer: Viewer | None, **filters: Any) -> Any:
        rows = self._rows(**filters)
        return rows if viewer is None else self._scope(rows, viewer)

    def _scope(self, rows: Any, viewer: Viewer) -> Any:
        """``rows`` narrowed to what ``viewer`` may see: the visibility, inside the query."""
        return rows

    def _check(self, record: Any) -> None:
        if not isinstance(record, self._cls):
            raise InvalidInput(self._kind, f"must be a {self._cls.__name__}", type(record).__name__)

    def _check_new(self, record: Any) -> None:
        self._check(record)
        _check_storable(record, self._kind)

    def _check_save(self, record: Any, current: Any) -> None:
        pass

    def _row(self, record: Any) -> models.Model:
        return self._model(
            id=record.id, version=record.version, data=_plain(record), **self._columns(record)
        )

    # -- the port --

    def get(self, record_id: str, viewer: Viewer | None = None) -> Any:
        record = self.find(record_id)
        if record is None or (
            viewer is not None and not self._visible_rows(viewer, id=record_id).exists()
        ):
            raise NotFound(self._kind, str(record_id))
        return record

    def find(self, record_id: str) -> Any:
        if not isinstance(record_id, str):
            return None
        data = self._rows(id=record_id).values_list("data", flat=True).first()
        return None if data is None else self._load(data)

    def add(self, record: Any) -> Any:
        self._uow.refuse_writes(f"{self._kind}.add")
        self._check_new(record)
        taken = self._rows(id=record.id).values_list("version", flat=True).first()
        if taken is not None:
            raise ConcurrencyConflict(self._kind, record.id, 0, taken)
        stored = _versioned(record, 1)
        self._row(stored).save(using=self._uow.using, force_insert=True)
        return stored

    def add_many(self, records: Iterable[Any]) -> None:
        self._uow.refuse_writes(f"{self._kind}.add_many")
        records = list(records)
        seen: set[str] = set()
        for record in records:
            self._check_new(record)
            if record.id in seen:
                raise ConcurrencyConflict(self._kind, record.id, 0, 1)
            seen.add(record.id)
        taken = self._rows(id__in=seen).values_list("id", "version").first()
        if taken is not None:
            raise ConcurrencyConflict(self._kind, taken[0], 0, taken[1])
        rows = [self._row(_versioned(r, 1)) for r in records]
        self._uow.objects(self._model).bulk_create(rows)

    def save(self, record: Any) -> Any:
        self._uow.refuse_writes(f"{self._kind}.save")
        self._check(record)
        _check_storable(record, self._kind)
        current = self.find(record.id)
        if current is None:
            raise NotFound(self._kind, record.id)
        version = record.version
        if current.version != version:
            raise ConcurrencyConflict(self._kind, record.id, version, current.version)
        self._check_save(record, current)
        stored = _versioned(record, version + 1)
        changed = self._rows(id=record.id, version=version).update(
            version=version + 1, data=_plain(stored), **self._columns(stored)
        )
        if changed != 1:
            actual = self._rows(id=record.id).values_list("version", flat=True).first()
            raise ConcurrencyConflict(self._kind, record.id, version, actual)
        return stored

    def count(self, viewer: Viewer | None = None) -> int:
        return int(self._visible_rows(viewer).count())


class _RelationRepo(_Repo):
    def _scope(self, rows: Any, viewer: Viewer) -> Any:
        return rows if viewer.sees_relations else rows.filter(account_manager=viewer.user_id)

    def by_account_manager(self, user_id: str) -> list[Relation]:
        return sorted(self._all(account_manager=user_id), key=lambda r: (r.name, r.id))

    def search(
        self,
        name_contains: str,
        limit: int | None = 50,
        offset: int = 0,
        viewer: Viewer | None = None,
    ) -> list[Relation]:
        if not isinstance(name_contains, str):
            raise InvalidInput("name_contains", "must be text", name_contains)
        _page([], limit, offset)
        if _unfindable(name_contains):
            return []
        # casefold() is Python's: matched here, not by the database's LIKE,
        # so that "%" and "_" are plain characters and every script folds alike
        needle = name_contains.casefold()
        found = [r for r in self._all(viewer) if needle in r.name.casefold()]
        return _page(sorted(found, key=lambda r: (r.name, r.id)), limit, offset)

    def by_phone(self, phone: str, viewer: Viewer | None = None) -> list[Relation]:
        return sorted(self._all(viewer, phone=phone), key=lambda r: r.id)


class _ContactRepo(_Repo):
    def of_relation(self, relation_id: str) -> list[Contact]:
        return sorted(self._all(relation_id=relation_id), key=lambda c: (c.last_name, c.id))

    def by_phone(self, phone: str) -> list[Contact]:
        return sorted(self._all(phone=phone), key=lambda c: c.id)


class _ProjectRepo(_Repo):
    def _scope(self, rows: Any, viewer: Viewer) -> Any:
        return rows.exclude(id__in=self._uow.hidden_projects(viewer))

    def of_relation(self, relation_id: str, viewer: Viewer | None = None) -> list[Project]:
        found = self._all(viewer, relation_id=relation_id)
        return sorted(found, key=lambda p: (p.name, p.id))

    def visible(self, viewer: Viewer | None = None) -> list[Project]:
        return sorted(self._all(viewer), key=lambda p: (p.name, p.id))


class _ProspectRepo(_Repo):
    def _scope(self, rows: Any, viewer: Viewer) -> Any:
        rows = rows.exclude(project_id__in=self._uow.hidden_projects(viewer))
        if not viewer.sees_preparing:
            rows = rows.exclude(status=ProspectStatus.PREPARING.value)
        return rows

    def _check_new(self, record: Prospect) -> None:
        self._check_prospect(record, 0)
        self._require_project(record.project_id)

    def _check_save(self, record: Prospect, current: Prospect) -> None:
        self._check_prospect(record, len(current.history))
        if record.project_id != current.project_id:
            self._require_project(record.project_id)

    def _check_prospect(self, record: Prospect, stored_history: int) -> None:
        self._check(record)
        for name in ("id", "project_id", "relation_id"):
            value = getattr(record, name)
            if not isinstance(value, str) or not value:
                raise InvalidInput(name, "must be a non-empty id", value)
        _check_storable(record, self._kind)
        for name in ("next_action_at", "became_prospect_at"):
            if getattr(record, name) is not None:
                _aware(getattr(record, name), name)
        if len(record.history) < stored_history:
            raise InvalidInput("history", "is append-only: entries may not be removed")
        seq = record.history[stored_history - 1].seq if stored_history else 0
        for i, entry in enumerate(record.history[stored_history:], start=stored_history):
            _aware(entry.at, f"history[{i}].at")
            if entry.seq <= seq:
                raise InvalidInput(f"history[{i}].seq", "must rise", entry.seq)
            seq = entry.seq

    def _require_project(self, project_id: str) -> None:
        if not self._uow.objects(m.ProjectRow).filter(id=project_id).exists():
            raise InvalidInput("project_id", "refers to no stored project", project_id)

    def add(self, record: Prospect) -> Prospect:
        stored: Prospect = super().add(record)
        record.version = stored.version
        return stored

    def save(self, record: Prospect) -> Prospect:
        stored: Prospect = super().save(record)
        record.version = stored.version
        return stored

    def of_project(
        self,
        project_id: str,
        viewer: Viewer | None = None,
        status: ProspectStatus | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Prospect]:
        _page([], limit, offset)
        filters = {} if status is None else {"status": ProspectStatus(status).value}
        found = sorted(self._all(viewer, project_id=project_id, **filters), key=lambda p: p.id)
        return _page(found, limit, offset)

    def count_by_status(self, project_id: str, viewer: Viewer | None = None) -> dict[str, int]:
        counts = {s.value: 0 for s in ProspectStatus}
        rows = self._visible_rows(viewer, project_id=project_id)
        for status in rows.values_list("status", flat=True):
            counts[status] += 1
        return counts

    def worklist(
        self,
        project_id: str,
        last_steps: Collection[str | None],
        viewer: Viewer | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Prospect]:
        _page([], limit, offset)
        steps = set(last_steps)
        running = self._all(viewer, project_id=project_id, status=ProspectStatus.RUNNING.value)
        found = [p for p in running if p.last_step in steps]
        found.sort(key=lambda p: (_key(p.next_action_at), p.id))
        return _page(found, limit, offset)

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
        _page([], limit, offset)
        found = self._due_found(project_id, role, owner, since, until, automatic, viewer)
        found.sort(key=lambda p: (_key(p.next_due_at), p.id))
        return _page(found, limit, offset)

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
        _page([], limit, 0)
        cursor = check_cursor(after)
        found = self._due_found(project_id, role, owner, since, until, automatic, viewer)
        return due_entries(found, cursor, limit)

    def _due_found(
        self,
        project_id: str | None,
        role: str | None,
        owner: str | None,
        since: datetime | None,
        until: datetime | None,
        automatic: bool | None,
        viewer: Viewer | None,
    ) -> list[Prospect]:
        lo = None if since is None else _key(_aware(since, "since"))
        hi = None if until is None else _key(_aware(until, "until"))
        filters: dict[str, Any] = {"status": ProspectStatus.RUNNING.value}
        if project_id is not None:
            filters["project_id"] = project_id
        return [
            p
            for p in self._all(viewer, **filters)
            if p.next_due_at is not None
            and (role is None or p.due_role == role)
            and (owner is None or p.owner == owner)
            and (automatic is None or p.due_automatic == automatic)
            and (lo is None or _key(p.next_due_at) >= lo)
            and (hi is None or _key(p.next_due_at) < hi)
        ]

    def claim_due(self, now: datetime, limit: int, worker: str, lease_seconds: float) -> list[str]:
        self._uow.refuse_writes("prospect.claim_due")
        _check_worker(worker)
        _page([], limit, 0)
        at = _key(_aware(now, "now"))
        until = _key(now + timedelta(seconds=check_lease_seconds(lease_seconds)))
        held = set(self._leases().filter(until_key__gt=at).values_list("prospect_id", flat=True))
        running = self._all(status=ProspectStatus.RUNNING.value)
        found = sorted(
            (
                p
                for p in running
                if p.due_automatic
                and p.next_due_at is not None
                and _key(p.next_due_at) <= at
                and p.id not in held
            ),
            key=lambda p: (_key(p.next_due_at), p.id),
        )
        return [p.id for p in found[:limit] if self._set_lease(p.id, worker, at, until)]

    def lease(self, prospect_id: str, worker: str, now: datetime, until: datetime) -> bool:
        self._uow.refuse_writes("prospect.lease")
        _check_worker(worker)
        at, end = _key(_aware(now, "now")), _key(_aware(until, "until"))
        if not isinstance(prospect_id, str) or _unfindable(prospect_id):
            raise InvalidInput("prospect_id", "must be a stored prospect's id", prospect_id)
        return self._set_lease(prospect_id, worker, at, end)

    def lease_of(self, prospect_id: str) -> tuple[str, datetime] | None:
        if not isinstance(prospect_id, str) or _unfindable(prospect_id):
            return None
        rows = self._leases().filter(prospect_id=prospect_id)
        if connections[self._uow.using].features.has_select_for_update:
            rows = rows.select_for_update()  # PostgreSQL: kept while the worker works
        row = rows.values_list("worker", "until_key").first()
        return None if row is None else (row[0], EPOCH + timedelta(microseconds=row[1]))

    def release_lease(self, prospect_id: str, worker: str) -> None:
        self._uow.refuse_writes("prospect.release_lease")
        if isinstance(prospect_id, str) and not _unfindable(prospect_id):
            self._leases().filter(prospect_id=prospect_id, worker=worker).delete()

    def _leases(self) -> Any:
        return self._uow.objects(m.ProspectLeaseRow)

    def _set_lease(self, prospect_id: str, worker: str, at: int, until: int) -> bool:
        """Lease ``prospect_id`` to ``worker`` unless another worker holds it after ``at``."""
        free = models.Q(until_key__lte=at) | models.Q(worker=worker)
        rows = self._leases().filter(prospect_id=prospect_id)
        if rows.filter(free).update(worker=worker, until_key=until) == 1:
            return True
        if rows.exists():
            return False  # another worker holds it
        try:
            with transaction.atomic(using=self._uow.using):  # a savepoint
                self._leases().create(prospect_id=prospect_id, worker=worker, until_key=until)
        except IntegrityError:
            return False  # taken by a concurrent claim
        return True


def _check_worker(worker: object) -> None:
    if not isinstance(worker, str) or not worker or not storable(worker):
        raise InvalidInput("worker", "must be a non-empty one-line name", worker)


class _ActivityRepo(_Repo):
    def _scope(self, rows: Any, viewer: Viewer) -> Any:
        rows = rows.exclude(project_id__in=self._uow.hidden_projects(viewer))
        scope = viewer.activity_scope
        if scope is ActivityScope.ALL:
            return rows
        if scope is ActivityScope.GROUP:
            return rows.filter(employee__in={viewer.user_id, *viewer.group_members})
        return rows.filter(employee=viewer.user_id)

    def _list(
        self, viewer: Viewer | None, limit: int, offset: int, **filters: Any
    ) -> list[Activity]:
        _page([], limit, offset)
        found = self._all(viewer, **filters)
        found.sort(key=lambda a: (_key(a.start), _key(a.created_at), a.id), reverse=True)
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
        found = self._list(viewer, 1_000_000_000, 0, employee=employee)
        if open_only:
            found = [a for a in found if a.completed_at is None]
        return _page(_of_kind(found, kind), limit, offset)

    def of_relation(
        self,
        relation_id: str,
        viewer: Viewer | None = None,
        limit: int = 50,
        offset: int = 0,
        kind: str | None = None,
    ) -> list[Activity]:
        if kind is None:
            return self._list(viewer, limit, offset, relation_id=relation_id)
        found = self._list(viewer, 1_000_000_000, 0, relation_id=relation_id)
        return _page(_of_kind(found, kind), limit, offset)

    def of_project(
        self,
        project_id: str,
        viewer: Viewer | None = None,
        limit: int = 50,
        offset: int = 0,
        kind: str | None = None,
    ) -> list[Activity]:
        if kind is None:
            return self._list(viewer, limit, offset, project_id=project_id)
        found = self._list(viewer, 1_000_000_000, 0, project_id=project_id)
        return _page(_of_kind(found, kind), limit, offset)


def _of_kind(found: list[Activity], kind: str | None) -> list[Activity]:
    return found if kind is None else [a for a in found if a.kind == kind]


class _AppointmentRepo(_Repo):
    """Appointments; ``AppointmentParticipantRow`` says who takes part besides the employee."""

    def _participants(self, records: Iterable[Appointment], new: bool) -> None:
        """Make the participant rows of ``records`` what their ``participants`` say."""
        records = list(records)
        rows = self._uow.objects(m.AppointmentParticipantRow)
        if not new:
            rows.filter(appointment_id__in=[a.id for a in records]).delete()
        rows.bulk_create(
            m.AppointmentParticipantRow(appointment_id=a.id, user_id=user)
            for a in records
            for user in sorted(set(a.participants) - {a.employee})
        )

    def add(self, record: Any) -> Any:
        stored = super().add(record)
        self._participants([stored], True)
        return stored

    def add_many(self, records: Iterable[Any]) -> None:
        records = list(records)
        super().add_many(records)
        self._participants(records, True)

    def save(self, record: Any) -> Any:
        stored = super().save(record)
        self._participants([stored], False)
        return stored

    def agenda(self, employee: str, start: datetime, end: datetime) -> list[Appointment]:
        """Their own appointments and those they take part in, each once, by start."""
        lo, hi = _key(_aware(start, "start")), _key(_aware(end, "end"))
        if _unfindable(employee):
            return []
        taking_part = (
            self._uow.objects(m.AppointmentParticipantRow)
            .filter(user_id=employee)
            .values_list("appointment_id", flat=True)
        )
        rows = self._rows().filter(models.Q(employee=employee) | models.Q(id__in=taking_part))
        found = [
            a
            for a in self._records(rows)
            if a.status is AppointmentStatus.CONFIRMED
            and _key(a.start) < hi
            and (a.rrule is not None or _key(a.end) > lo)
        ]
        return sorted(found, key=lambda a: (_key(a.start), a.id))

    def by_uid(self, uid: str) -> Appointment | None:
        found = sorted(self._all(uid=uid), key=lambda a: a.id)
        return found[0] if found else None

    def of_project(self, project_id: str, start: datetime, end: datetime) -> list[Appointment]:
        # AppointmentRow has no project_id column: this reads every appointment.
        # A column (and index) in a migration makes it one query, as for agenda.
        lo, hi = _key(_aware(start, "start")), _key(_aware(end, "end"))
        found = [
            a
            for a in self._all()
            if a.project_id == project_id
            and a.status is AppointmentStatus.CONFIRMED
            and _key(a.start) < hi
            and (a.rrule is not None or _key(a.end) > lo)
        ]
        return sorted(found, key=lambda a: (_key(a.start), a.id))


class _VisitReportRepo(_Repo):
    def _scope(self, rows: Any, viewer: Viewer) -> Any:
        if viewer.reads_visit_reports:
            return rows
        return rows.filter(account_manager=viewer.user_id)

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
        _page([], limit, offset)
        if keyword is not None and keyword.strip():
            raise InvalidInput("keyword", "this store has no keyword search of visit reports")
        lo = None if since is None else _key(_aware(since, "since"))
        hi = None if until is None else _key(_aware(until, "until"))
        filters: dict[str, Any] = {}
        if account_manager is not None:
            filters["account_manager"] = account_manager
        if relation_id is not None:
            filters["relation_id"] = relation_id
        found = [
            r
            for r in self._all(viewer, **filters)
            if (visit_type is None or r.visit_type == visit_type)
            and (lo is None or _key(r.start) >= lo)
            and (hi is None or _key(r.start) < hi)
        ]
        found.sort(key=lambda r: (_key(r.start), r.id), reverse=True)
        return _page(found, limit, offset)


class _DocumentRepo(_Repo):
    def of_owner(self, owner_kind: str, owner_id: str) -> list[Document]:
        found = self._all(owner_kind=owner_kind, owner_id=owner_id)
        return sorted(found, key=lambda d: (_key(d.added_at), d.id))


class _UserRepo(_Repo):
    def all(self) -> list[User]:
        return sorted(self._all(), key=lambda u: u.id)


class _GroupRepo(_Repo):
    def all(self) -> list[Group]:
        return sorted(self._all(), key=lambda g: g.id)


class _Definitions:
    def __init__(self, uow: DjangoUnitOfWork) -> None:
        self._uow = uow
        self._rows = lambda: uow.objects(m.DefinitionRow)

    def put(self, key: str, data: dict[str, Any]) -> int:
        self._uow.refuse_writes("definitions.put")
        if not isinstance(key, str) or not key.strip():
            raise InvalidInput("key", "must be a non-empty text", key)
        if not storable(key):
            raise InvalidInput("key", UNSTORABLE_REASON)
        if not isinstance(data, dict):
            raise InvalidInput("data", "must be a mapping of plain data", type(data).__name__)
        try:
            text = json.dumps(data, sort_keys=True, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidInput("data", f"is not plain JSON-compatible data: {exc}") from None
        version = len(self.versions(key)) + 1
        self._rows().create(key=key, version=version, text=text)
        return version

    def get(self, key: str, version: int | None = None) -> dict[str, Any]:
        rows = self._rows().none() if _unfindable(key) else self._rows().filter(key=key)
        row = (
            rows.order_by("-version").first()
            if version is None
            else rows.filter(version=version).first()
        )
        if row is None:
            raise NotFound("definition", key if version is None else f"{key}@{version}")
        data: dict[str, Any] = json.loads(row.text)
        return data

    def versions(self, key: str) -> list[int]:
        if _unfindable(key):
            return []
        return list(
            self._rows().filter(key=key).order_by("version").values_list("version", flat=True)
        )


class _Outbox:
    """The outbox table: every change of a message is an UPDATE conditional on its version."""

    def __init__(self, uow: DjangoUnitOfWork) -> None:
        self._uow = uow
        self._rows = lambda: uow.objects(m.OutboxRow)

    @staticmethod
    def _columns(message: OutboxMessage) -> dict[str, Any]:
        return {
            "version": message.version,
            "data": _plain(message),
            "key": message.key,
            "channel": message.channel,
            "status": message.status.value,
            "due_key": _key(message.due_at),
            "created_key": _key(message.created_at),
            "lease_token": message.lease_token,
        }

    def _replace(self, message: OutboxMessage, **where: Any) -> OutboxMessage | None:
        """Store ``message`` as its next version, where the row is still at its version.

        ``where`` adds conditions (the fence's lease token); None when the row
        no longer matches (someone changed it since it was read).
        """
        new = attrs.evolve(message, version=message.version + 1)
        changed = (
            self._rows()
            .filter(id=message.id, version=message.version, **where)
            .update(**self._columns(new))
        )
        return new if changed == 1 else None

    def add(self, message: OutboxMessage) -> None:
        self._uow.refuse_writes("outbox.add")
        if not isinstance(message, OutboxMessage):
            raise InvalidInput("message", "must be an OutboxMessage", type(message).__name__)
        try:
            json.dumps(dict(message.payload), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidInput("payload", f"must be plain JSON data: {exc}") from None
        _check_storable(message, "message")
        if self._rows().filter(key=message.key).exists():
            return
        taken = self._rows().filter(id=message.id).values_list("version", flat=True).first()
        if taken is not None:
            raise ConcurrencyConflict("outbox_message", message.id, 0, taken)
        self._rows().create(id=message.id, **self._columns(_versioned(message, 1)))

    def claim_due(
        self,
        now: datetime,
        limit: int,
        lease_seconds: float,
        channels: Collection[str] | None = None,
    ) -> list[OutboxMessage]:
        self._uow.refuse_writes("outbox.claim_due")
        _page([], limit, 0)
        check_lease_seconds(lease_seconds)
        at = _key(_aware(now, "now"))
        rows = self._rows().filter(status=OutboxStatus.PENDING.value, due_key__lte=at)
        if channels is not None:
            rows = rows.filter(channel__in=[c for c in channels if not _unfindable(c)])
        rows = rows.order_by("due_key", "created_key", "id")[:limit]
        due = [structure(d, OutboxMessage) for d in rows.values_list("data", flat=True)]
        if not due:
            return []
        until = now + timedelta(seconds=lease_seconds)
        token = uuid.uuid4().hex
        claimed = []
        for message in due:
            leased = self._replace(attrs.evolve(message, due_at=until, lease_token=token))
            if leased is not None:  # else: claimed and changed meanwhile (not on SQLite)
                claimed.append(leased)
        return claimed

    def start_attempt(
        self, message_id: str, lease_token: str, now: datetime, lease_seconds: float
    ) -> OutboxMessage | None:
        self._uow.refuse_writes("outbox.start_attempt")
        until = _aware(now, "now") + timedelta(seconds=check_lease_seconds(lease_seconds))
        if not isinstance(message_id, str) or not isinstance(lease_token, str):
            raise InvalidInput("lease_token", "message id and lease token must be text")
        if _unfindable(message_id) or _unfindable(lease_token):
            return None
        held = {"lease_token": lease_token, "status": OutboxStatus.PENDING.value}
        data = self._rows().filter(id=message_id, **held).values_list("data", flat=True).first()
        if data is None:
            return None  # claimed by another dispatcher since, or settled
        message = structure(data, OutboxMessage)
        renewed = attrs.evolve(message, due_at=until, attempts=message.attempts + 1)
        return self._replace(renewed, **held)

    def record(self, message: OutboxMessage) -> OutboxMessage:
        self._uow.refuse_writes("outbox.record")
        if not isinstance(message, OutboxMessage):
            raise InvalidInput("message", "must be an OutboxMessage", type(message).__name__)
        _check_storable(message, "message")
        current = self.get(message.id)
        outcome = attrs.evolve(
            current,
            status=message.status,
            attempts=message.attempts,
            last_error=message.last_error,
            due_at=message.due_at,
            delivered_at=message.delivered_at,
            recipients=message.recipients,
            lease_token=message.lease_token,
            version=message.version,
        )
        stored = None if current.version != message.version else self._replace(outcome)
        if stored is None:
            actual = self._rows().filter(id=message.id).values_list("version", flat=True).first()
            raise ConcurrencyConflict("outbox_message", message.id, message.version, actual)
        return stored

    def mark_delivered(self, message_id: str, at: datetime) -> None:
        self._uow.refuse_writes("outbox.mark_delivered")
        _aware(at, "at")
        message = self.get(message_id)
        if message.status is not OutboxStatus.DELIVERED:
            self._settle(
                attrs.evolve(
                    message, status=OutboxStatus.DELIVERED, delivered_at=at, lease_token=None
                )
            )

    def mark_failed(self, message_id: str, error: str, retry_at: datetime | None) -> None:
        self._uow.refuse_writes("outbox.mark_failed")
        if retry_at is not None:
            _aware(retry_at, "retry_at")
        message = self.get(message_id)
        if message.status is OutboxStatus.DELIVERED:
            return  # a late report of a try that another dispatcher completed
        error = str(error)
        _check_storable(error, "error")
        if retry_at is None:
            failed = attrs.evolve(
                message, status=OutboxStatus.FAILED, last_error=error, lease_token=None
            )
        else:
            failed = attrs.evolve(
                message,
                status=OutboxStatus.PENDING,
                last_error=error,
                due_at=retry_at,
                lease_token=None,
            )
        self._settle(failed)

    def _settle(self, message: OutboxMessage) -> None:
        if self._replace(message) is None:
            actual = self._rows().filter(id=message.id).values_list("version", flat=True).first()
            raise ConcurrencyConflict("outbox_message", message.id, message.version, actual)

    def get(self, message_id: str) -> OutboxMessage:
        data = (
            self._rows().filter(id=message_id).values_list("data", flat=True).first()
            if isinstance(message_id, str) and not _unfindable(message_id)
            else None
        )
        if data is None:
            raise NotFound("outbox_message", str(message_id))
        return structure(data, OutboxMessage)

    def list(self, status: str | None = None, limit: int = 1000) -> list[OutboxMessage]:
        _page([], limit, 0)
        rows = self._rows()
        if status is not None:
            try:
                rows = rows.filter(status=OutboxStatus(status).value)
            except ValueError:
                known = ", ".join(s.value for s in OutboxStatus)
                raise InvalidInput("status", f"must be one of {known}", status) from None
        rows = rows.order_by("created_key", "id")[:limit]
        return [structure(d, OutboxMessage) for d in rows.values_list("data", flat=True)]


class _Audit:
    def __init__(self, uow: DjangoUnitOfWork) -> None:
        self._uow = uow
        self._rows = lambda: uow.objects(m.AuditRow)

    def record(self, change: Change) -> None:
        self._uow.refuse_writes("audit.record")
        if not isinstance(change, Change):
            raise InvalidInput("change", "must be a Change", type(change).__name__)
        _check_storable(change, "change")
        self._rows().create(
            record_kind=change.record_kind, record_id=change.record_id, data=_plain(change)
        )

    def of_record(self, record_kind: str, record_id: str) -> list[Change]:
        if _unfindable(record_kind) or _unfindable(record_id):
            return []
        rows = self._rows().filter(record_kind=record_kind, record_id=record_id).order_by("pk")
        return [structure(d, Change) for d in rows.values_list("data", flat=True)]

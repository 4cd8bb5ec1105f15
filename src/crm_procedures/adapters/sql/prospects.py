"""The SQL repository of prospects: rows and history, worklists, due work, claims, bulk status.

A prospect is a row of ``prospects`` plus its history rows in
``prospect_history`` (appended; a stored entry changes only to be marked
superseded or to follow its prospect to another project). The hot paths
(load, save after a step, the worklist) run fixed driver SQL or statements
compiled once (``uow.prepared``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Final, cast

from sqlalchemy import Select, bindparam, func, select, union_all
from sqlalchemy.exc import IntegrityError

from crm_procedures.access.viewer import Viewer
from crm_procedures.adapters._common import (
    EPOCH,
    check_bulk_change,
    check_limit,
    check_prospect,
    check_prospect_texts,
    db_count,
    some_unstorable,
    utc_us,
)
from crm_procedures.adapters.sql import _loaders
from crm_procedures.adapters.sql import due as _due
from crm_procedures.adapters.sql import schema as s
from crm_procedures.adapters.sql._prospect_rows import (
    _history_rows,
    _newly_superseded,
    _prospect_row,
)
from crm_procedures.adapters.sql._repo import _DUMP_DT, _paged, _surely_storable
from crm_procedures.adapters.sql._uow import SqlTransaction
from crm_procedures.adapters.sql._visibility import _prospect_visible
from crm_procedures.errors import ConcurrencyConflict, CrmError, InvalidInput, NotFound
from crm_procedures.model._checks import require_aware
from crm_procedures.model._storable import UNSTORABLE_REASON
from crm_procedures.model.prospect import BulkStatusChange, HistoryEntry, Prospect, ProspectStatus

_P = s.prospects.c
_PROSPECT_COLUMNS: Final = [
    c for c in s.prospects.columns if c.name not in ("next_action_key", "next_due_key")
]
_WIDTH: Final = len(_PROSPECT_COLUMNS)
_TABLE: Final = [c.name for c in s.prospects.columns]
_READ_AT: Final = {c.name: i for i, c in enumerate(_PROSPECT_COLUMNS)}
# A sort key column follows its time's text: the same text gives the same key.
_FOLLOWS: Final = {"next_action_key": "next_action_at", "next_due_key": "next_due_at"}
_COMPARED: Final = tuple(
    (i, _TABLE.index(_FOLLOWS.get(name, name)), _READ_AT[_FOLLOWS.get(name, name)])
    for i, name in enumerate(_TABLE)
    if name not in ("id", "version")
)
"""(column to set, the column that tells whether it changed: its place in a
written row and in a read one) for every column a save may set."""
_AS_READ: Final = tuple(_TABLE.index(c.name) for c in _PROSPECT_COLUMNS)
_VERSION_AT: Final = _TABLE.index("version")
_H = s.prospect_history.c
_ENTRY_COLUMNS: Final = [
    _H.seq,
    _H.kind,
    _H.at,
    _H.actor,
    _H.role,
    _H.step,
    _H.supersedes,
    _H.detail,
    _H.note,
]
_HISTORY_OF_ONE: Final = (
    "SELECT prospect_id, seq, kind, at, actor, role, step, supersedes, detail, note "
    "FROM prospect_history WHERE prospect_id = ? ORDER BY seq"
)
_HISTORY_OF_MANY: Final = (
    "SELECT prospect_id, seq, kind, at, actor, role, step, supersedes, detail, note "
    "FROM prospect_history WHERE prospect_id IN ({}) ORDER BY prospect_id, seq"
)


def _check_worker(worker: object) -> None:
    if not isinstance(worker, str) or not worker or some_unstorable(worker):
        raise InvalidInput("worker", "must be a non-empty one-line name", worker)


class _ProspectRepo(_due.DuePageMixin):
    """Prospects: one row each plus ``prospect_history`` rows, no JSON."""

    _kind = "prospect"

    def __init__(self, uow: SqlTransaction) -> None:
        self._uow = uow

    # reading

    def _fetch(self, statement: Select[Any], params: Any = None) -> list[Prospect]:
        return self._build(self._uow.execute(statement, params).all())

    def _build(
        self, rows: Sequence[Any], histories: dict[str, list[HistoryEntry]] | None = None
    ) -> list[Prospect]:
        """Prospects of ``rows``; their histories read here unless given."""
        if histories is None:
            histories = self._histories(rows)
        out = []
        loaded = self._uow._loaded
        project_of = self._uow._project_of
        build = _loaders.prospect_from_row
        for r in rows:
            out.append(build(r, histories.get(r[0], [])))
            loaded[r[0]] = (r[12], r[13])
            project_of[r[0]] = r[1]
        return out

    def _histories(self, rows: Sequence[Any]) -> dict[str, list[HistoryEntry]]:
        histories: dict[str, list[HistoryEntry]] = {}
        wanted = [r[0] for r in rows if r[13]]
        entry = _loaders.history_entry
        if len(wanted) == 1:
            histories[wanted[0]] = [
                entry(h) for h in self._uow.fast(self._history_sql(), (wanted[0],)).fetchall()
            ]
        elif wanted:
            ph = self._uow._placeholder
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                found = self._uow.fast(
                    _HISTORY_OF_MANY.format(", ".join([ph] * len(chunk))), chunk
                ).fetchall()
                for h in found:
                    histories.setdefault(h[0], []).append(entry(h))
        return histories

    def _select(self) -> Select[Any]:
        return select(*_PROSPECT_COLUMNS)

    def _history_sql(self) -> str:
        return _HISTORY_OF_ONE.replace("?", self._uow._placeholder)

    def _by_id(self, record_id: str, viewer: Viewer | None) -> list[Prospect]:
        """One prospect with its history in one statement (a row per entry, or one without)."""

        def build() -> Select[Any]:
            return (
                select(*_PROSPECT_COLUMNS, *_ENTRY_COLUMNS)
                .select_from(s.prospects.outerjoin(s.prospect_history, _H.prospect_id == _P.id))
                .where(_P.id == bindparam("rid", ""), *_prospect_visible(viewer))
                .order_by(_H.seq)
            )

        cursor = self._uow.prepared(("prospect", "get+history", viewer), build, rid=record_id)
        rows = cursor.fetchall()
        if not rows:
            return []
        w = _WIDTH
        # history_entry reads (prospect_id, seq, ...): the entry's columns start at w.
        entry = _loaders.history_entry
        history = [entry(h[w - 1 : w + 9]) for h in rows if h[w] is not None]
        first = rows[0]
        self._uow._rows[first[0]] = (first[12], first[:w])
        return self._build([first[:w]], {first[0]: history})

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
        check_prospect(record, known[1], texts=False)
        values = _prospect_row(record)
        new_entries = _history_rows(record, known[1])
        # Every text of the prospect and its new entries is in these rows: one
        # scan of them, and only on a find the walk that names the field.
        if not _surely_storable([*values, *[v for e in new_entries for v in e]]):
            check_prospect_texts(record, known[1])
        update, params = self._update(rid, version, values)
        newly = _newly_superseded(record, known[1]) if new_entries else []
        moved = self._uow._project_of.get(rid) != record.project_id
        with self._uow.atomic(1 + len(new_entries) + len(newly) + moved):
            try:
                result = self._uow.fast(update, params)
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
            insert = self._uow._store.insert_sql(s.prospect_history)
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
        self._uow._rows[rid] = (version + 1, tuple([values[i] for i in _AS_READ]))
        return record.copy()

    def _update(
        self, rid: str, version: int, values: tuple[Any, ...]
    ) -> tuple[str, tuple[Any, ...]]:
        """The UPDATE of a prospect row to ``values`` (version + 1) and its parameters.

        When the row at ``version`` was read or written in this unit of work,
        only the columns that differ from it are set (with the version): an
        index over columns left out is not touched, which a step's commit
        pays for. Otherwise every column is set. The ``version`` condition
        holds either way, so a row changed meanwhile is never overwritten.
        """
        ph = self._uow._placeholder
        store = self._uow._store
        known = self._uow._rows.get(rid)
        if known is None or known[0] != version:
            changed: tuple[int, ...] = tuple(c[0] for c in _COMPARED)
        else:
            stored = known[1]
            changed = tuple([i for i, w, r in _COMPARED if values[w] != stored[r]])
        key = f"update:prospects:{changed}"
        update = store._inserts.get(key)
        if update is None:
            sets = ", ".join(f'"{_TABLE[i]}" = {ph}' for i in (_VERSION_AT, *changed))
            update = f"UPDATE prospects SET {sets} WHERE id = {ph} AND version = {ph}"
            if len(store._inserts) < 4096:
                store._inserts[key] = update
        return update, (version + 1, *[values[i] for i in changed], rid, version)

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

"""The SQL store's cadence queries: due prospects in time order, and the scheduler's leases.

Every query here is one range of an index added by migration 5: per owner
``(owner, next_due_key, id)``, per role ``(project_id, due_role,
next_due_key, id)``, and for the scheduler the partial index of automatic
steps ``(next_due_key, id) WHERE due_automatic``. A claim locks the rows it
picks with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (another scheduler skips
them instead of waiting) and upserts their leases in the same statement; on
SQLite the write lock serialises claimers. On PostgreSQL every path locks a
prospect's row before its lease row (claim, and a step's :func:`lease_of`), so
claims and steps never wait on each other in a circle.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import and_, bindparam, exists, false, select, true, tuple_
from sqlalchemy.exc import IntegrityError

from crm_procedures.adapters._common import (
    EPOCH,
    check_limit,
    db_count,
    some_unstorable,
    utc_us,
)
from crm_procedures.adapters.sql import schema as s
from crm_procedures.adapters.sql._repo import _paged
from crm_procedures.adapters.sql._visibility import _prospect_visible
from crm_procedures.errors import ConcurrencyConflict, InvalidInput
from crm_procedures.model._checks import MAX_LINE, require_aware
from crm_procedures.model._storable import UNSTORABLE_REASON
from crm_procedures.model.due import DueCursor, DueEntry, check_cursor
from crm_procedures.model.outbox import check_lease_seconds
from crm_procedures.model.prospect import Prospect, ProspectStatus

if TYPE_CHECKING:
    from crm_procedures.access.viewer import Viewer

__all__ = ["DuePageMixin", "claim_due", "due", "due_page", "lease_of", "release_lease", "set_lease"]

_P = s.prospects.c
_L = s.prospect_leases.c


def due(
    repo: Any,
    *,
    project_id: str | None,
    role: str | None,
    owner: str | None,
    since: datetime | None,
    until: datetime | None,
    automatic: bool | None,
    viewer: Viewer | None,
    limit: int,
    offset: int,
) -> list[Prospect]:
    """Running prospects with a due step in ``[since, until)``, by due time, then id."""
    check_limit(limit, offset)
    if some_unstorable(project_id, role, owner):
        return []  # no stored prospect holds such a character
    where = [_P.next_due_key.is_not(None), _P.status == ProspectStatus.RUNNING.value]
    if project_id is not None:
        where.append(_P.project_id == project_id)
    if role is not None:
        where.append(_P.due_role == role)
    if owner is not None:
        where.append(_P.owner == owner)
    if since is not None:
        where.append(_P.next_due_key >= utc_us(require_aware(since, "since")))
    if until is not None:
        where.append(_P.next_due_key < utc_us(require_aware(until, "until")))
    if automatic is not None:
        where.append(_P.due_automatic == automatic)
    statement = repo._select().where(*where, *_prospect_visible(viewer))
    statement = _paged(statement.order_by(_P.next_due_key, _P.id), limit, offset)
    result: list[Prospect] = repo._fetch(statement)
    return result


_ENTRY_COLUMNS: Final = (
    _P.id,
    _P.project_id,
    _P.relation_id,
    _P.due_step,
    _P.due_role,
    _P.next_due_key,
    _P.owner,
    _P.due_automatic,
)


def due_page(
    uow: Any,
    *,
    project_id: str | None,
    role: str | None,
    owner: str | None,
    since: datetime | None,
    until: datetime | None,
    automatic: bool | None,
    viewer: Viewer | None,
    limit: int,
    after: DueEntry | DueCursor | None,
) -> list[DueEntry]:
    """The rows :func:`due` lists, from the due index alone: no prospect, no history.

    One statement per shape (which filters are given, the page size, the
    viewer), compiled once to driver SQL; the values are bound per call. The
    keyset ``(next_due_key, id) > (after)`` continues the index range where
    the previous page stopped.
    """
    check_limit(limit, 0)
    cursor = check_cursor(after)
    values: dict[str, Any] = {}
    if since is not None:
        values["due_since"] = utc_us(require_aware(since, "since"))
    if until is not None:
        values["due_until"] = utc_us(require_aware(until, "until"))
    if some_unstorable(project_id, role, owner) or (cursor and some_unstorable(cursor[1])):
        return []  # no stored prospect holds such a character
    if limit == 0:
        return []
    for name, value in (("due_project", project_id), ("due_role", role), ("due_owner", owner)):
        if value is not None:
            values[name] = value
    if cursor is not None:
        values["due_after_key"], values["due_after_id"] = cursor
    shape = ("due_page", tuple(sorted(values)), automatic, limit, viewer)

    def build() -> Any:
        where = [_P.next_due_key.is_not(None), _P.status == ProspectStatus.RUNNING.value]
        columns = {
            "due_project": _P.project_id,
            "due_role": _P.due_role,
            "due_owner": _P.owner,
        }
        for name, column in columns.items():
            if name in values:
                where.append(column == bindparam(name, ""))
        if "due_since" in values:
            where.append(_P.next_due_key >= bindparam("due_since", 0, type_=s.KEY))
        if "due_until" in values:
            where.append(_P.next_due_key < bindparam("due_until", 0, type_=s.KEY))
        if automatic is not None:
            where.append(_P.due_automatic == (true() if automatic else false()))
        if cursor is not None:
            where.append(
                tuple_(_P.next_due_key, _P.id)
                > tuple_(bindparam("due_after_key", 0, type_=s.KEY), bindparam("due_after_id", ""))
            )
        return (
            select(*_ENTRY_COLUMNS)
            .where(*where, *_prospect_visible(viewer))
            .order_by(_P.next_due_key, _P.id)
            .limit(db_count(limit))
        )

    rows = uow.prepared(shape, build, **values).fetchall()
    return [
        DueEntry(
            pid,
            project,
            relation,
            step,
            role_,
            EPOCH + timedelta(microseconds=key),
            who,
            bool(auto),
        )
        for pid, project, relation, step, role_, key, who, auto in rows
    ]


def claim_due(uow: Any, now: datetime, limit: int, worker: str, lease_seconds: float) -> list[str]:
    """Ids of prospects whose automatic step is due at ``now``, leased to ``worker``.

    A prospect leased to another worker until after ``now`` is not claimed.
    The lease holds once the unit of work commits.
    """
    check_limit(limit, 0)
    lease_seconds = check_lease_seconds(lease_seconds)
    at = utc_us(require_aware(now, "now"))
    try:
        until = utc_us(now + timedelta(seconds=lease_seconds))
    except OverflowError:
        raise InvalidInput("now", "a lease from this time would end after year 9999", now) from None
    if uow.dialect == "postgresql":
        return _claim_postgresql(uow, at, until, db_count(limit), worker)
    held = exists().where(and_(_L.prospect_id == _P.id, _L.until_key > at))
    statement = (
        select(_P.id)
        .where(
            _P.due_automatic == True,  # noqa: E712 (SQL, not Python)
            _P.next_due_key <= at,
            _P.status == ProspectStatus.RUNNING.value,
            ~held,
        )
        .order_by(_P.next_due_key, _P.id)
        .limit(db_count(limit))
    )
    found = list(uow.execute(statement).scalars())
    return [pid for pid in found if _try_lease(uow, pid, worker, at, until)]


_CLAIM_POSTGRESQL = """\
WITH picked AS (
  SELECT p.id, p.next_due_key FROM prospects p
  WHERE p.due_automatic AND p.next_due_key <= %(at)s AND p.status = 'running'
    AND NOT EXISTS (SELECT 1 FROM prospect_leases l
                    WHERE l.prospect_id = p.id AND l.until_key > %(at)s)
  ORDER BY p.next_due_key, p.id LIMIT %(limit)s
  FOR UPDATE OF p SKIP LOCKED
), leased AS (
  INSERT INTO prospect_leases (prospect_id, worker, until_key)
  SELECT id, %(worker)s, %(until)s FROM picked
  ON CONFLICT (prospect_id) DO UPDATE
    SET worker = EXCLUDED.worker, until_key = EXCLUDED.until_key
    WHERE prospect_leases.until_key <= %(at)s OR prospect_leases.worker = EXCLUDED.worker
  RETURNING prospect_id
)
SELECT picked.id FROM picked JOIN leased ON leased.prospect_id = picked.id
ORDER BY picked.next_due_key, picked.id"""


def _claim_postgresql(uow: Any, at: int, until: int, limit: int, worker: str) -> list[str]:
    """The claim on PostgreSQL: one statement, one round trip, whatever ``limit``.

    It picks the due rows other claimers have not locked (``SKIP LOCKED``),
    and upserts their leases where none is held after ``at`` by another
    worker: a prospect another scheduler leased after this statement's
    snapshot was taken is locked here but refused by the upsert, which reads
    the lease as committed. Locks are taken prospect first, then lease, as
    :func:`lease_of` takes them, so a claim and a step never wait on each
    other in a circle (they did when the lease was locked before the prospect:
    PostgreSQL broke the deadlock after a second by failing one of them).
    """
    uow._last = ("prospect_lease", "", None)
    cursor = uow.fast(
        _CLAIM_POSTGRESQL, {"at": at, "until": until, "limit": limit, "worker": worker}
    )
    return [str(row[0]) for row in cursor.fetchall()]


def _try_lease(uow: Any, prospect_id: str, worker: str, now_key: int, until_key: int) -> bool:
    """:func:`set_lease`, or False when another worker's transaction changed the lease
    row at the same time (PostgreSQL refuses the concurrent update): that worker has it."""
    try:
        with uow.savepoint():
            return set_lease(uow, prospect_id, worker, now_key, until_key)
    except ConcurrencyConflict:
        return False


def set_lease(uow: Any, prospect_id: str, worker: str, now_key: int, until_key: int) -> bool:
    """Lease ``prospect_id`` to ``worker`` unless another worker holds it after ``now_key``."""
    for field, value in (("prospect_id", prospect_id), ("worker", worker)):
        if some_unstorable(value):
            raise InvalidInput(field, UNSTORABLE_REASON, None)
        if len(value) > MAX_LINE:
            raise InvalidInput(field, f"is longer than {MAX_LINE} characters", None)
    for field, key in (("now_key", now_key), ("until_key", until_key)):
        if isinstance(key, bool) or not isinstance(key, int) or abs(key) >= 2**63:
            raise InvalidInput(field, "must be a time in microseconds since 1970 (utc_us)", None)
    uow._last = ("prospect_lease", prospect_id, None)
    taken = uow.execute(
        s.prospect_leases.update()
        .where(
            _L.prospect_id == prospect_id,
            (_L.until_key <= now_key) | (_L.worker == worker),
        )
        .values(worker=worker, until_key=until_key)
    )
    if taken.rowcount == 1:
        return True
    try:
        with uow.savepoint():
            uow.execute(
                s.prospect_leases.insert().values(
                    prospect_id=prospect_id, worker=worker, until_key=until_key
                )
            )
    except IntegrityError:
        return False  # another worker holds it
    return True


def lease_of(uow: Any, prospect_id: str) -> tuple[str, int] | None:
    """The worker holding the lease of ``prospect_id`` and its end (microseconds), or ``None``.

    On PostgreSQL the prospect row and then the lease row stay locked until
    the unit of work ends, so a worker that checks its lease keeps it while it
    works; the prospect first, in the order a claim locks them.
    """
    if some_unstorable(prospect_id):
        return None  # no stored id holds such a character
    if uow.dialect == "postgresql":
        row = uow.fast(_LEASE_OF_POSTGRESQL, (prospect_id,)).fetchone()
        return None if row is None else (str(row[0]), int(row[1]))
    statement = select(_L.worker, _L.until_key).where(_L.prospect_id == prospect_id)
    row = uow.execute(statement).first()
    return None if row is None else (str(row[0]), int(row[1]))


_LEASE_OF_POSTGRESQL = (
    "SELECT l.worker, l.until_key FROM prospects p "
    "JOIN prospect_leases l ON l.prospect_id = p.id WHERE p.id = %s FOR UPDATE OF p, l"
)


def release_lease(uow: Any, prospect_id: str, worker: str) -> None:
    """Drop ``worker``'s lease of ``prospect_id`` (nothing when another worker holds it)."""
    if some_unstorable(prospect_id, worker):
        return  # no stored lease holds such a character
    uow._last = ("prospect_lease", prospect_id, None)
    if uow.dialect == "postgresql":  # once per step: driver SQL, not a built statement
        uow.fast(
            "DELETE FROM prospect_leases WHERE prospect_id = %s AND worker = %s",
            (prospect_id, worker),
        )
        return
    uow.execute(
        s.prospect_leases.delete().where(_L.prospect_id == prospect_id, _L.worker == worker)
    )


class DuePageMixin:
    """``ProspectRepository.due_page`` of the SQL store (``ports.DuePages``)."""

    _uow: Any

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
        """The entries :meth:`due` lists, after ``after``, as small rows from the due index."""
        return due_page(
            self._uow,
            project_id=project_id,
            role=role,
            owner=owner,
            since=since,
            until=until,
            automatic=automatic,
            viewer=viewer,
            limit=limit,
            after=after,
        )

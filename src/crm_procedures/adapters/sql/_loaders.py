"""Records built straight from their stored rows, without cattrs: the read paths' loaders.

A list of 50 activities spent nine tenths of its time structuring the stored
JSON through cattrs and the attrs validators, for records that were checked
when they were written. :func:`activity_from_data` sets the stored fields
directly into the slotted class instead (as ``Prospect.copy`` does), in a
fifth of the time.

What it still checks is the *shape* of the data: exactly the record's keys
in the order the store writes them, each value of the JSON type the field
is stored as, datetimes that parse with an offset, a known kind, costs that
are finite and not negative in a known currency. Anything else (a row written by hand, an older
layout with a missing key) goes through :func:`~crm_procedures.serialization.structure`,
so a malformed row raises the same named error as before. The content rules
(one line, not empty, ``end`` after ``start``) are not run again: they held
when the record was stored. ``tests/unit/test_sql_loaders.py`` checks with
Hypothesis that both ways give identical records.

:func:`prospect_from_row` and :func:`history_entry` do the same for the
prospect rows of the worklist and their history (no JSON there: columns),
and :func:`activity_page` keeps the statement of an activity list per shape
and viewer as driver SQL.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Final

import attrs
from sqlalchemy import BigInteger, ColumnElement, Select, bindparam, false, select

from crm_procedures.access.viewer import Viewer
from crm_procedures.adapters._common import check_limit, db_count
from crm_procedures.adapters.sql import schema
from crm_procedures.errors import InvalidInput
from crm_procedures.model.activity import Activity, ActivityKind, Timer
from crm_procedures.model.money import Money
from crm_procedures.model.prospect import (
    EntryKind,
    HistoryEntry,
    Prospect,
    ProspectStatus,
    RelationStage,
)
from crm_procedures.serialization import structure

if TYPE_CHECKING:
    from crm_procedures.adapters.sql._uow import SqlTransaction

__all__ = [
    "activities_from_rows",
    "activity_from_data",
    "activity_page",
    "history_entry",
    "prospect_from_row",
]

_new = object.__new__
_loads = json.loads
_fromisoformat = datetime.fromisoformat
_KINDS: Final = {k.value: k for k in ActivityKind}
_MONEY_KEYS: Final = frozenset(a.name for a in attrs.fields(Money))


class _Malformed(Exception):
    """The data is not in the shape the store writes: let cattrs build (and name) it."""


def _setters(cls: type) -> dict[str, Any]:
    """The slot setters of a slotted attrs class, by field name (no hooks, no validators)."""
    return {a.name: cls.__dict__[a.name].__set__ for a in attrs.fields(cls)}


_A = _setters(Activity)
_T = _setters(Timer)


def _when(value: Any) -> datetime | None:
    """A stored optional date-time: ISO 8601 with an offset (and an IANA zone in brackets)."""
    if value is None:
        return None
    if type(value) is not str:
        raise _Malformed
    if "[" in value:
        try:
            return structure(value, datetime)
        except InvalidInput:
            raise _Malformed from None
    try:
        result = _fromisoformat(value)
    except ValueError:
        raise _Malformed from None
    if result.tzinfo is None:  # with an offset, fromisoformat gives a fixed zone
        raise _Malformed
    return result


def _texts(value: Any) -> tuple[str, ...]:
    if type(value) is not list:
        raise _Malformed
    for item in value:
        if type(item) is not str:
            raise _Malformed
    return tuple(value)


def _money(value: Any) -> Money | None:
    if value is None:
        return None
    if type(value) is not dict or value.keys() != _MONEY_KEYS:
        raise _Malformed
    amount = value["amount"]
    if type(amount) is not str:
        raise _Malformed
    try:
        number = Decimal(amount)
    except InvalidOperation:
        raise _Malformed from None
    if not number.is_finite() or number < 0:  # no cost of an activity is negative
        raise _Malformed
    try:
        return Money(number, value["currency"])
    except InvalidInput:
        raise _Malformed from None


_TIMER_ORDER: Final = tuple(a.name for a in attrs.fields(Timer))
_set_accumulated, _set_running_since = (_T[name] for name in _TIMER_ORDER)


def _timer(value: Any) -> Timer:
    if type(value) is not dict or tuple(value) != _TIMER_ORDER:
        raise _Malformed
    accumulated, running_since = value.values()
    kind = type(accumulated)
    if kind is not float and kind is not int:
        raise _Malformed
    timer: Timer = _new(Timer)
    _set_accumulated(timer, float(accumulated))
    _set_running_since(timer, None if running_since is None else _when(running_since))
    return timer


_ORDER: Final = tuple(a.name for a in attrs.fields(Activity))
(
    _set_id,
    _set_kind,
    _set_employee,
    _set_subject,
    _set_relation_id,
    _set_project_id,
    _set_contact_ids,
    _set_participants,
    _set_channel,
    _set_priority,
    _set_category,
    _set_place,
    _set_note,
    _set_outcome,
    _set_start,
    _set_end,
    _set_due,
    _set_expected_cost,
    _set_actual_cost,
    _set_timer,
    _set_follow_up_of,
    _set_appointment_id,
    _set_created_at,
    _set_completed_at,
    _set_version,
) = (_A[name] for name in _ORDER)


def _activity(d: Any) -> Activity:
    # The store writes the fields in the class's order: one comparison of the
    # keys, then the values unpacked at once (an older or hand-written layout
    # takes the cattrs way).
    if type(d) is not dict or tuple(d) != _ORDER:
        raise _Malformed
    (
        id_,
        kind,
        employee,
        subject,
        relation_id,
        project_id,
        contact_ids,
        participants,
        channel,
        priority,
        category,
        place,
        note,
        outcome,
        start,
        end,
        due,
        expected_cost,
        actual_cost,
        timer,
        follow_up_of,
        appointment_id,
        created_at,
        completed_at,
        version,
    ) = d.values()
    if (
        type(id_) is not str
        or type(employee) is not str
        or type(subject) is not str
        or type(place) is not str
        or type(note) is not str
        or type(version) is not int
        or type(kind) is not str
    ):
        raise _Malformed
    for value in (
        relation_id,
        project_id,
        channel,
        priority,
        category,
        outcome,
        follow_up_of,
        appointment_id,
    ):
        if value is not None and type(value) is not str:
            raise _Malformed
    known = _KINDS.get(kind)
    if known is None:
        raise _Malformed
    a: Activity = _new(Activity)
    _set_id(a, id_)
    _set_kind(a, known)
    _set_employee(a, employee)
    _set_subject(a, subject)
    _set_relation_id(a, relation_id)
    _set_project_id(a, project_id)
    _set_contact_ids(a, _texts(contact_ids))
    _set_participants(a, _texts(participants))
    _set_channel(a, channel)
    _set_priority(a, priority)
    _set_category(a, category)
    _set_place(a, place)
    _set_note(a, note)
    _set_outcome(a, outcome)
    _set_start(a, None if start is None else _when(start))
    _set_end(a, None if end is None else _when(end))
    _set_due(a, None if due is None else _when(due))
    _set_expected_cost(a, None if expected_cost is None else _money(expected_cost))
    _set_actual_cost(a, None if actual_cost is None else _money(actual_cost))
    _set_timer(a, _timer(timer))
    _set_follow_up_of(a, follow_up_of)
    _set_appointment_id(a, appointment_id)
    _set_created_at(a, None if created_at is None else _when(created_at))
    _set_completed_at(a, None if completed_at is None else _when(completed_at))
    _set_version(a, version)
    return a


def activities_from_rows(rows: Iterable[Any]) -> list[Activity]:
    """The activities of stored rows whose first column is the JSON ``data``, in order.

    Raises:
        InvalidInput: a row holds no activity (from ``structure``).
    """
    out = []
    loads = _loads
    for row in rows:
        data = loads(row[0])
        try:
            out.append(_activity(data))
        except _Malformed:
            out.append(structure(data, Activity))
    return out


def activity_from_data(data: Any) -> Activity:
    """The :class:`Activity` of a stored JSON record (``json.loads`` of the row's ``data``).

    Equal to ``structure(data, Activity)`` for every record the store writes;
    data in another shape is handed to ``structure`` itself.

    Raises:
        InvalidInput: the data is no activity (from ``structure``).
    """
    try:
        return _activity(data)
    except _Malformed:
        return structure(data, Activity)


def activity_page(
    uow: SqlTransaction,
    by: str,
    value: str,
    kind: str | None,
    open_only: bool,
    viewer: Viewer | None,
    limit: int | None,
    offset: int,
    visible: Callable[[Viewer | None], list[ColumnElement[bool]]],
) -> Any:
    """The cursor over one page of activities whose column ``by`` is ``value``, newest first.

    The statement (with the viewer's visibility, ``visible(viewer)``) is built
    once per shape and viewer and kept as driver SQL; building it in
    SQLAlchemy on every call cost more than running it.

    Raises:
        InvalidInput: a negative page size or offset, a kind that is not text.
    """
    check_limit(limit, offset)
    if kind is not None and not isinstance(kind, str):
        raise InvalidInput("kind", "must be an activity kind", kind)
    only_open = bool(open_only)
    paged = limit is not None
    skip = offset != 0
    key = ("activity", "page", by, kind is not None, only_open, paged, skip, viewer)

    def build() -> Select[Any]:
        c = schema.activities.c
        where = [c[by] == bindparam("page_value", "")]
        if kind is not None:
            where.append(c.kind == bindparam("page_kind", ""))
        if only_open:
            # A literal (not a bound value), so the partial index of open activities applies.
            where.append(c.completed == false())
        statement = (
            select(c.data)
            .where(*where, *visible(viewer))
            .order_by(c.start_key.desc(), c.created_key.desc(), c.id.desc())
        )
        # BIGINT: PostgreSQL's driver casts each bound value to its type, and
        # a page size or offset may be as large as a database takes.
        if paged:
            statement = statement.limit(bindparam("page_limit", 0, type_=BigInteger))
        if skip:
            statement = statement.offset(bindparam("page_offset", 0, type_=BigInteger))
        return statement

    values: dict[str, Any] = {"page_value": value}
    if kind is not None:
        values["page_kind"] = kind
    if limit is not None:
        values["page_limit"] = db_count(limit)
    if skip:
        values["page_offset"] = db_count(offset)
    return uow.prepared(key, build, **values)


_STATUS: Final = {v.value: v for v in ProspectStatus}
_STAGE: Final = {v.value: v for v in RelationStage}
_ENTRY: Final = {k.value: k for k in EntryKind}


def _stored_dt(value: str | None) -> datetime | None:
    if value is None:
        return None
    if "[" not in value:
        return _fromisoformat(value)
    return structure(value, datetime)


_tuple_new = tuple.__new__


def history_entry(h: Any) -> HistoryEntry:
    """A history entry from its row ``(prospect_id, seq, kind, at, actor, role, step,
    supersedes, detail, note)``."""
    at = h[3]
    # tuple.__new__ is what the named tuple's own __new__ calls, without its frame.
    return _tuple_new(
        HistoryEntry,
        (
            h[1],
            _ENTRY[h[2]],
            _fromisoformat(at) if "[" not in at else structure(at, datetime),
            h[4],
            h[5],
            h[6],
            h[7],
            h[8],
            h[9],
        ),
    )


def prospect_from_row(r: Any, history: list[HistoryEntry]) -> Prospect:
    """A prospect from its stored row (the store's prospect columns, in order) and history.

    The row was checked when it was written (ids not empty and one line,
    status and stage known): its values are set without running the
    validators again, as :meth:`Prospect.copy` does (a prospect runs no hook
    on assignment).
    """
    p: Prospect = _new(Prospect)
    p.id = r[0]
    p.project_id = r[1]
    p.relation_id = r[2]
    p.contact_id = r[3]
    p.status = _STATUS[r[4]]
    p.close_reason = r[5]
    p.stage = _STAGE[r[6]]
    p.became_prospect_at = None if r[7] is None else _stored_dt(r[7])
    p.became_prospect_by = r[8]
    p.last_step = r[9]
    p.history = history
    p.next_action_at = None if r[10] is None else _stored_dt(r[10])
    p.owner = r[11]
    p.version = r[12]
    p.next_due_at = None if r[14] is None else _stored_dt(r[14])
    p.due_step = r[15]
    p.due_role = r[16]
    p.due_automatic = bool(r[17])
    p.paused_until = None if r[18] is None else _stored_dt(r[18])
    p.sequence_exit = r[19]
    p.paused_at = None if r[20] is None else _stored_dt(r[20])
    return p

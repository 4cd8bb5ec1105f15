"""The SQL store's direct loaders give exactly what cattrs' ``structure`` gives.

Activities are read from their stored JSON by
:func:`crm_procedures.adapters.sql._loaders.activity_from_data`, which sets the
fields straight into the attrs class. These tests generate activities over
every field (optional ones absent and present, Decimal amounts of any
exponent, datetimes in IANA zones and fixed offsets), store them as the SQL
store does (``unstructure`` then JSON) and compare field by field, types and
zones included, with ``structure(data, Activity)``. Data in another shape
must take the ``structure`` way and fail (or succeed) exactly as it does.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_procedures.adapters.sql import _loaders
from crm_procedures.adapters.sql import schema as s
from crm_procedures.adapters.sql._prospect_rows import _prospect_row
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
from crm_procedures.serialization import structure, unstructure

from .strategies import free_text, ids, line

ZONES = [
    ZoneInfo("Europe/Amsterdam"),
    ZoneInfo("America/New_York"),
    ZoneInfo("Asia/Kathmandu"),
    UTC,
    timezone(timedelta(hours=5, minutes=30)),
    timezone(-timedelta(hours=3)),
]
aware = st.builds(
    lambda d, z: d.replace(tzinfo=z),
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1)),
    st.sampled_from(ZONES),
)
amounts = st.decimals(allow_nan=False, allow_infinity=False, min_value=0, max_value=10**12) | (
    st.sampled_from([Decimal("0"), Decimal("0.00"), Decimal("1E+3"), Decimal("12.50")])
)
money = st.builds(Money, amounts, st.sampled_from(["EUR", "PLN", "USD", "JPY"]))
optional_line = st.none() | line
texts = st.lists(ids, max_size=3).map(tuple)


@st.composite
def activities(draw: st.DrawFn) -> Activity:
    """Valid activities with every field drawn."""
    start = draw(st.none() | aware)
    end = None if start is None else draw(st.none() | st.just(start) | aware.filter(lambda e: True))
    if start is not None and end is not None and end < start:
        end = start + (start - end)
    return Activity(
        id=draw(ids),
        kind=draw(st.sampled_from(ActivityKind)),
        employee=draw(ids),
        subject=draw(line),
        relation_id=draw(st.none() | ids),
        project_id=draw(st.none() | ids),
        contact_ids=draw(texts),
        participants=draw(texts),
        channel=draw(optional_line),
        priority=draw(optional_line),
        category=draw(optional_line),
        place=draw(line),
        note=draw(free_text),
        outcome=draw(optional_line),
        start=start,
        end=end,
        due=draw(st.none() | aware),
        expected_cost=draw(st.none() | money),
        actual_cost=draw(st.none() | money),
        timer=Timer(
            draw(st.floats(0, 1e9) | st.integers(0, 10**6).map(float)), draw(st.none() | aware)
        ),
        follow_up_of=draw(st.none() | ids),
        appointment_id=draw(st.none() | ids),
        created_at=draw(st.none() | aware),
        completed_at=draw(st.none() | aware),
        version=draw(st.integers(0, 2**53)),
    )


def _stored(activity: Activity) -> Any:
    """The activity as the SQL store reads it back: its JSON copy, parsed."""
    text = json.dumps(unstructure(activity), separators=(",", ":"), ensure_ascii=False)
    return json.loads(text)


def _fingerprint(value: Any) -> Any:
    """Every field with its exact type and repr (zones, Decimal exponents, tuple vs list)."""
    if attrs.has(type(value)):
        return (
            type(value),
            tuple(
                (a.name, _fingerprint(getattr(value, a.name))) for a in attrs.fields(type(value))
            ),
        )
    if isinstance(value, tuple):
        return (tuple, tuple(_fingerprint(v) for v in value))
    if isinstance(value, datetime):
        return (datetime, repr(value), repr(value.tzinfo), value.utcoffset())
    return (type(value), repr(value))


@settings(max_examples=300, deadline=None)
@given(activities())
def test_loader_builds_what_structure_builds(activity: Activity) -> None:
    data = _stored(activity)
    expected = structure(data, Activity)
    loaded = _loaders.activity_from_data(data)
    assert _fingerprint(loaded) == _fingerprint(expected)
    assert loaded == expected
    # and what is stored again is byte for byte what was stored
    assert unstructure(loaded) == unstructure(expected)
    # the list path reads the rows' JSON text itself
    (listed,) = _loaders.activities_from_rows([(json.dumps(data),)])
    assert _fingerprint(listed) == _fingerprint(expected)


def _result(data: Any) -> Any:
    try:
        return ("ok", _fingerprint(structure(data, Activity)))
    except InvalidInput as exc:
        return ("error", exc.field, exc.reason)


def _loaded(data: Any) -> Any:
    try:
        return ("ok", _fingerprint(_loaders.activity_from_data(data)))
    except InvalidInput as exc:
        return ("error", exc.field, exc.reason)


BASE = _stored(
    Activity(
        "a1",
        "contact",
        "ann",
        subject="Call",
        start=datetime(2026, 3, 29, 1, 30, tzinfo=ZoneInfo("Europe/Amsterdam")),
        expected_cost=Money(Decimal("12.50"), "EUR"),
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        version=3,
    )
)

MALFORMED: list[tuple[str, Any]] = [
    ("a missing key", {k: v for k, v in BASE.items() if k != "subject"}),
    ("an unknown key", {**BASE, "colour": "red"}),
    ("a number for text", {**BASE, "subject": 12}),
    ("a number for an optional text", {**BASE, "channel": 12}),
    ("an unknown kind", {**BASE, "kind": "letter"}),
    ("a kind that is no text", {**BASE, "kind": 1}),
    ("a naive date-time", {**BASE, "due": "2026-01-01T10:00:00"}),
    ("no date-time at all", {**BASE, "due": "soon"}),
    ("an unknown zone", {**BASE, "due": "2026-01-01T10:00:00+01:00[Mars/Olympus]"}),
    ("a float amount", {**BASE, "actual_cost": {"amount": 1.5, "currency": "EUR"}}),
    ("an amount that is no number", {**BASE, "actual_cost": {"amount": "x", "currency": "EUR"}}),
    ("an infinite amount", {**BASE, "actual_cost": {"amount": "Infinity", "currency": "EUR"}}),
    ("an unknown currency", {**BASE, "actual_cost": {"amount": "1", "currency": "XXY"}}),
    ("a negative cost", {**BASE, "actual_cost": {"amount": "-1", "currency": "EUR"}}),
    ("a text for a list", {**BASE, "contact_ids": "c1"}),
    ("a number in a list", {**BASE, "participants": ["u1", 2]}),
    ("a timer without its keys", {**BASE, "timer": {}}),
    ("a timer of text", {**BASE, "timer": {"accumulated": "1", "running_since": None}}),
    ("a version that is text", {**BASE, "version": "3"}),
    ("a version that is true", {**BASE, "version": True}),
    ("keys in another order", dict(reversed(list(BASE.items())))),
    ("an older layout without the optional keys", {"id": "a1", "kind": "task", "employee": "e"}),
    ("a list instead of a record", [BASE]),
    ("a whole-number timer", {**BASE, "timer": {"accumulated": 3, "running_since": None}}),
]


@pytest.mark.parametrize("data", [d for _, d in MALFORMED], ids=[n for n, _ in MALFORMED])
def test_data_in_another_shape_fails_or_loads_exactly_as_structure(data: Any) -> None:
    assert _loaded(data) == _result(data)
    listed: tuple[Any, ...]
    try:
        listed = ("ok", _fingerprint(_loaders.activities_from_rows([(json.dumps(data),)])[0]))
    except InvalidInput as exc:
        listed = ("error", exc.field, exc.reason)
    assert listed == _result(data)


def test_content_rules_are_trusted_as_they_held_when_stored() -> None:
    # The loader checks the shape, not the content rules the record passed
    # when it was written: a stored subject is not checked for line breaks again.
    data = {**BASE, "subject": "two\nlines"}
    with pytest.raises(InvalidInput):
        structure(data, Activity)
    assert _loaders.activity_from_data(data).subject == "two\nlines"


def test_the_well_formed_base_takes_the_direct_way() -> None:
    # The comparison above must not pass only because everything falls back.
    assert isinstance(_loaders._activity(BASE), Activity)
    with pytest.raises(_loaders._Malformed):
        _loaders._activity({**BASE, "subject": 12})


# -- prospects of a page (the worklist) --

_at_of = st.one_of(st.none(), aware)


@st.composite
def prospects(draw: st.DrawFn) -> Prospect:
    n = draw(st.integers(0, 3))
    history = [
        HistoryEntry(
            seq=i + 1,
            kind=draw(st.sampled_from(EntryKind)),
            at=draw(aware),
            actor=draw(ids),
            role=draw(st.none() | ids),
            step=draw(st.none() | ids),
            supersedes=draw(st.none() | st.integers(1, 3)),
            detail=draw(st.none() | line),
            note=draw(free_text),
        )
        for i in range(n)
    ]
    became = draw(_at_of)
    return Prospect(
        id=draw(ids),
        project_id=draw(ids),
        relation_id=draw(ids),
        contact_id=draw(st.none() | ids),
        status=draw(st.sampled_from(ProspectStatus)),
        close_reason=draw(st.none() | ids),
        stage=draw(st.sampled_from(RelationStage)),
        became_prospect_at=became,
        became_prospect_by=None if became is None else draw(ids),
        last_step=draw(st.none() | ids),
        history=history,
        next_action_at=draw(_at_of),
        owner=draw(st.none() | ids),
        version=draw(st.integers(0, 2**40)),
        next_due_at=draw(_at_of),
        due_step=draw(st.none() | ids),
        due_role=draw(st.none() | ids),
        due_automatic=draw(st.booleans()),
        paused_until=draw(_at_of),
        sequence_exit=draw(st.none() | ids),
    )


_KEYS = ("next_action_key", "next_due_key")


def _history_row(p: Prospect, e: HistoryEntry) -> tuple[Any, ...]:
    return (p.id, e.seq, e.kind.value, unstructure(e.at), e.actor, e.role, e.step,
            e.supersedes, e.detail, e.note)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(prospects())
def test_prospect_rows_load_as_the_validating_constructor_builds_them(p: Prospect) -> None:
    written = _prospect_row(p)
    row = [v for c, v in zip(s.prospects.columns, written, strict=True) if c.name not in _KEYS]
    history = [_loaders.history_entry(_history_row(p, e)) for e in p.history]
    loaded = _loaders.prospect_from_row(row, history)

    def dt(value: str | None) -> datetime | None:
        return None if value is None else structure(value, datetime)

    # What the store built before: the attrs constructor (validators run).
    expected = Prospect(
        row[0],
        row[1],
        row[2],
        row[3],
        ProspectStatus(row[4]),
        row[5],
        RelationStage(row[6]),
        dt(row[7]),
        row[8],
        row[9],
        [
            HistoryEntry(
                e.seq,
                e.kind,
                structure(unstructure(e.at), datetime),
                e.actor,
                e.role,
                e.step,
                e.supersedes,
                e.detail,
                e.note,
            )
            for e in p.history
        ],
        dt(row[10]),
        row[11],
        row[12],
        dt(row[14]),
        row[15],
        row[16],
        bool(row[17]),
        dt(row[18]),
        row[19],
    )
    assert _fingerprint(loaded) == _fingerprint(expected)
    assert [tuple(map(_fingerprint, e)) for e in loaded.history] == [
        tuple(map(_fingerprint, e)) for e in expected.history
    ]
    assert loaded == expected == p

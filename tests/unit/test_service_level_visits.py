"""The streamed time-in-step computation a SQL store feeds equals the reference over prospects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_procedures.errors import InvalidInput
from crm_procedures.ids import UserId
from crm_procedures.model import service_level as ref
from crm_procedures.model.prospect import (
    EntryKind,
    HistoryEntry,
    Prospect,
    ProspectStatus,
    RelationStage,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@st.composite
def prospects(draw: st.DrawFn, n: int) -> Prospect:
    entries: list[HistoryEntry] = []
    for seq in range(1, draw(st.integers(0, 6)) + 1):
        step = draw(st.sampled_from(["call", "send_info", "call_back", None]))
        at = T0 + timedelta(minutes=draw(st.integers(-10_000, 10_000)))
        correcting = [e.seq for e in entries]
        correct = draw(st.booleans())
        if correcting and correct:
            target = draw(st.sampled_from(correcting))
            kind, supersedes = EntryKind.CORRECTION, target
        else:
            kind, supersedes = draw(st.sampled_from([EntryKind.STEP, EntryKind.STATUS])), None
        entries.append(HistoryEntry(seq, kind, at, UserId("ann"), "marketeer", step, supersedes))
    status = draw(st.sampled_from([ProspectStatus.RUNNING, ProspectStatus.CLOSED]))
    return Prospect(
        id=f"p{n:03d}",
        project_id="proj",
        relation_id=f"r{n}",
        status=status,
        close_reason="not_interested" if status is ProspectStatus.CLOSED else None,
        stage=draw(st.sampled_from([RelationStage.PROSPECT, RelationStage.CUSTOMER])),
        history=entries,
    )


def _visits(found: list[Prospect]) -> list[ref.Visit]:
    """What a store reads: effective visits by (prospect id, seq), with the end code."""
    out: list[ref.Visit] = []
    for p in sorted(found, key=lambda p: p.id):
        if p.stage is RelationStage.CUSTOMER:
            end = ref.VISIT_ENDS.index("won")
        elif p.status is ProspectStatus.CLOSED:
            end = ref.VISIT_ENDS.index("dropped_out")
        else:
            end = ref.VISIT_ENDS.index("waiting")
        for e in ref.effective_steps(p):
            out.append((p.id, str(e.step), (e.at - EPOCH) // timedelta(microseconds=1), end))
    return out


@given(
    st.lists(st.integers(0, 999), max_size=25, unique=True).flatmap(
        lambda ns: st.tuples(*(prospects(n) for n in ns))
    )
)
def test_streamed_visits_give_the_reference_rows(found: tuple[Prospect, ...]) -> None:
    assert ref.step_rows_of_visits(_visits(list(found))) == ref.step_analytics(found)


def test_no_visits_give_no_rows() -> None:
    assert ref.step_rows_of_visits([]) == []


@pytest.mark.parametrize(
    "bad",
    [
        [("p1", "call", 1)],
        [("p1", "call", 1, 7)],
        [("p1", None, 1, 0)],
        [("p1", "call", "x", 0), ("p1", "call", "y", 0)],
        [[]],
    ],
)
def test_malformed_visits_are_refused_by_name(bad: list[Any]) -> None:
    with pytest.raises(InvalidInput, match="visits"):
        ref.step_rows_of_visits(bad)

"""A bulk status change does to each prospect what the one-prospect rule does (W8)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_procedures import standard_definitions
from crm_procedures.errors import InvalidInput
from crm_procedures.model.prospect import EntryKind, HistoryEntry, ProspectStatus
from crm_procedures.procedures.procedure import Procedure
from crm_procedures.procedures.runtime import close, close_change, release, release_change

from .conftest import AT, LEADER, make_prospect

STANDARD = standard_definitions().procedure("standard")
REASONS = list(STANDARD.close_reasons)

statuses = st.sampled_from(list(ProspectStatus))
reasons = st.sampled_from(REASONS)
notes = st.sampled_from(["", "campaign ended"])


@given(
    status=statuses, stored_reason=reasons, reason=reasons, note=notes, entries=st.integers(0, 3)
)
def test_close_change_matches_closing_one_prospect(
    status: ProspectStatus, stored_reason: str, reason: str, note: str, entries: int
) -> None:
    prospect = make_prospect(status)
    prospect.close_reason = stored_reason if status is ProspectStatus.CLOSED else None
    prospect.history = [HistoryEntry(i + 1, EntryKind.STATUS, AT, LEADER) for i in range(entries)]
    alone, bulk = prospect.copy(), prospect.copy()
    close(STANDARD, alone, reason, LEADER, AT, note)
    change = close_change(STANDARD, reason, LEADER, AT, note)
    if change.changes(bulk):
        change.apply(bulk)
        assert bulk.history != prospect.history
    assert bulk == alone


@given(status=statuses, note=notes)
def test_release_change_matches_releasing_one_prospect(status: ProspectStatus, note: str) -> None:
    prospect = make_prospect(status)
    change = release_change(LEADER, AT, note)
    if status is not ProspectStatus.PREPARING:
        assert not change.changes(prospect)
        with pytest.raises(InvalidInput):
            release(prospect.copy(), LEADER, AT, note)
        return
    alone, bulk = prospect.copy(), prospect.copy()
    release(alone, LEADER, AT, note)
    assert change.changes(bulk)
    change.apply(bulk)
    assert bulk == alone


@pytest.mark.parametrize(
    "call",
    [
        lambda p: close_change(p, "bored", LEADER, AT),
        lambda p: close_change(p, REASONS[0], LEADER, AT.replace(tzinfo=None)),
        lambda p: close_change(p, REASONS[0], "", AT),
        lambda p: release_change(LEADER, AT, "bad\x00note"),
    ],
    ids=["unknown-reason", "naive-time", "no-actor", "unstorable-note"],
)
def test_bad_bulk_changes_are_refused_by_name(call: object) -> None:
    procedure: Procedure = STANDARD
    with pytest.raises(InvalidInput):
        call(procedure)  # type: ignore[operator]

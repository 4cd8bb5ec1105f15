"""The history a move writes: plain tuples inside the prospect, named entries whenever read.

A move (``runtime.perform``) appends its entry as a plain tuple in
:class:`HistoryEntry`'s field order; ``Prospect.history`` names every entry
appended since it was last read. These tests hold the public shape: whatever
sequence of moves and other changes happened, reading ``history`` gives
``HistoryEntry`` named tuples with the values the move recorded.
"""

from __future__ import annotations

import copy
import pickle

import attrs
from hypothesis import given
from hypothesis import strategies as st

from crm_procedures.model.prospect import EntryKind, HistoryEntry, Prospect, RelationStage
from crm_procedures.procedures.procedure import Procedure
from crm_procedures.procedures.runtime import allowed_next, close, perform
from crm_procedures.procedures.standard import standard_definitions

from .conftest import AT, LEADER, MARKETEER, make_prospect

_STANDARD = standard_definitions().procedure("standard")
_ROLES = ("marketeer", "project_leader", "client_employee")


def test_a_performed_step_reads_as_a_named_history_entry(standard: Procedure) -> None:
    p = make_prospect()
    perform(standard, p, "call", "marketeer", MARKETEER, AT, note="Spoke to the buyer")
    step, stage = p.history
    assert type(step) is HistoryEntry
    assert type(stage) is HistoryEntry
    assert (step.seq, step.kind, step.step, step.role, step.actor, step.note) == (
        1,
        EntryKind.STEP,
        "call",
        "marketeer",
        MARKETEER,
        "Spoke to the buyer",
    )
    assert (stage.seq, stage.kind, stage.detail) == (2, EntryKind.STAGE, "prospect")
    assert p.stage is RelationStage.PROSPECT


def test_a_history_list_held_across_a_move_is_named_when_history_is_read_again(
    standard: Procedure,
) -> None:
    p = make_prospect()
    held = p.history
    perform(standard, p, "call", "marketeer", MARKETEER, AT)
    assert p.history is held
    assert all(type(e) is HistoryEntry for e in held)


def test_an_entry_appended_to_a_held_list_after_a_move_leaves_no_plain_tuple_behind(
    standard: Procedure,
) -> None:
    p = make_prospect()
    held = p.history
    perform(standard, p, "call", "marketeer", MARKETEER, AT)
    # The move's entries are still plain in ``held``; a caller appends behind them.
    held.append(HistoryEntry(3, EntryKind.STATUS, AT, LEADER, detail="running"))
    assert [type(e) for e in p.history] == [HistoryEntry] * 3
    assert p.history[0].step == "call"


def test_a_prospect_with_plain_history_equals_one_built_with_named_entries(
    standard: Procedure,
) -> None:
    p = make_prospect()
    perform(standard, p, "call", "marketeer", MARKETEER, AT)
    expected = make_prospect()
    expected = attrs.evolve(
        expected,
        history=[
            HistoryEntry(1, EntryKind.STEP, AT, MARKETEER, "marketeer", "call"),
            HistoryEntry(2, EntryKind.STAGE, AT, MARKETEER, detail="prospect"),
        ],
        last_step="call",
        stage=RelationStage.PROSPECT,
        became_prospect_at=AT,
        became_prospect_by=MARKETEER,
    )
    assert p == expected
    assert "HistoryEntry(seq=1" in repr(p)


def test_copies_and_pickles_keep_their_own_named_history(standard: Procedure) -> None:
    p = make_prospect()
    perform(standard, p, "call", "marketeer", MARKETEER, AT)
    for other in (p.copy(), copy.deepcopy(p), pickle.loads(pickle.dumps(p))):
        assert other == p
        assert other.history is not p.history
        assert all(type(e) is HistoryEntry for e in other.history)
        perform(standard, other, "call_back", "marketeer", MARKETEER, AT)
        assert len(other.history) == 3
        assert len(p.history) == 2


def test_history_is_still_an_attrs_field_set_through_init_and_evolve() -> None:
    assert "history" in [f.name for f in attrs.fields(Prospect)]
    entry = HistoryEntry(1, EntryKind.STATUS, AT, LEADER, detail="running")
    p = attrs.evolve(make_prospect(), history=[entry])
    assert p.history == [entry]
    p.history = []
    assert p.history == []


@given(st.lists(st.tuples(st.sampled_from(_ROLES), st.sampled_from(sorted(_STANDARD.steps)))))
def test_any_sequence_of_moves_reads_back_as_numbered_named_entries(
    moves: list[tuple[str, str]],
) -> None:
    p = make_prospect()
    for i, (role, step) in enumerate(moves):
        if step in allowed_next(_STANDARD, p, role):
            perform(_STANDARD, p, step, role, MARKETEER, AT)
        if i % 3 == 0:
            p.history  # noqa: B018 - a read in the middle names what is there so far
    close(_STANDARD, p, _STANDARD.close_reasons[0], LEADER, AT)
    history = p.history
    assert all(type(e) is HistoryEntry for e in history)
    assert [e.seq for e in history] == list(range(1, len(history) + 1))
    steps = [e.step for e in history if e.kind is EntryKind.STEP]
    assert p.last_step == (steps[-1] if steps else None)

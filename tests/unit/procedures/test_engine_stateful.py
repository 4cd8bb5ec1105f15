"""Stateful property test of the runtime: random procedures, random moves, invariants after each.

Hypothesis draws a procedure (steps, roles, a random matrix, correction rights,
close reasons) and then a random program of perform / correct / close /
reopen / release calls with arbitrary roles and steps, legal or not. After
every call the machine checks what the engine promises:

- a performed step was allowed for that role at that moment, and a refused
  one changed nothing;
- the history never shrinks and earlier entries never change;
- a closed (or preparing) prospect accepts no step;
- the status is always one of the three, and ``last_step`` is the step of
  the newest step or correction entry that is not superseded.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from crm_procedures.errors import (
    AccessDenied,
    InvalidInput,
    ProspectClosed,
    ProspectNotReleased,
    TransitionNotAllowed,
)
from crm_procedures.ids import ProjectId, ProspectId, RelationId, UserId
from crm_procedures.model.prospect import EntryKind, HistoryEntry, Prospect, ProspectStatus
from crm_procedures.procedures import runtime
from crm_procedures.procedures.procedure import ANY_STEP, START, Procedure, StepRef

ACTOR = UserId("u1")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
REASONS = ("no_budget", "not_interested")


@st.composite
def procedures(draw: st.DrawFn) -> Procedure:
    steps = [f"s{i}" for i in range(draw(st.integers(1, 6)))]
    roles = [f"r{i}" for i in range(draw(st.integers(1, 3)))]
    refs: list[StepRef] = [START, *steps]
    matrix: dict[str, dict[StepRef, frozenset[str]]] = {}
    for role in roles:
        rows: dict[StepRef, frozenset[str]] = {}
        for ref in refs:
            targets = draw(st.frozensets(st.sampled_from(steps), max_size=len(steps)))
            if targets:
                rows[ref] = targets
        matrix[role] = rows
    corrections: dict[str, object] = {}
    for role in roles:
        kind = draw(st.sampled_from(["none", "some", "any"]))
        if kind == "some":
            corrections[role] = draw(st.frozensets(st.sampled_from(steps), min_size=1))
        elif kind == "any":
            corrections[role] = ANY_STEP
    return Procedure(
        "p",
        "P",
        steps=tuple(steps),
        matrix=matrix,
        corrections=corrections,
        close_reasons=REASONS,
    )


def _visible_last_step(history: list[HistoryEntry]) -> str | None:
    superseded = {e.supersedes for e in history if e.supersedes is not None}
    for entry in reversed(history):
        counts = entry.kind in (EntryKind.STEP, EntryKind.CORRECTION)
        if counts and entry.seq not in superseded and entry.step is not None:
            return entry.step
    return None


class EngineMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.procedure = Procedure("empty", "Empty")
        self.prospect = Prospect(ProspectId("x"), ProjectId("c"), RelationId("r"))
        self.seen: list[HistoryEntry] = []
        self.clock = T0

    def tick(self) -> datetime:
        self.clock += timedelta(minutes=1)
        return self.clock

    @initialize(procedure=procedures())
    def start(self, procedure: Procedure) -> None:
        self.procedure = procedure
        self.prospect = Prospect(ProspectId("x"), ProjectId("c"), RelationId("r"))

    def roles(self) -> list[str]:
        return sorted(self.procedure.matrix) or ["nobody"]

    @rule(data=st.data())
    def perform(self, data: st.DataObject) -> None:
        role = data.draw(st.sampled_from([*self.roles(), "stranger"]))
        step = data.draw(st.sampled_from([*self.procedure.steps, "unknown"]))
        allowed = runtime.allowed_next(self.procedure, self.prospect, role)
        before = self.prospect.copy()
        status = self.prospect.status
        try:
            runtime.perform(self.procedure, self.prospect, step, role, ACTOR, self.tick())
        except ProspectClosed:
            assert status is ProspectStatus.CLOSED
            assert self.prospect == before
        except ProspectNotReleased:
            assert status is ProspectStatus.PREPARING
            assert self.prospect == before
        except TransitionNotAllowed:
            assert step not in allowed
            assert self.prospect == before
        else:
            assert status is ProspectStatus.RUNNING, "a step was accepted while not running"
            assert step in allowed, f"{role} performed {step} though only {allowed} were allowed"
            assert self.prospect.last_step == step
            new = self.prospect.history[len(before.history) :]
            assert [e.step for e in new if e.kind is EntryKind.STEP] == [step]

    @rule(data=st.data())
    def correct(self, data: st.DataObject) -> None:
        entries = [
            e.seq for e in self.prospect.history if e.kind in (EntryKind.STEP, EntryKind.CORRECTION)
        ]
        seq = data.draw(st.sampled_from([*entries, 999]))
        step = data.draw(st.sampled_from([*self.procedure.steps, None]))
        role = data.draw(st.sampled_from(self.roles()))
        before = self.prospect.copy()
        try:
            runtime.correct(self.procedure, self.prospect, seq, step, role, ACTOR, self.tick())
        except (AccessDenied, InvalidInput, ProspectClosed, ProspectNotReleased):
            assert self.prospect == before
        else:
            assert before.status is ProspectStatus.RUNNING
            last = self.prospect.history[-1]
            assert (last.kind, last.supersedes, last.step) == (EntryKind.CORRECTION, seq, step)

    @rule(reason=st.sampled_from([*REASONS, "made_up"]))
    def close(self, reason: str) -> None:
        before = self.prospect.copy()
        try:
            runtime.close(self.procedure, self.prospect, reason, ACTOR, self.tick())
        except InvalidInput:
            assert reason not in REASONS
            assert self.prospect == before
        else:
            assert self.prospect.status is ProspectStatus.CLOSED
            assert self.prospect.close_reason == reason

    @precondition(lambda self: self.prospect.status is ProspectStatus.CLOSED)
    @rule()
    def reopen(self) -> None:
        runtime.reopen(self.prospect, ACTOR, self.tick())
        assert self.prospect.status is ProspectStatus.RUNNING
        assert self.prospect.close_reason is None

    @rule()
    def release(self) -> None:
        before = self.prospect.copy()
        try:
            runtime.release(self.prospect, ACTOR, self.tick())
        except (InvalidInput, ProspectClosed):
            assert before.status is not ProspectStatus.PREPARING
            assert self.prospect == before
        else:
            assert before.status is ProspectStatus.PREPARING
            assert self.prospect.status is ProspectStatus.RUNNING

    @invariant()
    def history_is_append_only(self) -> None:
        history = self.prospect.history
        assert len(history) >= len(self.seen)
        assert history[: len(self.seen)] == self.seen
        assert [e.seq for e in history] == sorted({e.seq for e in history})
        self.seen = list(history)

    @invariant()
    def status_is_one_of_three(self) -> None:
        assert self.prospect.status in set(ProspectStatus)
        assert (self.prospect.status is ProspectStatus.CLOSED) == (
            self.prospect.close_reason is not None
        )

    @invariant()
    def closed_or_preparing_allows_nothing(self) -> None:
        if self.prospect.status is not ProspectStatus.RUNNING:
            for role in self.roles():
                assert runtime.allowed_next(self.procedure, self.prospect, role) == frozenset()

    @invariant()
    def last_step_follows_the_history(self) -> None:
        assert self.prospect.last_step == _visible_last_step(self.prospect.history)


TestEngineMachine = EngineMachine.TestCase
_profile = settings()
TestEngineMachine.settings = settings(
    _profile, max_examples=max(200, _profile.max_examples), stateful_step_count=40
)

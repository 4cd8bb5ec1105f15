"""The runtime's audit facts, exactly: every entry it appends, every refusal it makes.

A history is an audit trail: who did what, when, and why. These tests compare
whole entries (actor, time, role, step, detail, note, sequence number), not
only their kind, and check each refusal by its structured attributes
(``.field``, ``.step``, ``.role``, ``.prospect_id``), and that it left the
prospect exactly as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

import pytest

from crm_procedures.errors import (
    AccessDenied,
    InvalidInput,
    ProspectClosed,
    ProspectNotReleased,
    TransitionNotAllowed,
)
from crm_procedures.model.dictionaries import Choice, Dictionary
from crm_procedures.model.prospect import (
    EntryKind,
    HistoryEntry,
    Prospect,
    ProspectStatus,
    RelationStage,
)
from crm_procedures.procedures.effects import BookAppointment, SendEmail
from crm_procedures.procedures.procedure import START, Definitions, Procedure
from crm_procedures.procedures.runtime import (
    allowed_next,
    close,
    correct,
    mark_won,
    perform,
    release,
    reopen,
    set_status,
    worklist_last_steps,
)
from crm_procedures.procedures.step import Role, Step

from .conftest import AT, CLIENT_EMPLOYEE, LEADER, MARKETEER, make_prospect

LATER = AT + timedelta(hours=2)
STEP, STAGE, STATUS, CORRECTION = (
    EntryKind.STEP,
    EntryKind.STAGE,
    EntryKind.STATUS,
    EntryKind.CORRECTION,
)


class _NoOffset(tzinfo):
    """A tzinfo that knows no offset: a datetime carrying it is still naive."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None

    def tzname(self, dt: datetime | None) -> str | None:
        return None


def _running_after(standard: Procedure, *steps: tuple[str, str]) -> Prospect:
    p = make_prospect()
    for step, role in steps:
        perform(standard, p, step, role, MARKETEER, AT)
    return p


def _refused_unchanged(
    p: Prospect, call: Callable[[], object], error: type[Exception]
) -> Exception:
    before = p.copy()
    with pytest.raises(error) as caught:
        call()
    assert p == before
    return caught.value


# --- perform ------------------------------------------------------------------------------


def test_the_first_step_records_the_step_and_the_stage_with_actor_time_and_note(
    standard: Procedure,
) -> None:
    p = make_prospect()
    effects = perform(standard, p, "call", "marketeer", MARKETEER, AT, "asked for Jan")
    assert effects == ()
    assert p.history == [
        HistoryEntry(1, STEP, AT, MARKETEER, "marketeer", "call", None, None, "asked for Jan"),
        HistoryEntry(2, STAGE, AT, MARKETEER, None, None, None, "prospect", ""),
    ]
    assert (p.stage, p.became_prospect_at, p.became_prospect_by) == (
        RelationStage.PROSPECT,
        AT,
        MARKETEER,
    )
    assert p.last_step == "call"


def test_later_steps_add_no_stage_entry_and_keep_when_the_prospect_began(
    standard: Procedure,
) -> None:
    p = make_prospect()
    perform(standard, p, "call", "marketeer", MARKETEER, AT)
    perform(standard, p, "call_back", "marketeer", CLIENT_EMPLOYEE, LATER, "no answer")
    assert p.history[2:] == [
        HistoryEntry(
            3, STEP, LATER, CLIENT_EMPLOYEE, "marketeer", "call_back", None, None, "no answer"
        )
    ]
    assert (p.became_prospect_at, p.became_prospect_by) == (AT, MARKETEER)
    assert p.last_step == "call_back"


def test_a_step_with_an_effect_returns_it(standard: Procedure) -> None:
    p = _running_after(standard, ("call", "marketeer"))
    (mail,) = perform(standard, p, "send_info", "marketeer", MARKETEER, AT)
    assert isinstance(mail, SendEmail)
    assert mail.template == "info"
    p = _running_after(standard, ("call", "marketeer"))
    (booking,) = perform(standard, p, "make_appointment", "marketeer", MARKETEER, AT)
    assert isinstance(booking, BookAppointment)
    assert booking.duration_minutes == 60


def test_a_step_outside_the_matrix_is_refused_naming_what_is_allowed(standard: Procedure) -> None:
    p = _running_after(standard, ("call", "marketeer"))
    error = _refused_unchanged(
        p,
        lambda: perform(standard, p, "client_call", "marketeer", MARKETEER, AT),
        TransitionNotAllowed,
    )
    assert isinstance(error, TransitionNotAllowed)
    assert (error.step, error.role, error.last_step) == ("client_call", "marketeer", "call")
    assert error.allowed == ("call_back", "make_appointment", "send_info")


def test_a_role_without_a_row_for_the_last_step_is_refused_with_nothing_allowed(
    standard: Procedure,
) -> None:
    p = make_prospect()
    error = _refused_unchanged(
        p, lambda: perform(standard, p, "call", "client", MARKETEER, AT), TransitionNotAllowed
    )
    assert isinstance(error, TransitionNotAllowed)
    assert (error.step, error.role, error.last_step, error.allowed) == ("call", "client", None, ())


def test_perform_refuses_a_prospect_that_is_not_running(standard: Procedure) -> None:
    preparing = make_prospect(status=ProspectStatus.PREPARING)
    error = _refused_unchanged(
        preparing,
        lambda: perform(standard, preparing, "call", "marketeer", MARKETEER, AT),
        ProspectNotReleased,
    )
    assert isinstance(error, ProspectNotReleased)
    assert error.prospect_id == "p1"
    closed = make_prospect()
    close(standard, closed, "no_budget", LEADER, AT)
    error = _refused_unchanged(
        closed,
        lambda: perform(standard, closed, "call", "marketeer", MARKETEER, AT),
        ProspectClosed,
    )
    assert isinstance(error, ProspectClosed)
    assert (error.prospect_id, error.reason) == ("p1", "no_budget")


@pytest.mark.parametrize(
    ("at", "reason"),
    [
        (datetime(2026, 3, 2, 9, 30), "timezone-aware"),
        (datetime(2026, 3, 2, 9, 30, tzinfo=_NoOffset()), "timezone-aware"),
        ("2026-03-02T09:30:00Z", "must be a datetime"),
        (None, "must be a datetime"),
    ],
)
def test_every_operation_refuses_a_time_that_is_not_an_aware_datetime(
    standard: Procedure, at: object, reason: str
) -> None:
    running = _running_after(standard, ("call", "marketeer"))
    preparing = make_prospect(status=ProspectStatus.PREPARING)
    closed = make_prospect()
    close(standard, closed, "no_budget", LEADER, AT)
    bad: datetime = at  # type: ignore[assignment]
    calls: list[tuple[Prospect, Callable[[], object]]] = [
        (
            running,
            lambda: correct(standard, running, 1, "call_back", "project_leader", LEADER, bad),
        ),
        (preparing, lambda: release(preparing, LEADER, bad)),
        (running, lambda: close(standard, running, "no_budget", LEADER, bad)),
        (closed, lambda: reopen(closed, LEADER, bad)),
        (running, lambda: set_status(standard, running, "preparing", LEADER, bad)),
        (running, lambda: mark_won(running, LEADER, bad)),
    ]
    if not isinstance(at, datetime) or at.tzinfo is None:
        # perform checks only for a tzinfo (the hot path); the others ask for an offset.
        calls.append(
            (running, lambda: perform(standard, running, "call_back", "marketeer", MARKETEER, bad))
        )
    for prospect, call in calls:
        error = _refused_unchanged(prospect, call, InvalidInput)
        assert isinstance(error, InvalidInput)
        assert error.field == "at"
        assert error.value is at
        assert reason in error.reason


@pytest.mark.parametrize("actor", ["", 5, None])
def test_every_operation_refuses_an_actor_that_is_not_a_user_id(
    standard: Procedure, actor: object
) -> None:
    running = _running_after(standard, ("call", "marketeer"))
    preparing = make_prospect(status=ProspectStatus.PREPARING)
    closed = make_prospect()
    close(standard, closed, "no_budget", LEADER, AT)
    who: str = actor  # type: ignore[assignment]
    calls: list[tuple[Prospect, Callable[[], object]]] = [
        (running, lambda: correct(standard, running, 1, "call_back", "project_leader", who, AT)),
        (preparing, lambda: release(preparing, who, AT)),
        (running, lambda: close(standard, running, "no_budget", who, AT)),
        (closed, lambda: reopen(closed, who, AT)),
        (running, lambda: set_status(standard, running, "preparing", who, AT)),
        (running, lambda: set_status(standard, running, "closed", who, AT, reason="no_budget")),
        (running, lambda: mark_won(running, who, AT)),
    ]
    if not actor:
        calls.append(
            (running, lambda: perform(standard, running, "call_back", "marketeer", who, AT))
        )
    for prospect, call in calls:
        error = _refused_unchanged(prospect, call, InvalidInput)
        assert isinstance(error, InvalidInput)
        assert error.field == "actor"
        assert error.value == actor
        assert error.reason == "must be a user id"


# --- allowed_next and worklists -----------------------------------------------------------


def test_allowed_next_follows_the_row_of_the_last_step_and_only_while_running(
    standard: Procedure,
) -> None:
    p = make_prospect()
    assert allowed_next(standard, p, "marketeer") == {"call"}
    assert allowed_next(standard, p, "client") == frozenset()
    perform(standard, p, "call", "marketeer", MARKETEER, AT)
    assert allowed_next(standard, p, "marketeer") == {"call_back", "send_info", "make_appointment"}
    for status in (ProspectStatus.PREPARING, ProspectStatus.CLOSED):
        p.status = status
        assert allowed_next(standard, p, "marketeer") == frozenset()


def test_worklist_last_steps_are_the_procedures(standard: Procedure) -> None:
    assert worklist_last_steps(standard, "marketeer") == standard.worklist_last_steps("marketeer")
    assert None in worklist_last_steps(standard, "marketeer")
    assert None not in worklist_last_steps(standard, "client")


# --- correct ------------------------------------------------------------------------------


def test_a_correction_entry_records_every_fact(standard: Procedure) -> None:
    p = _running_after(standard, ("call", "marketeer"), ("send_info", "marketeer"))
    entry = correct(standard, p, 3, "call_back", "project_leader", LEADER, LATER, "was a call")
    expected = HistoryEntry(
        4, CORRECTION, LATER, LEADER, "project_leader", "call_back", 3, None, "was a call"
    )
    assert entry == expected
    assert p.history[-1] == expected
    assert len(p.history) == 4
    assert p.last_step == "call_back"


def test_withdrawing_recomputes_the_last_step_from_entries_not_superseded(
    standard: Procedure,
) -> None:
    p = _running_after(
        standard, ("call", "marketeer"), ("call_back", "marketeer"), ("send_info", "marketeer")
    )
    entry = correct(standard, p, 4, None, "project_leader", LEADER, LATER)
    assert entry == HistoryEntry(5, CORRECTION, LATER, LEADER, "project_leader", None, 4, None, "")
    assert p.last_step == "call_back"
    correct(standard, p, 3, None, "project_leader", LEADER, LATER)
    assert p.last_step == "call"
    correct(standard, p, 1, None, "project_leader", LEADER, LATER)
    assert allowed_next(standard, p, "marketeer") == {"call"}
    assert p.last_step is None


def test_a_corrected_correction_counts_as_the_newest_registration(standard: Procedure) -> None:
    p = _running_after(standard, ("call", "marketeer"), ("call_back", "marketeer"))
    correct(standard, p, 3, "send_info", "project_leader", LEADER, LATER)
    assert p.last_step == "send_info"
    correct(standard, p, 4, None, "project_leader", LEADER, LATER)
    # The correction of entry 3 is withdrawn; entry 3 itself stays superseded.
    assert p.last_step == "call"


def test_a_correction_of_an_unknown_step_is_refused(standard: Procedure) -> None:
    p = _running_after(standard, ("call", "marketeer"))
    error = _refused_unchanged(
        p, lambda: correct(standard, p, 1, "dance", "project_leader", LEADER, AT), InvalidInput
    )
    assert isinstance(error, InvalidInput)
    assert (error.field, error.value) == ("step", "dance")
    assert "'standard'" in str(error)


@pytest.mark.parametrize("seq", [0, 2, 3, 99])
def test_only_an_existing_step_or_correction_entry_can_be_superseded(
    standard: Procedure, seq: int
) -> None:
    p = _running_after(standard, ("call", "marketeer"))  # entry 2 is the stage entry
    error = _refused_unchanged(
        p,
        lambda: correct(standard, p, seq, "call_back", "project_leader", LEADER, AT),
        InvalidInput,
    )
    assert isinstance(error, InvalidInput)
    assert (error.field, error.value) == ("supersedes_seq", seq)
    assert f"entry {seq} is not a step or correction entry" in str(error)


def test_an_entry_already_superseded_names_the_entry_to_correct(standard: Procedure) -> None:
    p = _running_after(standard, ("call", "marketeer"), ("call_back", "marketeer"))
    correct(standard, p, 3, "send_info", "project_leader", LEADER, AT)
    error = _refused_unchanged(
        p, lambda: correct(standard, p, 3, "call", "project_leader", LEADER, AT), InvalidInput
    )
    assert isinstance(error, InvalidInput)
    assert (error.field, error.value) == ("supersedes_seq", 3)
    assert "already superseded by entry 4" in str(error)
    # The newer correction itself may still be corrected.
    correct(standard, p, 4, "call", "project_leader", LEADER, AT)
    assert p.last_step == "call"


def test_a_role_without_correction_rights_is_refused_by_name(standard: Procedure) -> None:
    p = _running_after(standard, ("call", "marketeer"))
    error = _refused_unchanged(
        p, lambda: correct(standard, p, 1, "call_back", "marketeer", MARKETEER, AT), AccessDenied
    )
    assert isinstance(error, AccessDenied)
    assert error.user_id == MARKETEER
    assert error.permission == "correct as 'marketeer'"
    assert "step 'call_back'" in str(error)


def _limited_rights() -> Procedure:
    defs = Definitions(
        roles=[Role("m"), Role("lead")],
        steps=[Step("a", "A"), Step("b", "B"), Step("c", "C", final=True)],
        procedures=[
            Procedure(
                "p",
                "P",
                steps=("a", "b", "c"),
                matrix={"m": {START: {"a"}, "a": {"b"}, "b": {"c"}}},
                corrections={"lead": {"b"}},
                close_reasons=("no",),
            )
        ],
        close_reasons=Dictionary("close_reason", [Choice("no", "No")]),
    )
    return defs.procedure("p")


def test_withdrawing_needs_the_right_for_the_withdrawn_step() -> None:
    proc = _limited_rights()
    p = make_prospect()
    perform(proc, p, "a", "m", MARKETEER, AT)
    perform(proc, p, "b", "m", MARKETEER, AT)
    error = _refused_unchanged(
        p, lambda: correct(proc, p, 1, None, "lead", LEADER, AT), AccessDenied
    )
    assert isinstance(error, AccessDenied)
    assert "step 'a'" in str(error)
    entry = correct(proc, p, 3, None, "lead", LEADER, AT)
    assert (entry.step, entry.supersedes) == (None, 3)
    assert p.last_step == "a"
    # Replacing a step the role has no right for by one it has is refused too.
    assert correct(proc, p, 1, "b", "lead", LEADER, AT).step == "b"
    error = _refused_unchanged(
        p, lambda: correct(proc, p, 5, "a", "lead", LEADER, AT), AccessDenied
    )
    assert "step 'a'" in str(error)


def test_withdrawing_a_withdrawal_is_refused_as_a_withdrawal(standard: Procedure) -> None:
    p = _running_after(standard, ("call", "marketeer"), ("call_back", "marketeer"))
    correct(standard, p, 3, None, "project_leader", LEADER, AT)
    error = _refused_unchanged(
        p, lambda: correct(standard, p, 4, None, "project_leader", LEADER, AT), AccessDenied
    )
    assert "a withdrawal" in str(error)


def test_correct_refuses_a_prospect_that_is_not_running(standard: Procedure) -> None:
    p = _running_after(standard, ("call", "marketeer"))
    p.status = ProspectStatus.PREPARING
    error = _refused_unchanged(
        p,
        lambda: correct(standard, p, 1, "call_back", "project_leader", LEADER, AT),
        ProspectNotReleased,
    )
    assert isinstance(error, ProspectNotReleased)
    assert error.prospect_id == "p1"


# --- statuses -----------------------------------------------------------------------------


def test_release_records_a_status_entry_with_every_fact() -> None:
    p = make_prospect(status=ProspectStatus.PREPARING)
    release(p, LEADER, AT, "ready")
    assert p.status is ProspectStatus.RUNNING
    assert p.history == [HistoryEntry(1, STATUS, AT, LEADER, None, None, None, "running", "ready")]


@pytest.mark.parametrize("status", [ProspectStatus.RUNNING, ProspectStatus.CLOSED])
def test_only_a_preparing_prospect_is_released(status: ProspectStatus) -> None:
    p = make_prospect(status=status)
    error = _refused_unchanged(p, lambda: release(p, LEADER, AT), InvalidInput)
    assert isinstance(error, InvalidInput)
    assert error.field == "status"
    assert f"it is {status.value}" in str(error)


def test_close_records_the_reason_in_the_entry_and_once(standard: Procedure) -> None:
    p = _running_after(standard, ("call", "marketeer"), ("send_info", "marketeer"))
    close(standard, p, "no_budget", LEADER, LATER, "no money")
    assert (p.status, p.close_reason) == (ProspectStatus.CLOSED, "no_budget")
    assert p.history[-1] == HistoryEntry(
        4, STATUS, LATER, LEADER, None, None, None, "closed:no_budget", "no money"
    )
    close(standard, p, "no_budget", LEADER, LATER)
    assert len(p.history) == 4
    close(standard, p, "has_supplier", MARKETEER, AT)
    assert p.close_reason == "has_supplier"
    assert p.history[-1] == HistoryEntry(
        5, STATUS, AT, MARKETEER, None, None, None, "closed:has_supplier", ""
    )


def test_close_refuses_a_reason_the_procedure_does_not_have(standard: Procedure) -> None:
    p = _running_after(standard, ("call", "marketeer"))
    error = _refused_unchanged(p, lambda: close(standard, p, "bored", LEADER, AT), InvalidInput)
    assert isinstance(error, InvalidInput)
    assert (error.field, error.value) == ("reason", "bored")
    assert "'not_interested', 'no_budget'" in str(error)


def test_close_names_no_reasons_when_none_is_configured() -> None:
    proc = Procedure("p", "P", steps=("a",), matrix={"m": {START: {"a"}}})
    p = make_prospect()
    error = _refused_unchanged(p, lambda: close(proc, p, "no", LEADER, AT), InvalidInput)
    assert "none configured" in str(error)


def test_reopen_clears_the_reason_and_records_who_reopened(standard: Procedure) -> None:
    p = _running_after(standard, ("call", "marketeer"), ("send_info", "marketeer"))
    close(standard, p, "no_budget", LEADER, AT)
    reopen(p, MARKETEER, LATER, "changed their mind")
    assert (p.status, p.close_reason, p.last_step) == (ProspectStatus.RUNNING, None, "send_info")
    assert p.history[-1] == HistoryEntry(
        5, STATUS, LATER, MARKETEER, None, None, None, "running", "changed their mind"
    )


@pytest.mark.parametrize("status", [ProspectStatus.RUNNING, ProspectStatus.PREPARING])
def test_only_a_closed_prospect_is_reopened(status: ProspectStatus) -> None:
    p = make_prospect(status=status)
    error = _refused_unchanged(p, lambda: reopen(p, LEADER, AT), InvalidInput)
    assert isinstance(error, InvalidInput)
    assert error.field == "status"
    assert f"it is {status.value}" in str(error)


def test_set_status_records_the_new_status_with_every_fact(standard: Procedure) -> None:
    p = _running_after(standard, ("call", "marketeer"), ("send_info", "marketeer"))
    set_status(standard, p, "preparing", LEADER, LATER, note="back to prep")
    assert p.status is ProspectStatus.PREPARING
    assert p.history[-1] == HistoryEntry(
        4, STATUS, LATER, LEADER, None, None, None, "preparing", "back to prep"
    )
    set_status(standard, p, ProspectStatus.CLOSED, LEADER, AT, reason="no_budget", note="n")
    assert p.history[-1] == HistoryEntry(
        5, STATUS, AT, LEADER, None, None, None, "closed:no_budget", "n"
    )
    set_status(standard, p, ProspectStatus.RUNNING, MARKETEER, AT)
    assert (p.status, p.close_reason) == (ProspectStatus.RUNNING, None)
    assert p.history[-1] == HistoryEntry(6, STATUS, AT, MARKETEER, None, None, None, "running", "")
    set_status(standard, p, "running", MARKETEER, AT)
    assert len(p.history) == 6


def test_set_status_refusals_name_the_field(standard: Procedure) -> None:
    p = _running_after(standard, ("call", "marketeer"))
    error = _refused_unchanged(p, lambda: set_status(standard, p, "won", LEADER, AT), InvalidInput)
    assert isinstance(error, InvalidInput)
    assert (error.field, error.value) == ("status", "won")
    assert "'preparing', 'running', 'closed'" in str(error)
    error = _refused_unchanged(
        p, lambda: set_status(standard, p, "closed", LEADER, AT), InvalidInput
    )
    assert isinstance(error, InvalidInput)
    assert error.field == "reason"
    error = _refused_unchanged(
        p,
        lambda: set_status(standard, p, "preparing", LEADER, AT, reason="no_budget"),
        InvalidInput,
    )
    assert isinstance(error, InvalidInput)
    assert error.field == "reason"
    error = _refused_unchanged(
        p, lambda: set_status(standard, p, "closed", LEADER, AT, reason="bored"), InvalidInput
    )
    assert isinstance(error, InvalidInput)
    assert error.field == "reason"


# --- mark_won -----------------------------------------------------------------------------


def test_winning_a_prospect_records_a_stage_entry_with_every_fact(standard: Procedure) -> None:
    p = _running_after(standard, ("call", "marketeer"))
    mark_won(p, LEADER, LATER, "signed")
    assert p.stage is RelationStage.CUSTOMER
    assert p.history[-1] == HistoryEntry(
        3, STAGE, LATER, LEADER, None, None, None, "customer", "signed"
    )
    # It stays a prospect since the first step, by whoever performed it.
    assert (p.became_prospect_at, p.became_prospect_by) == (AT, MARKETEER)
    mark_won(p, MARKETEER, AT)
    assert len(p.history) == 3


def test_winning_a_suspect_records_it_as_having_become_a_prospect() -> None:
    p = make_prospect()
    mark_won(p, LEADER, LATER)
    assert (p.stage, p.became_prospect_at, p.became_prospect_by) == (
        RelationStage.CUSTOMER,
        LATER,
        LEADER,
    )
    assert p.history == [HistoryEntry(1, STAGE, LATER, LEADER, None, None, None, "customer", "")]


def test_mark_won_refuses_a_prospect_that_is_not_running(standard: Procedure) -> None:
    p = make_prospect(status=ProspectStatus.PREPARING)
    error = _refused_unchanged(p, lambda: mark_won(p, LEADER, AT), ProspectNotReleased)
    assert isinstance(error, ProspectNotReleased)
    assert error.prospect_id == "p1"
    p = make_prospect()
    close(standard, p, "has_supplier", LEADER, AT)
    error = _refused_unchanged(p, lambda: mark_won(p, LEADER, AT), ProspectClosed)
    assert isinstance(error, ProspectClosed)
    assert error.reason == "has_supplier"


def test_times_in_an_iana_zone_are_accepted_everywhere(standard: Procedure) -> None:
    at = datetime(2026, 3, 29, 3, 30, tzinfo=ZoneInfo("Europe/Amsterdam"))
    p = make_prospect(status=ProspectStatus.PREPARING)
    release(p, LEADER, at)
    perform(standard, p, "call", "marketeer", MARKETEER, at)
    correct(standard, p, 2, "call_back", "project_leader", LEADER, at)
    set_status(standard, p, "preparing", LEADER, at)
    set_status(standard, p, "running", LEADER, at)
    close(standard, p, "no_budget", LEADER, at)
    reopen(p, LEADER, at)
    mark_won(p, LEADER, at)
    assert {e.at for e in p.history} == {at}


def test_an_operation_without_a_note_records_an_empty_note(standard: Procedure) -> None:
    p = make_prospect(status=ProspectStatus.PREPARING)
    release(p, LEADER, AT)
    perform(standard, p, "call", "marketeer", MARKETEER, AT)
    perform(standard, p, "send_info", "marketeer", MARKETEER, AT)
    correct(standard, p, 2, "call_back", "project_leader", LEADER, AT)
    set_status(standard, p, "preparing", LEADER, AT)
    set_status(standard, p, "running", LEADER, AT)
    close(standard, p, "no_budget", LEADER, AT)
    set_status(standard, p, "closed", LEADER, AT, reason="has_supplier")
    reopen(p, LEADER, AT)
    mark_won(p, LEADER, AT)
    assert [e.note for e in p.history] == [""] * 11

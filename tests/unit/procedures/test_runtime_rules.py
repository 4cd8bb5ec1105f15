"""W7 corrections, W8 statuses and the checks every runtime operation makes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from crm_procedures.errors import (
    AccessDenied,
    InvalidInput,
    ProspectClosed,
    ProspectNotReleased,
)
from crm_procedures.model.prospect import EntryKind, ProspectStatus, RelationStage
from crm_procedures.procedures.effects import CustomEffect
from crm_procedures.procedures.procedure import ANY_STEP, START, Definitions, Procedure
from crm_procedures.procedures.runtime import (
    allowed_next,
    close,
    correct,
    mark_won,
    perform,
    release,
    reopen,
    set_status,
)
from crm_procedures.procedures.step import Role, Step, StepKindSpec

from .conftest import AT, LEADER, MARKETEER, make_prospect

LATER = AT + timedelta(hours=1)


def test_a_prospect_in_preparation_accepts_no_step(standard: Procedure) -> None:
    p = make_prospect(status=ProspectStatus.PREPARING)
    with pytest.raises(ProspectNotReleased):
        perform(standard, p, "call", "marketeer", MARKETEER, AT)
    assert p.history == []


def test_releasing_makes_a_prepared_prospect_running(standard: Procedure) -> None:
    p = make_prospect(status=ProspectStatus.PREPARING)
    release(p, LEADER, AT)
    assert p.status is ProspectStatus.RUNNING
    assert [(e.kind, e.detail) for e in p.history] == [(EntryKind.STATUS, "running")]
    perform(standard, p, "call", "marketeer", MARKETEER, AT)


def test_only_a_prepared_prospect_can_be_released() -> None:
    with pytest.raises(InvalidInput, match="only a preparing prospect"):
        release(make_prospect(), LEADER, AT)


def test_a_closed_prospect_accepts_no_step(standard: Procedure) -> None:
    p = make_prospect(last_step="call")
    close(standard, p, "no_budget", MARKETEER, AT)
    with pytest.raises(ProspectClosed, match="no_budget"):
        perform(standard, p, "call_back", "marketeer", MARKETEER, AT)
    assert allowed_next(standard, p, "marketeer") == frozenset()


def test_closing_records_the_configured_reason(standard: Procedure) -> None:
    p = make_prospect(last_step="call")
    close(standard, p, "has_supplier", MARKETEER, AT, note="uses a competitor")
    assert (p.status, p.close_reason) == (ProspectStatus.CLOSED, "has_supplier")
    last = p.history[-1]
    assert (last.kind, last.detail, last.note) == (
        EntryKind.STATUS,
        "closed:has_supplier",
        "uses a competitor",
    )


def test_closing_with_an_unconfigured_reason_is_refused(standard: Procedure) -> None:
    p = make_prospect()
    with pytest.raises(InvalidInput, match="not_interested"):
        close(standard, p, "bored", MARKETEER, AT)
    assert p.status is ProspectStatus.RUNNING
    assert p.history == []


def test_a_prospect_can_be_closed_while_still_in_preparation(standard: Procedure) -> None:
    p = make_prospect(status=ProspectStatus.PREPARING)
    close(standard, p, "wrong_target", LEADER, AT)
    assert p.status is ProspectStatus.CLOSED


def test_closing_again_with_another_reason_records_it(standard: Procedure) -> None:
    p = make_prospect()
    close(standard, p, "no_budget", MARKETEER, AT)
    close(standard, p, "no_budget", MARKETEER, AT)
    close(standard, p, "not_interested", MARKETEER, LATER)
    assert p.close_reason == "not_interested"
    assert [e.detail for e in p.history] == ["closed:no_budget", "closed:not_interested"]


def test_reopening_continues_after_the_last_step(standard: Procedure) -> None:
    p = make_prospect(last_step="call")
    close(standard, p, "no_budget", MARKETEER, AT)
    reopen(p, LEADER, LATER)
    assert (p.status, p.close_reason) == (ProspectStatus.RUNNING, None)
    assert allowed_next(standard, p, "marketeer") == {"call_back", "send_info", "make_appointment"}


def test_only_a_closed_prospect_can_be_reopened() -> None:
    with pytest.raises(InvalidInput, match="only a closed prospect"):
        reopen(make_prospect(), LEADER, AT)


@pytest.mark.parametrize("status", list(ProspectStatus))
def test_status_can_change_at_any_moment(standard: Procedure, status: ProspectStatus) -> None:
    for start in ProspectStatus:
        p = make_prospect(status=start, last_step="call_back")
        reason = "no_budget" if status is ProspectStatus.CLOSED else None
        set_status(standard, p, status, LEADER, AT, reason=reason)
        assert p.status is status
        assert p.close_reason == reason


def test_set_status_needs_a_reason_to_close_and_only_then(standard: Procedure) -> None:
    p = make_prospect()
    with pytest.raises(InvalidInput, match="needs a close reason"):
        set_status(standard, p, "closed", LEADER, AT)
    with pytest.raises(InvalidInput, match="only goes with status closed"):
        set_status(standard, p, "preparing", LEADER, AT, reason="no_budget")
    with pytest.raises(InvalidInput, match="is not one of"):
        set_status(standard, p, "paused", LEADER, AT)
    assert p.history == []


def test_setting_the_same_status_changes_nothing(standard: Procedure) -> None:
    p = make_prospect()
    set_status(standard, p, ProspectStatus.RUNNING, LEADER, AT)
    assert p.history == []


def test_a_won_prospect_becomes_a_customer(standard: Procedure) -> None:
    p = make_prospect()
    perform(standard, p, "call", "marketeer", MARKETEER, AT)
    mark_won(p, LEADER, LATER)
    assert p.stage is RelationStage.CUSTOMER
    assert (p.history[-1].kind, p.history[-1].detail) == (EntryKind.STAGE, "customer")


def test_a_closed_prospect_cannot_be_won(standard: Procedure) -> None:
    p = make_prospect()
    close(standard, p, "no_budget", MARKETEER, AT)
    with pytest.raises(ProspectClosed):
        mark_won(p, LEADER, AT)


def _naive() -> datetime:
    return datetime(2026, 3, 2, 9, 30)


def test_naive_datetimes_are_refused_everywhere(standard: Procedure) -> None:
    naive = _naive()
    p = make_prospect(status=ProspectStatus.PREPARING)
    with pytest.raises(InvalidInput, match="timezone-aware"):
        release(p, LEADER, naive)
    p = make_prospect()
    with pytest.raises(InvalidInput, match="timezone-aware"):
        perform(standard, p, "call", "marketeer", MARKETEER, naive)
    with pytest.raises(InvalidInput, match="timezone-aware"):
        close(standard, p, "no_budget", MARKETEER, naive)
    with pytest.raises(InvalidInput, match="timezone-aware"):
        mark_won(p, LEADER, naive)
    with pytest.raises(InvalidInput, match="must be a datetime"):
        perform(standard, p, "call", "marketeer", MARKETEER, "2026-03-02")  # type: ignore[arg-type]
    assert p.history == []
    assert p.last_step is None


def test_an_empty_actor_is_refused(standard: Procedure) -> None:
    with pytest.raises(InvalidInput, match="actor"):
        perform(standard, make_prospect(), "call", "marketeer", "", AT)


def test_times_in_other_zones_are_kept_as_given(standard: Procedure) -> None:
    amsterdam = datetime(2026, 3, 2, 10, 30, tzinfo=timezone(timedelta(hours=1)))
    p = make_prospect()
    perform(standard, p, "call", "marketeer", MARKETEER, amsterdam)
    assert p.history[0].at == amsterdam
    assert p.history[0].at.utcoffset() == timedelta(hours=1)


# --- W7 corrections by the project leader -------------------------------------------------


def test_project_leader_may_correct_a_wrongly_registered_step(standard: Procedure) -> None:
    p = make_prospect()
    perform(standard, p, "call", "marketeer", MARKETEER, AT)
    perform(standard, p, "send_info", "marketeer", MARKETEER, AT)
    entry = correct(standard, p, 3, "make_appointment", "project_leader", LEADER, LATER, "typo")
    assert (entry.kind, entry.supersedes, entry.step, entry.seq) == (
        EntryKind.CORRECTION,
        3,
        "make_appointment",
        4,
    )
    assert p.last_step == "make_appointment"
    assert p.history[2].step == "send_info"  # nothing is deleted
    assert allowed_next(standard, p, "client") == {"client_call"}


def test_a_correction_may_go_against_the_direction_of_the_procedure(standard: Procedure) -> None:
    p = make_prospect(last_step=None)
    perform(standard, p, "call", "marketeer", MARKETEER, AT)
    perform(standard, p, "make_appointment", "marketeer", MARKETEER, AT)
    perform(standard, p, "client_call", "client", MARKETEER, AT)
    correct(standard, p, 4, "call", "project_leader", LEADER, LATER)
    assert p.last_step == "call"


def test_withdrawing_an_entry_falls_back_to_the_step_before(standard: Procedure) -> None:
    p = make_prospect()
    perform(standard, p, "call", "marketeer", MARKETEER, AT)
    perform(standard, p, "call_back", "marketeer", MARKETEER, AT)
    correct(standard, p, 3, None, "project_leader", LEADER, LATER)
    assert p.last_step == "call"
    correct(standard, p, 1, None, "project_leader", LEADER, LATER)
    assert getattr(p, "last_step") is None  # noqa: B009 - mypy narrowed the attribute above
    assert allowed_next(standard, p, "marketeer") == {"call"}


def test_a_correction_can_itself_be_corrected(standard: Procedure) -> None:
    p = make_prospect()
    perform(standard, p, "call", "marketeer", MARKETEER, AT)
    first = correct(standard, p, 1, "call_back", "project_leader", LEADER, LATER)
    correct(standard, p, first.seq, "send_info", "project_leader", LEADER, LATER)
    assert p.last_step == "send_info"


def test_an_entry_is_superseded_only_once(standard: Procedure) -> None:
    p = make_prospect()
    perform(standard, p, "call", "marketeer", MARKETEER, AT)
    correct(standard, p, 1, "call_back", "project_leader", LEADER, LATER)
    with pytest.raises(InvalidInput, match="already superseded by entry 3"):
        correct(standard, p, 1, "send_info", "project_leader", LEADER, LATER)


def test_a_marketeer_may_not_correct(standard: Procedure) -> None:
    p = make_prospect()
    perform(standard, p, "call", "marketeer", MARKETEER, AT)
    before = p.copy()
    with pytest.raises(AccessDenied, match="correct"):
        correct(standard, p, 1, "call_back", "marketeer", MARKETEER, LATER)
    assert p == before


def test_only_step_and_correction_entries_can_be_corrected(standard: Procedure) -> None:
    p = make_prospect()
    perform(standard, p, "call", "marketeer", MARKETEER, AT)  # seq 2 is the stage entry
    for seq in (2, 99):
        with pytest.raises(InvalidInput, match="not a step or correction entry"):
            correct(standard, p, seq, "call_back", "project_leader", LEADER, LATER)


def test_a_correction_must_name_a_step_of_the_procedure(standard: Procedure) -> None:
    p = make_prospect()
    perform(standard, p, "call", "marketeer", MARKETEER, AT)
    with pytest.raises(InvalidInput, match="not a step of procedure"):
        correct(standard, p, 1, "dance", "project_leader", LEADER, LATER)


def test_a_closed_prospect_cannot_be_corrected(standard: Procedure) -> None:
    p = make_prospect()
    perform(standard, p, "call", "marketeer", MARKETEER, AT)
    close(standard, p, "no_budget", MARKETEER, AT)
    with pytest.raises(ProspectClosed):
        correct(standard, p, 1, "call_back", "project_leader", LEADER, LATER)


def test_correction_rights_may_be_limited_to_some_steps() -> None:
    proc = Procedure(
        "p",
        "P",
        steps=("a", "b", "c"),
        matrix={"m": {START: {"a"}, "a": {"b"}, "b": {"c"}}},
        corrections={"lead": {"b"}},
        close_reasons=("x",),
    )
    p = make_prospect()
    perform(proc, p, "a", "m", MARKETEER, AT)
    with pytest.raises(AccessDenied):
        correct(proc, p, 1, "c", "lead", LEADER, LATER)
    correct(proc, p, 1, "b", "lead", LEADER, LATER)
    assert p.last_step == "b"
    assert proc.may_correct("lead", "b")
    assert not proc.may_correct("m", "b")
    everything = Procedure("q", "Q", steps=("a",), corrections={"lead": ANY_STEP})
    assert everything.may_correct("lead", "a")
    assert not everything.may_correct("lead", "zz")


# --- effects of installation-declared step kinds --------------------------------------------


def test_a_declared_step_kind_yields_a_custom_effect() -> None:
    defs = Definitions(
        roles=[Role("m")],
        steps=[Step("sms", "Text", kind="sms", params={"sender": "ACME"})],
        step_kinds=[StepKindSpec("sms", "send a text", ("sender",))],
        procedures=[Procedure("p", "P", steps=("sms",), matrix={"m": {START: {"sms"}}})],
    )
    effects = perform(defs.procedure("p"), make_prospect(), "sms", "m", MARKETEER, AT)
    assert effects == (CustomEffect("sms", "sms", {"sender": "ACME"}),)


def test_a_procedure_outside_a_bundle_treats_typed_steps_as_plain(
    definitions: Definitions,
) -> None:
    loose = Procedure("p", "P", steps=("send_info",), matrix={"m": {START: {"send_info"}}})
    assert perform(loose, make_prospect(), "send_info", "m", MARKETEER, AT) == ()

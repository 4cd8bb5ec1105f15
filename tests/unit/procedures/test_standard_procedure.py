"""W7: the standard procedure of the WATCH documentation, role by role."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from crm_procedures.errors import TransitionNotAllowed
from crm_procedures.model.prospect import EntryKind, ProspectStatus, RelationStage
from crm_procedures.procedures.definitions import load_definitions
from crm_procedures.procedures.effects import BookAppointment, SendEmail
from crm_procedures.procedures.procedure import Definitions, Procedure
from crm_procedures.procedures.runtime import allowed_next, perform, worklist_last_steps
from crm_procedures.procedures.standard import standard_definitions
from crm_procedures.procedures.validation import validate

from .conftest import AT, CLIENT_EMPLOYEE, LEADER, MARKETEER, make_prospect

ROOT = Path(__file__).resolve().parents[3]
STEPS = ("call", "call_back", "send_info", "make_appointment", "client_call")
ROLES = ("marketeer", "client", "project_leader")
MARKETEER_STEPS = ("call", "call_back", "send_info", "make_appointment")

# The seed's matrix, in its own words (None = a suspect on which nothing is done yet).
ALLOWED: dict[tuple[str, str | None], set[str]] = {
    ("marketeer", None): {"call"},
    ("marketeer", "call"): {"call_back", "send_info", "make_appointment"},
    ("marketeer", "call_back"): {"call_back", "send_info", "make_appointment"},
    ("marketeer", "send_info"): {"call_back"},
    ("client", "make_appointment"): {"client_call"},
    ("client", "client_call"): {"client_call"},
    **{("project_leader", last): set(MARKETEER_STEPS) for last in (None, *STEPS)},
}


def test_standard_definitions_have_no_findings(definitions: Definitions) -> None:
    assert validate(definitions) == []


def test_example_toml_loads_equal_to_the_packaged_standard() -> None:
    assert load_definitions(ROOT / "examples" / "standard_procedure.toml") == (
        standard_definitions()
    )


def test_marketeer_may_call_a_suspect_on_which_nothing_is_done(standard: Procedure) -> None:
    assert allowed_next(standard, make_prospect(), "marketeer") == {"call"}


def test_marketeer_may_call_back_after_call(standard: Procedure) -> None:
    p = make_prospect(last_step="call")
    perform(standard, p, "call_back", "marketeer", MARKETEER, AT)
    assert p.last_step == "call_back"


def test_marketeer_may_call_back_again_and_again(standard: Procedure) -> None:
    p = make_prospect(last_step="call")
    for _ in range(3):
        perform(standard, p, "call_back", "marketeer", MARKETEER, AT)
    assert [e.step for e in p.history if e.kind is EntryKind.STEP] == ["call_back"] * 3


@pytest.mark.parametrize("after", ["call", "call_back"])
def test_marketeer_may_send_information_after_call_or_call_back(
    standard: Procedure, after: str
) -> None:
    p = make_prospect(last_step=after)
    effects = perform(standard, p, "send_info", "marketeer", MARKETEER, AT)
    assert effects == (SendEmail("send_info", "info", p.contact_id),)


@pytest.mark.parametrize("after", ["call", "call_back"])
def test_marketeer_may_make_an_appointment_with_the_client_after_call_or_call_back(
    standard: Procedure, after: str
) -> None:
    p = make_prospect(last_step=after)
    effects = perform(standard, p, "make_appointment", "marketeer", MARKETEER, AT)
    assert effects == (BookAppointment("make_appointment", 60, "client"),)


def test_client_may_call_after_appointment(standard: Procedure) -> None:
    p = make_prospect(last_step="make_appointment")
    perform(standard, p, "client_call", "client", CLIENT_EMPLOYEE, AT)
    assert p.last_step == "client_call"


def test_client_may_call_one_or_more_times_before_and_after_the_appointment(
    standard: Procedure,
) -> None:
    p = make_prospect(last_step="call")
    perform(standard, p, "make_appointment", "marketeer", MARKETEER, AT)
    for _ in range(4):
        perform(standard, p, "client_call", "client", CLIENT_EMPLOYEE, AT)
    assert allowed_next(standard, p, "client") == {"client_call"}


def test_client_may_not_call_before_an_appointment_is_made(standard: Procedure) -> None:
    for last in (None, "call", "call_back", "send_info"):
        with pytest.raises(TransitionNotAllowed):
            perform(standard, make_prospect(last_step=last), "client_call", "client", "c", AT)


def test_marketeer_leaves_the_prospect_to_the_client_once_an_appointment_is_made(
    standard: Procedure,
) -> None:
    p = make_prospect(last_step="make_appointment")
    assert allowed_next(standard, p, "marketeer") == frozenset()
    perform(standard, p, "client_call", "client", CLIENT_EMPLOYEE, AT)
    assert allowed_next(standard, p, "marketeer") == frozenset()


def test_the_last_step_is_the_prospects_whoever_did_it(standard: Procedure) -> None:
    # A project leader calling back after the appointment moves the prospect back
    # into the marketeers' part: the client's right to call follows the last step.
    p = make_prospect(last_step="client_call")
    perform(standard, p, "call_back", "project_leader", LEADER, AT)
    assert allowed_next(standard, p, "client") == frozenset()
    assert allowed_next(standard, p, "marketeer") == {"call_back", "send_info", "make_appointment"}


def test_project_leader_may_do_any_marketeer_step_at_any_point(standard: Procedure) -> None:
    for last in (None, *STEPS):
        assert allowed_next(standard, make_prospect(last_step=last), "project_leader") == set(
            MARKETEER_STEPS
        )


@pytest.mark.parametrize(
    ("role", "last", "step"), list(itertools.product(ROLES, (None, *STEPS), STEPS))
)
def test_every_other_move_is_refused(
    standard: Procedure, role: str, last: str | None, step: str
) -> None:
    p = make_prospect(last_step=last)
    expected = ALLOWED.get((role, last), set())
    if step in expected:
        perform(standard, p, step, role, MARKETEER, AT)
        assert p.last_step == step
        return
    before = p.copy()
    with pytest.raises(TransitionNotAllowed) as refused:
        perform(standard, p, step, role, MARKETEER, AT)
    assert p == before
    assert refused.value.role == role
    assert refused.value.last_step == last
    assert set(refused.value.allowed) == expected


def test_refusal_names_role_last_step_and_the_allowed_steps(standard: Procedure) -> None:
    with pytest.raises(TransitionNotAllowed, match=r"'marketeer'.*'client_call'.*'call'"):
        perform(standard, make_prospect(last_step="call"), "client_call", "marketeer", "a", AT)


def test_first_step_makes_the_suspect_a_prospect(standard: Procedure) -> None:
    p = make_prospect()
    before = p.stage
    assert before is RelationStage.SUSPECT
    perform(standard, p, "call", "marketeer", MARKETEER, AT)
    assert p.stage is RelationStage.PROSPECT
    assert (p.became_prospect_at, p.became_prospect_by) == (AT, MARKETEER)
    stage_entries = [e for e in p.history if e.kind is EntryKind.STAGE]
    assert [(e.detail, e.actor, e.at) for e in stage_entries] == [("prospect", MARKETEER, AT)]


def test_later_steps_do_not_record_the_stage_again(standard: Procedure) -> None:
    p = make_prospect()
    perform(standard, p, "call", "marketeer", MARKETEER, AT)
    perform(standard, p, "call_back", "marketeer", MARKETEER, AT)
    assert sum(e.kind is EntryKind.STAGE for e in p.history) == 1


def test_plain_steps_have_no_effects(standard: Procedure) -> None:
    assert perform(standard, make_prospect(), "call", "marketeer", MARKETEER, AT) == ()


def test_worklist_of_a_marketeer_holds_start_and_the_steps_it_may_follow(
    standard: Procedure,
) -> None:
    assert worklist_last_steps(standard, "marketeer") == {None, "call", "call_back", "send_info"}
    assert worklist_last_steps(standard, "client") == {"make_appointment", "client_call"}
    assert worklist_last_steps(standard, "nobody") == frozenset()


def test_a_prospect_in_preparation_is_on_nobodys_worklist_of_moves(standard: Procedure) -> None:
    p = make_prospect(status=ProspectStatus.PREPARING)
    assert all(allowed_next(standard, p, role) == frozenset() for role in ROLES)

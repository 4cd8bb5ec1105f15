"""X2: static validation finds each kind of problem, with a stable code and a location."""

from __future__ import annotations

from typing import Any

import pytest

from crm_procedures.model.dictionaries import Choice, Dictionary
from crm_procedures.procedures.procedure import ANY_STEP, START, Definitions, Procedure, StepRef
from crm_procedures.procedures.step import Role, Step, StepKindSpec
from crm_procedures.procedures.templates import EmailTemplate
from crm_procedures.procedures.validation import errors, validate

REASONS = Dictionary("close_reason", [Choice("no", "No")])


def bundle(
    *,
    steps: list[Step] | None = None,
    procedure: dict[str, Any] | None = None,
    templates: list[EmailTemplate] | None = None,
    roles: list[Role] | None = None,
    kinds: list[StepKindSpec] | None = None,
) -> Definitions:
    spec: dict[str, Any] = {
        "steps": ("a", "b"),
        "matrix": {"m": {START: {"a"}, "a": {"b"}}},
        "close_reasons": ("no",),
    }
    spec.update(procedure or {})
    return Definitions(
        roles=roles if roles is not None else [Role("m"), Role("lead")],
        steps=steps if steps is not None else [Step("a", "A"), Step("b", "B", final=True)],
        templates=templates or [],
        step_kinds=kinds or [],
        procedures=[Procedure("p", "P", **spec)],
        close_reasons=REASONS,
    )


def found(defs: Definitions) -> set[tuple[str, str]]:
    return {(f.code, f.location) for f in validate(defs)}


def test_a_sound_bundle_has_no_findings() -> None:
    assert validate(bundle()) == []


def test_unknown_step_in_a_matrix() -> None:
    defs = bundle(procedure={"matrix": {"m": {START: {"a"}, "a": {"b", "zz"}}}})
    assert ("unknown-step", "procedures.p.matrix.m.a") in found(defs)


def test_unknown_step_in_the_procedures_list() -> None:
    defs = bundle(procedure={"steps": ("a", "b", "zz")})
    assert ("unknown-step", "procedures.p.steps[2]") in found(defs)


def test_lowercase_start_row_gets_a_hint() -> None:
    defs = bundle(procedure={"matrix": {"m": {"start": {"a"}, "a": {"b"}}}})
    (finding,) = [f for f in validate(defs) if f.code == "unknown-step"]
    assert "spelled START" in finding.message


def test_unknown_role_in_a_matrix() -> None:
    defs = bundle(procedure={"matrix": {"m": {START: {"a"}, "a": {"b"}}, "ghost": {"a": {"b"}}}})
    assert ("unknown-role", "procedures.p.matrix.ghost") in found(defs)


def test_step_not_in_procedure() -> None:
    defs = bundle(
        steps=[Step("a", "A"), Step("b", "B", final=True), Step("c", "C")],
        procedure={"matrix": {"m": {START: {"a"}, "a": {"b", "c"}}}},
    )
    assert ("step-not-in-procedure", "procedures.p.matrix.m.a") in found(defs)


def test_unreachable_step() -> None:
    defs = bundle(
        steps=[Step("a", "A", final=True), Step("b", "B", final=True)],
        procedure={"matrix": {"m": {START: {"a"}}}},
    )
    (finding,) = [f for f in validate(defs) if f.code == "unreachable-step"]
    assert "'b'" in finding.message
    assert finding.severity == "error"


def test_a_step_reached_only_through_another_role_is_reachable() -> None:
    defs = bundle(procedure={"matrix": {"m": {START: {"a"}}, "lead": {"a": {"b"}}}})
    assert validate(defs) == []


def test_dead_end_unless_final() -> None:
    defs = bundle(steps=[Step("a", "A"), Step("b", "B")])
    assert ("dead-end", "procedures.p.matrix") in found(defs)
    (finding,) = [f for f in validate(defs) if f.code == "dead-end"]
    assert "'b'" in finding.message
    assert "final" in finding.message


def test_role_cannot_start_when_no_role_has_a_start_row() -> None:
    defs = bundle(procedure={"matrix": {"m": {"a": {"b"}}, "lead": {"b": {"a"}}}})
    assert {loc for code, loc in found(defs) if code == "role-cannot-start"} == {
        "procedures.p.matrix.m",
        "procedures.p.matrix.lead",
    }


def test_a_role_taking_over_from_another_is_not_reported() -> None:
    defs = bundle(procedure={"matrix": {"m": {START: {"a"}}, "lead": {"a": {"b"}}}})
    assert not any(f.code.startswith("role-") for f in validate(defs))


def test_role_never_acts_is_a_warning() -> None:
    defs = bundle(
        steps=[Step("a", "A", final=True), Step("b", "B", final=True)],
        procedure={"matrix": {"m": {START: {"a"}}, "lead": {"b": {"b"}}}},
    )
    (finding,) = [f for f in validate(defs) if f.code == "role-never-acts"]
    assert finding.severity == "warning"


def test_empty_matrix() -> None:
    assert ("empty-matrix", "procedures.p.matrix") in found(bundle(procedure={"matrix": {}}))


def test_duplicate_step_in_a_procedure() -> None:
    defs = bundle(procedure={"steps": ("a", "b", "a")})
    assert ("duplicate-step", "procedures.p.steps[2]") in found(defs)


def test_empty_procedure() -> None:
    defs = bundle(procedure={"steps": (), "matrix": {"m": {START: set()}}})
    assert ("empty-procedure", "procedures.p.steps") in found(defs)


def test_send_email_without_a_template() -> None:
    defs = bundle(steps=[Step("a", "A", kind="send_email"), Step("b", "B", final=True)])
    assert ("missing-template", "steps.a.template") in found(defs)


def test_send_email_with_an_unknown_template() -> None:
    defs = bundle(steps=[Step("a", "A", "send_email", "info"), Step("b", "B", final=True)])
    assert ("unknown-template", "steps.a.template") in found(defs)


def test_template_with_an_unknown_field() -> None:
    defs = bundle(
        steps=[Step("a", "A", "send_email", "info"), Step("b", "B", final=True)],
        templates=[EmailTemplate("info", "Hi", "Dear {{contact.password}}")],
    )
    assert ("template-unknown-field", "templates.info.text") in found(defs)


def test_make_appointment_without_a_duration() -> None:
    defs = bundle(steps=[Step("a", "A", kind="make_appointment"), Step("b", "B", final=True)])
    assert ("missing-duration", "steps.a.duration_minutes") in found(defs)


@pytest.mark.parametrize("minutes", [0, -30])
def test_a_duration_must_be_positive(minutes: int) -> None:
    step = Step("a", "A", kind="make_appointment", duration_minutes=minutes)
    defs = bundle(steps=[step, Step("b", "B", final=True)])
    assert ("invalid-duration", "steps.a.duration_minutes") in found(defs)


def test_appointment_with_an_unknown_role() -> None:
    step = Step("a", "A", "make_appointment", duration_minutes=30, appointment_with="boss")
    defs = bundle(steps=[step, Step("b", "B", final=True)])
    assert ("unknown-role", "steps.a.appointment_with") in found(defs)


def test_unknown_step_kind() -> None:
    defs = bundle(steps=[Step("a", "A", kind="fax"), Step("b", "B", final=True)])
    assert ("unknown-step-kind", "steps.a.kind") in found(defs)


def test_declared_step_kind_requires_its_fields() -> None:
    kinds = [StepKindSpec("sms", "text message", ("sender", "template"))]
    defs = bundle(steps=[Step("a", "A", kind="sms"), Step("b", "B", final=True)], kinds=kinds)
    assert {
        ("missing-step-field", "steps.a.params"),
        ("missing-step-field", "steps.a.template"),
    } <= (found(defs))
    assert "unknown-step-kind" not in {f.code for f in validate(defs)}


def test_correction_for_an_unknown_role() -> None:
    defs = bundle(procedure={"corrections": {"boss": ANY_STEP}})
    assert ("correction-unknown-role", "procedures.p.corrections.boss") in found(defs)


def test_correction_rights_naming_unknown_steps() -> None:
    defs = bundle(procedure={"corrections": {"lead": {"zz"}}})
    assert ("unknown-step", "procedures.p.corrections.lead") in found(defs)


def test_empty_close_reasons() -> None:
    defs = bundle(procedure={"close_reasons": ()})
    assert ("empty-close-reasons", "procedures.p.close_reasons") in found(defs)


def test_unknown_close_reason() -> None:
    defs = bundle(procedure={"close_reasons": ("no", "maybe")})
    assert ("unknown-close-reason", "procedures.p.close_reasons[1]") in found(defs)


def test_reserved_and_invalid_keys() -> None:
    defs = bundle(steps=[Step("a", "A"), Step("b", "B", final=True), Step("START", "S")])
    assert ("reserved-step-key", "steps.START") in found(defs)
    defs = bundle(roles=[Role("m"), Role("lead"), Role("bad key")])
    assert ("invalid-key", "roles.bad key") in found(defs)


def test_errors_keeps_only_error_findings() -> None:
    defs = bundle(
        steps=[Step("a", "A", final=True), Step("b", "B", final=True)],
        procedure={"matrix": {"m": {START: {"a"}}, "lead": {"b": {"b"}}}},
    )
    assert {f.code for f in errors(validate(defs))} == {"unreachable-step"}


def test_validation_of_a_large_procedure_finds_nothing_wrong_quickly_enough() -> None:
    # Ten thousand steps in a chain, every role may also repeat: linear work, no findings.
    n = 10_000
    keys = [f"s{i}" for i in range(n)]
    rows: dict[StepRef, set[str]] = {START: {keys[0]}}
    rows.update({keys[i]: {keys[i + 1], keys[i]} for i in range(n - 1)})
    defs = Definitions(
        roles=[Role(f"r{j}") for j in range(3)],
        steps=[Step(k, k, final=(k == keys[-1])) for k in keys],
        procedures=[
            Procedure(
                "big",
                "Big",
                steps=tuple(keys),
                matrix={f"r{j}": rows for j in range(3)},
                close_reasons=("no",),
            )
        ],
        close_reasons=REASONS,
    )
    assert validate(defs) == []

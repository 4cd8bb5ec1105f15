"""X2 validation, exactly: each finding's code, location, severity and subject.

``test_validation_findings.py`` shows each kind of problem is found; these tests
pin down the boundaries a mutation run showed were loose: the version and
duration limits, the ``step-kind-redefined`` warning (and its absence), a
matrix row with no targets, reachability through a step outside the procedure,
and that every finding says what it is about.
"""

from __future__ import annotations

from typing import Any

import pytest

from crm_procedures.errors import Finding
from crm_procedures.model.dictionaries import Choice, Dictionary
from crm_procedures.procedures.procedure import START, Definitions, Procedure
from crm_procedures.procedures.step import Role, Step, StepKindSpec
from crm_procedures.procedures.templates import EmailTemplate
from crm_procedures.procedures.validation import MAX_VERSION, validate

REASONS = Dictionary("close_reason", [Choice("no", "No")])


def bundle(
    *,
    steps: list[Step] | None = None,
    procedure: dict[str, Any] | None = None,
    kinds: list[StepKindSpec] | None = None,
    templates: list[EmailTemplate] | None = None,
    version: int = 1,
) -> Definitions:
    spec: dict[str, Any] = {
        "steps": ("a", "b"),
        "matrix": {"m": {START: {"a"}, "a": {"b"}}},
        "close_reasons": ("no",),
    }
    spec.update(procedure or {})
    return Definitions(
        roles=[Role("m"), Role("lead")],
        steps=steps if steps is not None else [Step("a", "A"), Step("b", "B", final=True)],
        templates=templates or [],
        step_kinds=kinds or [],
        procedures=[Procedure("p", "P", **spec)],
        close_reasons=REASONS,
        version=version,
    )


def findings(defs: Definitions, code: str) -> list[Finding]:
    return [f for f in validate(defs) if f.code == code]


def only(defs: Definitions, code: str) -> Finding:
    (finding,) = findings(defs, code)
    return finding


def where(defs: Definitions) -> list[tuple[str, str, str]]:
    return sorted((f.code, f.location, f.severity) for f in validate(defs))


def test_every_finding_has_a_message_naming_its_subject() -> None:
    defs = Definitions(
        roles=[Role("m")],
        steps=[
            Step("a", " "),
            Step("b", "B", kind="send_email"),
            Step("c", "C", kind="make_appointment", appointment_with="ghost"),
            Step("d", "D", kind="teleport"),
            Step("e", "E", template="nope", duration_minutes=0),
        ],
        procedures=[
            Procedure(
                "p",
                "",
                steps=("a", "a", "zz"),
                matrix={"m": {START: {"a"}, "a": {"b"}}, "ghost": {"a": {"a"}}},
                corrections={"spook": {"yy"}},
                close_reasons=("gone",),
                version=0,
            ),
            Procedure("q", "Q", steps=(), matrix={}, close_reasons=()),
        ],
        close_reasons=REASONS,
    )
    found = validate(defs)
    subjects = {
        "empty-name": "no name",
        "missing-template": "template",
        "unknown-template": "'nope'",
        "missing-duration": "duration_minutes",
        "invalid-duration": "0",
        "unknown-role": "'ghost'",
        "unknown-step-kind": "'teleport'",
        "duplicate-step": "'a'",
        "unknown-step": "'",
        "step-not-in-procedure": "'b'",
        "correction-unknown-role": "'spook'",
        "empty-close-reasons": "close reasons",
        "unknown-close-reason": "'gone'",
        "empty-matrix": "matrix",
        "empty-procedure": "no steps",
        "invalid-version": "1 or higher",
        "unreachable-step": "step '",
        "dead-end": "after step '",
    }
    assert {f.code for f in found} >= set(subjects)
    for f in found:
        assert isinstance(f.message, str)
        assert isinstance(f.location, str)
        assert f.location
        assert subjects.get(f.code, "") in f.message, f


# --- version ------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [0, -3])
def test_a_version_below_one_is_found_for_the_bundle_and_each_procedure(version: int) -> None:
    assert where(bundle(version=version)) == [("invalid-version", "version", "error")]
    assert where(bundle(procedure={"version": version})) == [
        ("invalid-version", "procedures.p.version", "error")
    ]
    finding = only(bundle(procedure={"version": version}), "invalid-version")
    assert finding.message == (
        f"the version must be 1 or higher and at most {MAX_VERSION}, not {version}"
    )


def test_version_one_is_valid() -> None:
    assert validate(bundle(version=1, procedure={"version": 1})) == []


# --- step kinds ---------------------------------------------------------------------------


def test_redeclaring_a_built_in_kind_is_a_warning_at_its_declaration() -> None:
    defs = bundle(kinds=[StepKindSpec("send_email", "mine", ())])
    finding = only(defs, "step-kind-redefined")
    assert (finding.location, finding.severity) == ("step_kinds.send_email", "warning")
    assert "'send_email' is built in" in finding.message


def test_declaring_a_new_kind_is_no_warning() -> None:
    defs = bundle(
        kinds=[StepKindSpec("survey", "a survey", ())],
        steps=[Step("a", "A", kind="survey"), Step("b", "B", final=True)],
    )
    assert validate(defs) == []


def test_a_declared_kind_names_each_missing_field_where_it_belongs() -> None:
    defs = bundle(
        kinds=[StepKindSpec("survey", "", ("template", "form"))],
        steps=[Step("a", "A", kind="survey"), Step("b", "B", final=True)],
    )
    found = findings(defs, "missing-step-field")
    assert sorted((f.location, f.message) for f in found) == [
        ("steps.a.params", "steps of kind 'survey' need 'form'"),
        ("steps.a.template", "steps of kind 'survey' need 'template'"),
    ]


def test_an_unknown_kind_lists_the_known_ones() -> None:
    defs = bundle(steps=[Step("a", "A", kind="teleport"), Step("b", "B", final=True)])
    finding = only(defs, "unknown-step-kind")
    assert finding.location == "steps.a.kind"
    assert "(known: make_appointment, plain, send_email)" in finding.message


# --- durations ----------------------------------------------------------------------------


@pytest.mark.parametrize("minutes", [1, 60, 24 * 60])
def test_a_duration_of_one_minute_or_more_is_valid(minutes: int) -> None:
    defs = bundle(steps=[Step("a", "A", duration_minutes=minutes), Step("b", "B", final=True)])
    assert validate(defs) == []


@pytest.mark.parametrize("minutes", [0, -1, True, False, 1.5, "60"])
def test_a_duration_that_is_not_a_whole_number_above_zero_is_found(minutes: Any) -> None:
    defs = bundle(steps=[Step("a", "A", duration_minutes=minutes), Step("b", "B", final=True)])
    finding = only(defs, "invalid-duration")
    assert finding.location == "steps.a.duration_minutes"
    assert f"not {minutes!r}" in finding.message


def test_a_make_appointment_step_needs_a_duration_and_a_known_role() -> None:
    defs = bundle(
        steps=[
            Step("a", "A", kind="make_appointment", appointment_with="ghost"),
            Step("b", "B", final=True),
        ]
    )
    assert where(defs) == [
        ("missing-duration", "steps.a.duration_minutes", "error"),
        ("unknown-role", "steps.a.appointment_with", "error"),
    ]


def test_a_step_without_a_name_is_found_at_its_name() -> None:
    defs = bundle(steps=[Step("a", "\t"), Step("b", "B", final=True)])
    assert where(defs) == [("empty-name", "steps.a.name", "error")]
    assert only(defs, "empty-name").message == "the step has no name"


def test_a_procedure_without_a_name_is_found_at_its_name() -> None:
    defs = Definitions(
        roles=[Role("m")],
        steps=[Step("a", "A", final=True)],
        procedures=[
            Procedure("p", " ", steps=("a",), matrix={"m": {START: {"a"}}}, close_reasons=("no",))
        ],
        close_reasons=REASONS,
    )
    finding = only(defs, "empty-name")
    assert finding.location == "procedures.p.name"
    assert finding.message == "the procedure has no name"


# --- the matrix and the graph -------------------------------------------------------------


def test_an_empty_row_is_no_way_on() -> None:
    defs = bundle(
        steps=[Step("a", "A"), Step("b", "B")],
        procedure={"matrix": {"m": {START: {"a"}, "a": {"b"}, "b": set()}}},
    )
    finding = only(defs, "dead-end")
    assert finding.location == "procedures.p.matrix"
    assert "after step 'b'" in finding.message


def test_a_matrix_whose_rows_are_all_empty_is_an_empty_matrix() -> None:
    defs = bundle(procedure={"matrix": {"m": {START: set(), "a": set()}}})
    assert [f.code for f in validate(defs)] == ["empty-matrix"]
    assert only(defs, "empty-matrix").location == "procedures.p.matrix"


def test_no_step_is_reached_through_a_step_outside_the_procedure() -> None:
    defs = bundle(
        steps=[Step("a", "A"), Step("b", "B", final=True), Step("x", "X")],
        procedure={"matrix": {"m": {START: {"x"}, "x": {"a"}, "a": {"b"}}}},
    )
    unreachable = findings(defs, "unreachable-step")
    assert sorted(f.message for f in unreachable) == [
        "no role can ever reach step 'a' from START; add it to a matrix row",
        "no role can ever reach step 'b' from START; add it to a matrix row",
    ]
    assert {f.location for f in unreachable} == {"procedures.p.steps"}
    assert ("step-not-in-procedure", "procedures.p.matrix.m.x") in {
        (f.code, f.location) for f in validate(defs)
    }


def test_a_role_acting_only_after_unreachable_steps_never_acts() -> None:
    defs = bundle(
        steps=[Step("a", "A"), Step("b", "B", final=True), Step("c", "C", final=True)],
        procedure={
            "steps": ("a", "b", "c"),
            "matrix": {"m": {START: {"a"}, "a": {"b"}}, "lead": {"c": {"b"}, "b": set()}},
        },
    )
    finding = only(defs, "role-never-acts")
    assert (finding.location, finding.severity) == ("procedures.p.matrix.lead", "warning")
    assert "role 'lead' only has rows for steps nobody can reach" in finding.message


def test_a_role_with_only_empty_rows_or_a_start_row_is_not_reported() -> None:
    defs = bundle(procedure={"matrix": {"m": {START: {"a"}, "a": {"b"}}, "lead": {}}})
    assert validate(defs) == []


def test_without_any_start_row_every_role_is_named() -> None:
    defs = bundle(procedure={"matrix": {"m": {"a": {"b"}}, "lead": {"b": {"a"}}}})
    cannot = findings(defs, "role-cannot-start")
    assert sorted(f.location for f in cannot) == [
        "procedures.p.matrix.lead",
        "procedures.p.matrix.m",
    ]
    assert all("has no START row" in f.message for f in cannot)


def test_one_start_row_among_several_roles_is_enough() -> None:
    defs = bundle(procedure={"matrix": {"m": {START: {"a"}}, "lead": {"a": {"b"}}}})
    assert validate(defs) == []


def test_an_unknown_step_as_a_row_is_found_at_that_row() -> None:
    defs = bundle(procedure={"matrix": {"m": {START: {"a"}, "a": {"b"}, "zz": {"b"}}}})
    finding = only(defs, "unknown-step")
    assert finding.location == "procedures.p.matrix.m.zz"
    assert finding.message == "step 'zz' is not defined under [steps]"


def test_only_a_lowercase_start_row_gets_the_start_hint() -> None:
    defs = bundle(procedure={"matrix": {"m": {START: {"a"}, "a": {"b"}, "begin": {"b"}}}})
    assert only(defs, "unknown-step").message == "step 'begin' is not defined under [steps]"
    defs = bundle(procedure={"matrix": {"m": {START: {"a"}, "a": {"b"}, "start": {"b"}}}})
    assert only(defs, "unknown-step").message.endswith("is spelled START)")


def test_correction_rights_name_unknown_roles_and_steps_where_they_are() -> None:
    defs = bundle(procedure={"corrections": {"spook": {"zz", "a"}}})
    assert where(defs) == [
        ("correction-unknown-role", "procedures.p.corrections.spook", "error"),
        ("unknown-step", "procedures.p.corrections.spook", "error"),
    ]
    assert "'zz'" in only(defs, "unknown-step").message


def test_close_reasons_are_found_where_they_are_listed() -> None:
    defs = bundle(procedure={"close_reasons": ("no", "gone")})
    finding = only(defs, "unknown-close-reason")
    assert finding.location == "procedures.p.close_reasons[1]"
    assert "'gone'" in finding.message
    assert where(bundle(procedure={"close_reasons": ()})) == [
        ("empty-close-reasons", "procedures.p.close_reasons", "error")
    ]


def test_duplicate_and_unknown_steps_in_the_list_are_found_by_position() -> None:
    defs = bundle(procedure={"steps": ("a", "b", "a", "zz")})
    assert ("duplicate-step", "procedures.p.steps[2]", "error") in where(defs)
    assert ("unknown-step", "procedures.p.steps[3]", "error") in where(defs)
    assert "'a' is listed twice" in only(defs, "duplicate-step").message


def test_an_undefined_role_in_a_matrix_is_named() -> None:
    defs = bundle(procedure={"matrix": {"m": {START: {"a"}, "a": {"b"}}, "ghost": {"a": {"b"}}}})
    finding = only(defs, "unknown-role")
    assert finding.location == "procedures.p.matrix.ghost"
    assert finding.message == "role 'ghost' is not defined under [roles]"


def test_an_invalid_key_is_found_in_each_section_it_keys() -> None:
    defs = Definitions(
        roles=[Role("m"), Role("bad role")],
        steps=[Step("a", "A", final=True), Step("bad step", "B", final=True)],
        templates=[EmailTemplate("bad template", "S", "T")],
        step_kinds=[StepKindSpec("bad kind")],
        procedures=[
            Procedure("p", "P", steps=("a",), matrix={"m": {START: {"a"}}}, close_reasons=("no",)),
            Procedure(
                "bad proc", "Q", steps=("a",), matrix={"m": {START: {"a"}}}, close_reasons=("no",)
            ),
        ],
        close_reasons=REASONS,
    )
    invalid = findings(defs, "invalid-key")
    assert sorted(f.location for f in invalid) == [
        "procedures.bad proc",
        "roles.bad role",
        "step_kinds.bad kind",
        "steps.bad step",
        "templates.bad template",
    ]
    assert all("is not a valid key" in f.message for f in invalid)


def test_the_bundle_version_finding_says_what_is_valid() -> None:
    finding = only(bundle(version=0), "invalid-version")
    assert (finding.location, finding.message) == (
        "version",
        f"the version must be 1 or higher and at most {MAX_VERSION}, not 0",
    )


def test_a_definition_keyed_other_than_its_own_key_is_found() -> None:
    defs = Definitions(
        roles={"m": Role("m"), "x": Role("y")},
        steps=[Step("a", "A", final=True)],
        procedures=[
            Procedure("p", "P", steps=("a",), matrix={"m": {START: {"a"}}}, close_reasons=("no",))
        ],
        close_reasons=REASONS,
    )
    assert where(defs) == [("key-mismatch", "roles.x", "error")]
    assert only(defs, "key-mismatch").message == "is keyed 'x' but its own key is 'y'"


@pytest.mark.parametrize("key", ["START", "*"])
def test_a_reserved_step_key_says_what_it_means(key: str) -> None:
    defs = bundle(steps=[Step("a", "A"), Step("b", "B", final=True), Step(key, "S", final=True)])
    finding = only(defs, "reserved-step-key")
    assert finding.location == f"steps.{key}"
    assert finding.message.startswith(f"{key!r} is reserved (START is the matrix row")

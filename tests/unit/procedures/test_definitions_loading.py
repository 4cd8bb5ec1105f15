"""X7: definitions load from TOML, JSON and mappings, report every problem, dump back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_procedures.errors import DefinitionError
from crm_procedures.model.dictionaries import Choice, Dictionary
from crm_procedures.procedures.definitions import dump_definitions, load_definitions
from crm_procedures.procedures.procedure import ANY_STEP, START, Definitions, Procedure
from crm_procedures.procedures.step import Role, Step, StepKindSpec
from crm_procedures.procedures.templates import EmailTemplate, TemplateAttachment, TemplateVariant

MINIMAL = """
[roles.m]
[steps.a]
name = "A"
[steps.b]
name = "B"
final = true
[procedures.p]
name = "P"
steps = ["a", "b"]
close_reasons = ["no"]
[procedures.p.matrix.m]
START = ["a"]
a = ["b"]
[dictionaries.close_reason]
choices = [{ key = "no", label = "No" }]
"""


def codes(exc: DefinitionError) -> list[str]:
    return [f.code for f in exc.findings]


def test_a_toml_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "defs.toml"
    path.write_text(MINIMAL, encoding="utf-8")
    defs = load_definitions(path)
    assert defs.procedure("p").allowed("m", None) == {"a"}
    assert defs.procedure("p").matrix["m"][START] == {"a"}
    assert defs.steps["b"].final


def test_a_json_file_loads_the_same_definitions(tmp_path: Path) -> None:
    toml_path = tmp_path / "defs.toml"
    toml_path.write_text(MINIMAL, encoding="utf-8")
    json_path = tmp_path / "defs.json"
    json_path.write_text(json.dumps(dump_definitions(load_definitions(toml_path))))
    assert load_definitions(str(json_path)) == load_definitions(toml_path)


def test_every_problem_is_listed_with_its_location(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(
        MINIMAL.replace('name = "A"', 'name = "A"\nnmae = "typo"\nduration_minutes = "ten"')
        + '\n[procedures.p.matrix.ghost]\na = ["nowhere"]\n',
        encoding="utf-8",
    )
    with pytest.raises(DefinitionError) as err:
        load_definitions(path)
    found = {(f.code, f.location) for f in err.value.findings}
    name = str(path)
    assert found == {
        ("unknown-key", f"{name}:steps.a.nmae"),
        ("wrong-type", f"{name}:steps.a.duration_minutes"),
        ("unknown-role", f"{name}:procedures.p.matrix.ghost"),
        ("unknown-step", f"{name}:procedures.p.matrix.ghost.a"),
    }
    assert err.value.source == name
    assert "did you mean 'name'" in str(err.value)


def test_duplicate_keys_in_json_are_reported_with_their_table(tmp_path: Path) -> None:
    path = tmp_path / "dup.json"
    path.write_text('{"roles": {"m": {}, "m": {"label": "M"}}, "steps": {}}')
    with pytest.raises(DefinitionError) as err:
        load_definitions(path)
    assert ("duplicate-key", f"{path}:roles.m") in {
        (f.code, f.location) for f in err.value.findings
    }


def test_duplicate_tables_in_toml_are_reported_with_the_line(tmp_path: Path) -> None:
    path = tmp_path / "dup.toml"
    path.write_text(MINIMAL + '\n[steps.a]\nname = "again"\n', encoding="utf-8")
    with pytest.raises(DefinitionError) as err:
        load_definitions(path)
    (finding,) = err.value.findings
    assert finding.code == "duplicate-key"
    assert finding.location.startswith(f"{path}:")


def test_a_toml_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[roles.m\nlabel = "x"\n', encoding="utf-8")
    with pytest.raises(DefinitionError) as err:
        load_definitions(path)
    assert codes(err.value) == ["syntax"]
    assert err.value.findings[0].location.startswith(f"{path}:1:")


def test_a_missing_file_and_an_unknown_format_are_definition_errors(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError) as err:
        load_definitions(tmp_path / "absent.toml")
    assert codes(err.value) == ["unreadable-file"]
    other = tmp_path / "defs.yaml"
    other.write_text("roles: {}")
    with pytest.raises(DefinitionError) as err:
        load_definitions(other)
    assert codes(err.value) == ["unsupported-format"]


def test_wrong_types_are_reported_for_every_field() -> None:
    data: dict[str, Any] = {
        "version": "one",
        "roles": {"m": "Marketeer"},
        "steps": {"a": {"name": 5, "final": "yes", "params": {"x": 1.5}}},
        "procedures": {"p": {"name": "P", "steps": "a", "corrections": {"m": "all"}}},
    }
    with pytest.raises(DefinitionError) as err:
        load_definitions(data)
    assert {(f.code, f.location) for f in err.value.findings} >= {
        ("wrong-type", "version"),
        ("wrong-type", "roles.m"),
        ("wrong-type", "steps.a.name"),
        ("wrong-type", "steps.a.final"),
        ("wrong-type", "steps.a.params.x"),
        ("wrong-type", "procedures.p.steps"),
        ("wrong-type", "procedures.p.corrections.m"),
    }


def test_missing_required_keys_are_reported() -> None:
    with pytest.raises(DefinitionError) as err:
        load_definitions({"steps": {"a": {}}, "templates": {"t": {}}, "procedures": {"p": {}}})
    assert {(f.code, f.location) for f in err.value.findings} >= {
        ("missing-key", "steps.a.name"),
        ("missing-key", "templates.t.subject"),
        ("missing-key", "templates.t.text"),
        ("missing-key", "procedures.p.name"),
        ("missing-key", "procedures.p.steps"),
    }


def test_load_refuses_definitions_with_error_findings_unless_asked() -> None:
    data = {"steps": {"a": {"name": "A"}}, "procedures": {"p": {"name": "P", "steps": ["a"]}}}
    with pytest.raises(DefinitionError) as err:
        load_definitions(data)
    assert "empty-matrix" in codes(err.value)
    loaded = load_definitions(data, validate=False)
    assert loaded.procedure("p").steps == ("a",)


def test_bad_dictionary_choices_are_reported() -> None:
    data = {"dictionaries": {"close_reason": {"choices": [{"key": "x"}]}}}
    with pytest.raises(DefinitionError) as err:
        load_definitions(data)
    assert err.value.findings[0].location.startswith("dictionaries.close_reason")


def test_the_standard_definitions_round_trip(definitions: Definitions) -> None:
    data = dump_definitions(definitions)
    assert json.loads(json.dumps(data)) == data
    assert load_definitions(data) == definitions
    assert "START" in data["procedures"]["standard"]["matrix"]["marketeer"]
    assert data["procedures"]["standard"]["corrections"] == {"project_leader": "*"}


keys = st.text("abcdefgh_", min_size=1, max_size=6)
texts = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20)
line = st.text(st.characters(codec="ascii", min_codepoint=32, max_codepoint=126), min_size=1)


@st.composite
def definitions_bundles(draw: st.DrawFn) -> Definitions:
    step_keys = draw(st.lists(keys, min_size=1, max_size=6, unique=True))
    role_keys = draw(st.lists(keys, min_size=1, max_size=3, unique=True))
    refs = st.sampled_from([START, *step_keys])
    targets = st.frozensets(st.sampled_from(step_keys), max_size=3)
    steps = [
        Step(
            k,
            draw(texts),
            draw(st.sampled_from(["plain", "send_email", "make_appointment", "custom"])),
            draw(st.none() | keys),
            draw(st.none() | st.integers(-5, 500)),
            draw(st.none() | st.sampled_from(role_keys)),
            draw(st.booleans()),
            draw(texts),
            draw(st.dictionaries(keys, st.integers() | st.booleans() | texts, max_size=2)),
        )
        for k in step_keys
    ]
    procedures = [
        Procedure(
            k,
            draw(texts),
            draw(texts),
            tuple(draw(st.lists(st.sampled_from(step_keys), max_size=8))),
            draw(st.integers(1, 9)),
            draw(st.dictionaries(st.sampled_from(role_keys), st.dictionaries(refs, targets))),
            draw(
                st.dictionaries(st.sampled_from(role_keys), st.just(ANY_STEP) | targets, max_size=2)
            ),
            tuple(draw(st.lists(keys, max_size=3))),
        )
        for k in draw(st.lists(keys, max_size=3, unique=True))
    ]
    variants = st.dictionaries(
        keys, st.builds(TemplateVariant, texts, texts, st.none() | texts), max_size=2
    )
    attachments = st.lists(
        st.builds(
            TemplateAttachment, st.none() | texts, st.none() | texts, texts, st.just("") | line
        ),
        max_size=2,
    )
    templates = [
        EmailTemplate(
            k,
            draw(texts),
            draw(texts),
            draw(st.none() | texts),
            draw(keys),
            draw(variants),
            draw(attachments),
        )
        for k in draw(st.lists(keys, max_size=2, unique=True))
    ]
    choices = [
        Choice(k, draw(line), draw(st.integers(-10, 10)), draw(st.booleans()))
        for k in draw(st.lists(keys, max_size=4, unique=True))
    ]
    return Definitions(
        roles=[Role(k, draw(texts)) for k in role_keys],
        steps=steps,
        templates=templates,
        procedures=procedures,
        step_kinds=[StepKindSpec("custom", draw(texts), tuple(draw(st.lists(keys, max_size=2))))],
        close_reasons=Dictionary("close_reason", choices, draw(st.just("") | line)),
        dictionaries=(Dictionary("priority", choices[:2]),),
        version=draw(st.integers(1, 5)),
    )


@given(definitions_bundles())
def test_any_definitions_dump_and_load_back_without_loss(defs: Definitions) -> None:
    data = dump_definitions(defs)
    assert json.loads(json.dumps(data)) == data
    assert load_definitions(data, validate=False) == defs

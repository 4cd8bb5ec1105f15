"""Regression tests for the input defects of issue 16 (6, 13, 15, 16, 17) and structure().

Each test is named after the defect it pins down; the Hypothesis tests look
for the class of input behind it (generated definitions, lookalike letters).
"""

from __future__ import annotations

import json
import string
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from crm_procedures.errors import (
    CrmError,
    DefinitionError,
    InvalidInput,
    MalformedFile,
    TemplateError,
)
from crm_procedures.ids import UserId
from crm_procedures.model.contact import Contact
from crm_procedures.model.prospect import Prospect, ProspectStatus
from crm_procedures.model.relation import Relation
from crm_procedures.model.users import Group, User
from crm_procedures.model.visit_report import MAX_KEYWORD, MAX_KEYWORDS, VisitReport
from crm_procedures.policies.duplicates import DuplicateIndex, skeleton
from crm_procedures.policies.normalise import comparison_key
from crm_procedures.procedures import runtime
from crm_procedures.procedures.definitions import dump_definitions, load_definitions
from crm_procedures.procedures.procedure import Definitions
from crm_procedures.procedures.standard import standard_definitions
from crm_procedures.procedures.step import Step
from crm_procedures.procedures.templates import EmailTemplate
from crm_procedures.procedures.validation import (
    MAX_DURATION_MINUTES,
    MAX_KEY,
    MAX_NAME,
    errors,
    validate,
)
from crm_procedures.serialization import structure
from crm_procedures.services import campaigns, imports
from crm_procedures.services.context import Context
from crm_procedures.testing.app import in_memory_app
from crm_procedures.testing.clock import FrozenClock

AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


# --- a small campaign world on the memory store ---------------------------------------


@attrs.define
class World:
    ctx: Context
    project_id: str
    prospect_id: str


def _dump(store: Any) -> str:
    with store.unit_of_work() as uow:
        data = {
            "definitions": uow.definitions.versions(campaigns.DEFINITIONS_KEY),
            "outbox": [repr(m) for m in uow.outbox.list()],
            "prospects": uow.prospects.count() if hasattr(uow.prospects, "count") else None,
        }
    return json.dumps(data, sort_keys=True)


def _world(definitions: Definitions, procedure: str = "standard", start: bool = True) -> World:
    app = in_memory_app(definitions, FrozenClock(AT), sender_email="crm@example.com")
    ctx = app.ctx
    with ctx.store.unit_of_work() as uow:
        uow.groups.add(Group(id="admins", name="Admins", permissions={"admin"}))
        uow.users.add(User(id="ann", name="Ann", email="ann@example.com", groups={"admins"}))
        uow.relations.add(Relation(id="client", name="Klant B.V."))
        uow.relations.add(Relation(id="acme", name="Acme B.V."))
        uow.contacts.add(
            Contact(id="c-acme", relation_id="acme", last_name="Vries", email="jan@acme.example")
        )
        uow.commit()
    if not start:
        return World(ctx, "", "")
    project = campaigns.start_campaign(
        ctx, "ann", relation_id="client", name="Campaign", procedure=procedure
    )
    (prospect,) = campaigns.add_prospects(ctx, "ann", project.id, [("acme", "c-acme")])
    campaigns.release(ctx, "ann", project.id)
    return World(ctx, project.id, prospect.id)


def _with_subject(subject: str) -> Definitions:
    data = dump_definitions(standard_definitions())
    for template in data["templates"].values():
        template["subject"] = subject
    return load_definitions(data, validate=False)


# --- defect 6: start_campaign validates what it pins ----------------------------------


def test_defect_06_start_campaign_refuses_definitions_with_errors_and_stores_nothing() -> None:
    broken = _with_subject("Hello\r\nBcc: victim@example.com")
    world = _world(broken, start=False)
    before = _dump(world.ctx.store)
    with pytest.raises(DefinitionError) as caught:
        campaigns.start_campaign(
            world.ctx, "ann", relation_id="client", name="Campaign", procedure="standard"
        )
    codes = {f.code for f in caught.value.findings}
    assert "template-subject-line-break" in codes
    assert _dump(world.ctx.store) == before
    with world.ctx.store.unit_of_work() as uow:
        assert uow.definitions.versions(campaigns.DEFINITIONS_KEY) == []


def test_defect_06_valid_definitions_still_start_a_campaign() -> None:
    world = _world(standard_definitions())
    with world.ctx.store.unit_of_work() as uow:
        assert uow.definitions.versions(campaigns.DEFINITIONS_KEY) == [1]


# --- defect 13: one note rule wherever notes enter -----------------------------------


BAD_NOTES = [
    "nul\x00here",
    "escape\x1b[31m",
    "bell\x07",
    "del\x7f",
    "lone \ud800 half",
    "x" * 100_001,
]


@pytest.mark.parametrize("note", BAD_NOTES, ids=["nul", "esc", "bel", "del", "surrogate", "long"])
def test_defect_13_perform_without_activity_refuses_bad_notes(note: str) -> None:
    world = _world(standard_definitions())
    with pytest.raises(InvalidInput) as caught:
        campaigns.perform_step(
            world.ctx,
            "ann",
            world.prospect_id,
            "call",
            role="marketeer",
            note=note,
            record_activity=False,
        )
    assert caught.value.field == "note"
    with world.ctx.store.unit_of_work() as uow:
        stored = uow.prospects.get(world.prospect_id)
    assert stored.last_step is None
    assert all(e.note == "" for e in stored.history)


def test_defect_13_notes_with_tabs_and_line_breaks_are_kept() -> None:
    world = _world(standard_definitions())
    note = "first line\r\nsecond\tline\n" + "x" * 1000
    result = campaigns.perform_step(
        world.ctx, "ann", world.prospect_id, "call", role="marketeer", note=note,
        record_activity=False,
    )  # fmt: skip
    assert result.prospect.history[-2].note == note


def _running() -> Prospect:
    return Prospect("p1", "campaign", "acme", "jansen", status=ProspectStatus.RUNNING)


RUNTIME_CALLS: dict[str, Callable[[Prospect, str], object]] = {
    "perform": lambda p, n: runtime.perform(
        standard_definitions().procedure("standard"), p, "call", "marketeer", UserId("ann"), AT, n
    ),
    "correct": lambda p, n: runtime.correct(
        standard_definitions().procedure("standard"), p, 1, None, "project_leader",
        UserId("lea"), AT, n,
    ),
    "close": lambda p, n: runtime.close(
        standard_definitions().procedure("standard"), p, "not_interested", UserId("ann"), AT, n
    ),
    "set_status": lambda p, n: runtime.set_status(
        standard_definitions().procedure("standard"), p, "preparing", UserId("ann"), AT, note=n
    ),
    "mark_won": lambda p, n: runtime.mark_won(p, UserId("ann"), AT, n),
}  # fmt: skip


@pytest.mark.parametrize("call", sorted(RUNTIME_CALLS))
@given(bad=st.sampled_from(BAD_NOTES[:-1]), text=st.text(max_size=20))
@settings(max_examples=25, deadline=None)
def test_defect_13_every_runtime_function_applies_the_note_rule(
    call: str, bad: str, text: str
) -> None:
    prospect = _running()
    if call == "correct":
        runtime.perform(
            standard_definitions().procedure("standard"), prospect, "call", "marketeer",
            UserId("ann"), AT,
        )  # fmt: skip
    before = prospect.copy()
    with pytest.raises(InvalidInput) as caught:
        RUNTIME_CALLS[call](prospect, text + bad)
    assert caught.value.field == "note"
    assert prospect == before


def test_defect_13_release_and_reopen_refuse_bad_notes() -> None:
    prospect = Prospect("p1", "campaign", "acme")
    with pytest.raises(InvalidInput):
        runtime.release(prospect, UserId("ann"), AT, "x\x00")
    assert prospect.status is ProspectStatus.PREPARING
    assert prospect.history == []
    closed = Prospect("p2", "campaign", "acme", status=ProspectStatus.CLOSED)
    with pytest.raises(InvalidInput):
        runtime.reopen(closed, UserId("ann"), AT, "x\x1b")
    assert closed.status is ProspectStatus.CLOSED
    assert closed.history == []


# --- defect 15: validate refuses what perform would refuse ---------------------------


@pytest.mark.parametrize("char", ["\t", "\x00", "\x0b", "\x1b", "\x7f", "\ud800"])
def test_defect_15_validate_refuses_template_subjects_with_control_characters(char: str) -> None:
    findings = errors(validate(_with_subject(f"Hello{char}there")))
    assert "template-subject-control" in {f.code for f in findings}
    assert all(f.location.endswith(".subject") for f in findings)


@pytest.mark.parametrize("char", ["\x00", "\x1b", "\x7f", "\ud800"])
def test_defect_15_validate_refuses_template_bodies_with_control_characters(char: str) -> None:
    data = dump_definitions(standard_definitions())
    next(iter(data["templates"].values()))["text"] = f"Dear {char} you"
    findings = errors(validate(load_definitions(data, validate=False)))
    assert [f.code for f in findings] == ["template-control-character"]


@pytest.mark.parametrize(
    "name",
    [
        "Call\x00",
        "Call\r\nback",
        "Call\x1b[2J",
        "Call\u2028back",
        "x" * (MAX_NAME + 1),
        "x" * 100_000,
    ],
    ids=["nul", "crlf", "esc", "line-separator", "just-too-long", "absurd"],
)
def test_defect_15_validate_refuses_bad_step_names(name: str) -> None:
    data = dump_definitions(standard_definitions())
    data["steps"]["call"]["name"] = name
    with pytest.raises(DefinitionError) as caught:
        load_definitions(data)
    assert [(f.code, f.location) for f in caught.value.findings] == [
        ("invalid-name", "steps.call.name")
    ]


def test_defect_15_a_name_of_the_maximum_length_is_accepted() -> None:
    data = dump_definitions(standard_definitions())
    data["steps"]["call"]["name"] = "x" * MAX_NAME
    load_definitions(data)


def test_defect_15_keys_longer_than_the_maximum_are_refused() -> None:
    long_key = "k" * (MAX_KEY + 1)
    data = dump_definitions(standard_definitions())
    data["roles"][long_key] = {}
    with pytest.raises(DefinitionError) as caught:
        load_definitions(data)
    assert "invalid-key" in {f.code for f in caught.value.findings}
    data["roles"] = {**data["roles"]}
    del data["roles"][long_key]
    data["roles"]["k" * MAX_KEY] = {}
    load_definitions(data)


@pytest.mark.parametrize("suffix", [".json", ".toml"])
def test_defect_15_a_5000_digit_number_in_a_file_is_a_definition_error(
    suffix: str, tmp_path: Path
) -> None:
    path = tmp_path / f"defs{suffix}"
    number = "9" * 5000
    path.write_text(
        f'{{"version": {number}}}' if suffix == ".json" else f"version = {number}\n",
        encoding="utf-8",
    )
    with pytest.raises(DefinitionError) as caught:
        load_definitions(path)
    assert [f.code for f in caught.value.findings] == ["number-too-large"]
    assert "5000 digits" in caught.value.findings[0].message


@pytest.mark.parametrize(
    "value", [10**30, 10**5000, -(10**5000)], ids=["10e30", "5000-digits", "minus"]
)
def test_defect_15_huge_numbers_in_a_mapping_are_findings_not_crashes(value: int) -> None:
    data = dump_definitions(standard_definitions())
    data["version"] = value
    data["steps"]["make_appointment"]["duration_minutes"] = value
    data["steps"]["call"]["params"] = {"n": value}
    data["procedures"]["standard"]["version"] = value
    with pytest.raises(DefinitionError) as caught:
        load_definitions(data)
    codes = sorted(f.code for f in caught.value.findings)
    assert codes == ["invalid-duration", "invalid-param", "invalid-version", "invalid-version"]
    str(caught.value)  # the message can be written out


@pytest.mark.parametrize("text", ["[1, Infinity]", "[NaN]", "[1e999]"])
def test_defect_15_infinite_and_nan_durations_are_wrong_types(text: str, tmp_path: Path) -> None:
    data = dump_definitions(standard_definitions())
    data["steps"]["make_appointment"]["duration_minutes"] = "@@"
    path = tmp_path / "defs.json"
    path.write_text(json.dumps(data).replace('"@@"', text.strip("[]").split(", ")[-1]))
    with pytest.raises(DefinitionError) as caught:
        load_definitions(path)
    assert {f.code for f in caught.value.findings} == {"wrong-type"}


def test_defect_15_duration_of_10_to_the_30_fails_validate() -> None:
    defs = standard_definitions()
    step = defs.steps["make_appointment"]
    changed = attrs.evolve(
        defs, steps=[*(s for k, s in defs.steps.items() if k != step.key),
                     attrs.evolve(step, duration_minutes=10**30)],
    )  # fmt: skip
    assert [f.code for f in errors(validate(changed))] == ["invalid-duration"]
    longest = attrs.evolve(
        defs, steps=[*(s for k, s in defs.steps.items() if k != step.key),
                     attrs.evolve(step, duration_minutes=MAX_DURATION_MINUTES)],
    )  # fmt: skip
    assert errors(validate(longest)) == []


# The principle: every check perform makes that can be made statically is made
# by validate(). Generated definitions that pass validate() must perform every
# step without a definition or template error (or any other).

hostile_text = st.text(
    alphabet=st.one_of(
        st.sampled_from("\t\x00\x0b\x1b\x7f\r\n\u2028\x85\ud800 {}"),
        st.characters(codec="utf-8", exclude_categories=["Cs"]),
        st.sampled_from(string.ascii_letters),
    ),
    max_size=30,
)
placeholders = st.sampled_from(
    ["{{contact.first_name}}", "{{relation.name}}", "{{ project.name }}", "{{nope}}", "{{", "}}"]
)
template_source = st.lists(st.one_of(hostile_text, placeholders), max_size=4).map("".join)


@st.composite
def generated_definitions(draw: st.DrawFn) -> Definitions:
    kinds = draw(st.lists(st.sampled_from(["plain", "send_email", "make_appointment"]),
                          min_size=1, max_size=4))  # fmt: skip
    keys = [f"s{i}" for i in range(len(kinds))]
    steps = []
    for key, kind in zip(keys, kinds, strict=True):
        steps.append(
            Step(
                key,
                draw(st.one_of(st.just("Step"), hostile_text, st.text(min_size=190, max_size=210))),
                kind,
                template="t" if kind == "send_email" else None,
                duration_minutes=draw(
                    st.one_of(st.integers(-5, 20_000), st.just(10**30), st.just(60))
                )
                if kind == "make_appointment"
                else None,
            )
        )
    template = EmailTemplate(
        "t",
        draw(st.one_of(st.just("Hello {{contact.first_name}}"), template_source)),
        draw(st.one_of(st.just("Dear {{relation.name}}"), template_source)),
    )
    matrix = {"marketeer": {"START": keys, **dict.fromkeys(keys, keys)}}
    data = dump_definitions(standard_definitions())
    data["steps"] = {}
    data["templates"] = {}
    data["procedures"] = {
        "p": {"name": "P", "steps": keys, "close_reasons": ["not_interested"], "matrix": matrix}
    }
    base = load_definitions(data, validate=False)
    return attrs.evolve(base, steps=steps, templates=[template])


@given(defs=generated_definitions())
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_defect_15_definitions_that_validate_perform_every_step(defs: Definitions) -> None:
    world = _world(defs, start=False)
    refused = bool(errors(validate(defs)))
    event("refused by validate()" if refused else "performed")
    if refused:
        # Defect 6 as a property: what validate() refuses, start_campaign refuses.
        with pytest.raises(DefinitionError):
            campaigns.start_campaign(
                world.ctx, "ann", relation_id="client", name="C", procedure="p"
            )
        return
    project = campaigns.start_campaign(
        world.ctx, "ann", relation_id="client", name="C", procedure="p"
    )
    (prospect,) = campaigns.add_prospects(world.ctx, "ann", project.id, [("acme", "c-acme")])
    campaigns.release(world.ctx, "ann", project.id)
    for key in defs.procedures["p"].steps:
        try:
            campaigns.perform_step(
                world.ctx, "ann", prospect.id, key, role="marketeer",
                appointment_start=AT + timedelta(days=1),
            )  # fmt: skip
        except (DefinitionError, TemplateError) as exc:  # pragma: no cover - the defect
            pytest.fail(f"validate() passed but step {key!r} raised {exc!r}")


# --- defect 16: CSV files with whole-file problems -----------------------------------


def test_defect_16_a_duplicated_header_is_refused_with_its_line() -> None:
    with pytest.raises(MalformedFile) as caught:
        imports.read_csv_rows(b"name,city,Name \nAcme,Utrecht,Beta\n")
    assert caught.value.line == 1
    assert "column 3" in caught.value.reason
    assert "column 1" in caught.value.reason


def test_defect_16_empty_headers_from_trailing_delimiters_are_not_duplicates() -> None:
    header, rows = imports.read_csv_rows(b"name;city;;\nAcme;Utrecht;;\n")
    assert header == ["name", "city", "", ""]
    assert list(rows) == [(2, ["Acme", "Utrecht", "", ""])]


def test_defect_16_an_unterminated_quote_is_reported_with_its_line() -> None:
    text = b'name,city\nAcme,Utrecht\nBeta,"Amsterdam\nGamma,Rotterdam\nDelta,Delft\n'
    _header, rows = imports.read_csv_rows(text)
    with pytest.raises(MalformedFile) as caught:
        list(rows)
    assert caught.value.line == 3
    assert "never closed" in caught.value.reason


def test_defect_16_a_quote_closed_mid_cell_is_reported_with_its_line() -> None:
    text = b'name,city\nBeta,"Amsterdam\nGamma,"Rotterdam\n'
    _header, rows = imports.read_csv_rows(text)
    with pytest.raises(MalformedFile) as caught:
        list(rows)
    assert caught.value.line == 2


def test_defect_16_mixed_utf8_and_cp1252_rows_are_reported_with_their_lines() -> None:
    data = (
        "name,city\nCafé Noir,Utrecht\n".encode()
        + "Müller GmbH,Berlin\n".encode("cp1252")
        + b"Plain,Delft\n"
        + "Señor Pan,Madrid\n".encode("cp1252")
    )
    with pytest.raises(MalformedFile) as caught:
        imports.read_csv_rows(data)
    assert caught.value.line == 3
    assert caught.value.lines == (3, 5)
    assert "line 2 is UTF-8" in caught.value.reason


def test_defect_16_a_pure_cp1252_file_is_still_read() -> None:
    data = "name,city\nMüller GmbH,Berlin\nSeñor Pan,Madrid\n".encode("cp1252")
    _header, rows = imports.read_csv_rows(data)
    assert [cells[0] for _line, cells in rows] == ["Müller GmbH", "Señor Pan"]


def test_defect_16_an_explicit_encoding_that_fails_names_the_line() -> None:
    data = "name\nA\nB\nCafé\n".encode()
    with pytest.raises(MalformedFile) as caught:
        imports.read_csv_rows(data, encoding="ascii")
    assert caught.value.line == 4


def test_defect_16_a_malformed_file_imports_nothing() -> None:
    world = _world(standard_definitions())
    data = b'name,city\nAcme Two,Utrecht\nBeta,"Amsterdam\nGamma,Rotterdam\n'
    with world.ctx.store.unit_of_work() as uow:
        before = uow.relations.count()
    with pytest.raises(MalformedFile):
        imports.import_suspects(world.ctx, "ann", world.project_id, data)
    with world.ctx.store.unit_of_work() as uow:
        assert uow.relations.count() == before


# --- defect 17 (parts): keywords, prospect ids, lookalike names ----------------------


def _report(**overrides: Any) -> VisitReport:
    fields: dict[str, Any] = {
        "id": "r1",
        "designation": "Visit",
        "relation_id": "acme",
        "account_manager": "ann",
        "start": AT,
        "end": AT + timedelta(hours=1),
    }
    return VisitReport(**{**fields, **overrides})


def test_defect_17_visit_report_keywords_are_bounded() -> None:
    _report(keywords=["k" * MAX_KEYWORD] * MAX_KEYWORDS)
    with pytest.raises(InvalidInput) as many:
        _report(keywords=["k"] * (MAX_KEYWORDS + 1))
    assert many.value.field == "keywords"
    with pytest.raises(InvalidInput) as long:
        _report(keywords=["ok", "k" * (MAX_KEYWORD + 1)])
    assert long.value.field == "keywords[1]"
    with pytest.raises(InvalidInput):
        _report(keywords=["k" * 1000] * 10_000)


def test_defect_17_visit_report_contact_and_attachment_ids_obey_the_id_rule() -> None:
    with pytest.raises(InvalidInput) as caught:
        _report(contact_ids=["c1", "c\x00"])
    assert caught.value.field == "contact_ids[1]"
    with pytest.raises(InvalidInput):
        _report(attachments=["d" * 10_000])


@pytest.mark.parametrize("field", ["id", "project_id", "relation_id", "contact_id"])
@pytest.mark.parametrize("bad", ["a\x00b", "x" * 10_000, "a\nb", "a\x1bb"])
def test_defect_17_prospect_ids_obey_the_id_rule(field: str, bad: str) -> None:
    fields: dict[str, Any] = {
        "id": "p1", "project_id": "campaign", "relation_id": "acme", "contact_id": "c1"
    }  # fmt: skip
    with pytest.raises(InvalidInput) as caught:
        Prospect(**{**fields, field: bad})
    assert caught.value.field == field


@pytest.mark.parametrize("field", ["id", "project_id", "relation_id"])
def test_defect_17_prospect_ids_must_not_be_empty(field: str) -> None:
    fields: dict[str, Any] = {"id": "p1", "project_id": "campaign", "relation_id": "acme"}
    with pytest.raises(InvalidInput):
        Prospect(**{**fields, field: ""})


def test_defect_17_a_prospect_copy_is_equal_and_independent() -> None:
    original = Prospect("p1", "campaign", "acme", "c1", status=ProspectStatus.RUNNING)
    runtime.perform(
        standard_definitions().procedure("standard"), original, "call", "marketeer",
        UserId("ann"), AT,
    )  # fmt: skip
    copy = original.copy()
    assert copy == original
    assert copy.history is not original.history
    copy.history.append(copy.history[0])
    assert copy != original


LATIN_TO_LOOKALIKES = {
    "A": "АΑＡ", "B": "ВΒ", "C": "СＣ", "E": "ЕΕ", "H": "НΗ", "I": "ІΙ", "K": "КΚ",
    "M": "МΜ", "O": "ОΟ０"[:2], "P": "РΡ", "T": "ТΤ", "X": "ХΧ", "Y": "ΥＹ",
    "a": "аａ", "c": "с", "e": "е", "o": "оο", "p": "рρ", "x": "х", "y": "у",
    "i": "іı", "s": "ѕ", "j": "ј",
}  # fmt: skip


def _key(name: str) -> str:
    return comparison_key(skeleton(name))


def test_defect_17_a_greek_rho_philips_matches_philips() -> None:
    index = DuplicateIndex()
    index.add(1, _key("Philips"), "5611 AB")
    found = index.match(_key("Ρhilips"), "5611 AB")
    assert found is not None
    assert found.exact
    assert found.ref == 1
    assert skeleton("Ｐｈｉｌｉｐｓ") == "Philips"


@given(
    name=st.text(alphabet=string.ascii_letters + " ", min_size=3, max_size=30).filter(
        lambda n: n.strip()
    ),
    data=st.data(),
)
@settings(max_examples=200, deadline=None)
def test_defect_17_lookalike_spellings_are_exact_duplicates(name: str, data: Any) -> None:
    spoofed = "".join(
        data.draw(st.sampled_from([ch, *LATIN_TO_LOOKALIKES.get(ch, "")])) for ch in name
    )
    assume(_key(name))
    index = DuplicateIndex()
    index.add("stored", _key(name), "1234 AB")
    found = index.match(_key(spoofed), "1234 AB")
    assert found is not None, (name, spoofed)
    assert found.exact


@given(st.text())
@settings(max_examples=300, deadline=None)
def test_skeleton_is_idempotent(text: str) -> None:
    assert skeleton(skeleton(text)) == skeleton(text)


def test_defect_17_import_skips_a_cyrillic_lookalike_of_a_stored_relation() -> None:
    world = _world(standard_definitions())
    first = imports.import_suspects(
        world.ctx, "ann", world.project_id, "name,postcode\nPhilips Lighting,5611 AB\n"
    )
    assert first.imported == 1
    second = imports.import_suspects(
        world.ctx, "ann", world.project_id, "name,postcode\nРhiliрs Lighting,5611 AB\n"
    )
    assert second.imported == 0
    assert [d.reason for d in second.duplicates] == ["name and postcode"]


# --- structure(): input errors become InvalidInput, bugs surface ----------------------


def _crash(_inst: Any, _attribute: Any, _value: Any) -> None:
    raise TypeError("a bug in a validator")


@attrs.frozen
class _Crashy:
    name: str = attrs.field(validator=_crash)


@attrs.frozen
class _Holder:
    items: tuple[_Crashy, ...]


def test_structure_lets_a_crashing_validator_surface() -> None:
    with pytest.raises(Exception) as caught:
        structure({"name": "x"}, _Crashy)
    assert not isinstance(caught.value, CrmError)
    with pytest.raises(Exception) as nested:
        structure({"items": [{"name": "x"}]}, _Holder)
    assert not isinstance(nested.value, CrmError)


@pytest.mark.parametrize(
    ("data", "field", "reason"),
    [
        ([1], None, "expected a table (key/value pairs), got list"),
        ({"id": "a", "name": "b", "addresses": 5}, "addresses", "expected a list, got int"),
        ({"id": "a", "name": "b", "addresses": [5]}, "addresses[0]", "got int"),
        ({"id": "a"}, "name", "required key 'name' is missing"),
        ({"id": "a", "name": "b", "nope": 1}, "nope", "unknown key 'nope'"),
    ],
)
def test_structure_turns_input_errors_into_invalid_input(
    data: Any, field: str | None, reason: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        structure(data, Relation)
    assert caught.value.field == field
    assert reason in caught.value.reason

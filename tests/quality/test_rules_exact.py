"""A2-A4 rules, exactly: every refusal by its field and value, every violation in full.

The broader tests in ``test_rules.py`` show the rules working; these pin down
what a caller relies on: the ``.field`` and ``.value`` of each refusal (a form
shows the message next to that field), the whole :class:`Violation` of each
check, and the boundaries (``count``, ``min_length``, each of the six formats).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from crm_procedures.errors import InvalidInput, RuleViolation
from crm_procedures.ids import ActivityId, ContactId, RelationId, UserId
from crm_procedures.model.activity import Activity, ActivityKind
from crm_procedures.model.contact import Contact, Gender
from crm_procedures.model.relation import Address, Relation, RelationKind
from crm_procedures.policies.rules import (
    RecordKind,
    Rule,
    RuleContext,
    RuleSet,
    Violation,
    changed_rules_report,
    check,
    enforce,
    load_rules,
    rules_to_toml,
)

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
REL, CON, ACT = RecordKind.RELATION, RecordKind.CONTACT, RecordKind.ACTIVITY


def relation(rid: str = "r1", **changes: Any) -> Relation:
    base: dict[str, Any] = {
        "id": RelationId(rid),
        "name": "Bakkerij Jansen",
        "industry_code": "1071",
        "kinds": {RelationKind.PROSPECT},
    }
    base.update(changes)
    return Relation(**base)


def contact(cid: str = "c1", rid: str = "r1", **changes: Any) -> Contact:
    base: dict[str, Any] = {
        "id": ContactId(cid),
        "relation_id": RelationId(rid),
        "last_name": "Jansen",
        "initials": "J.",
        "gender": Gender.MALE,
    }
    base.update(changes)
    return Contact(**base)


def activity(
    note: str = "", completed: bool = True, kind: ActivityKind = ActivityKind.CONTACT
) -> Activity:
    return Activity(
        ActivityId("a1"),
        kind,
        UserId("u1"),
        relation_id=RelationId("r1"),
        note=note,
        completed_at=NOW if completed else None,
    )


def one(applies_to: RecordKind, condition: dict[str, Any], blocking: bool = True) -> RuleSet:
    return RuleSet(1, [Rule("the-rule", "The agreement", applies_to, condition, blocking)])


def refusal(call: Callable[[], object]) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        call()
    return caught.value


def rule_refusal(applies_to: RecordKind, condition: Any) -> InvalidInput:
    return refusal(lambda: Rule("r", "", applies_to, condition))


# --- rule codes, rule sets, loading -------------------------------------------------------


@pytest.mark.parametrize("code", ["", "   ", "two words", "tab\there", 5, None])
def test_a_rule_code_is_one_word(code: Any) -> None:
    error = refusal(lambda: Rule(code, "", REL, {"check": "required", "field": "name"}))
    assert (error.field, error.value) == ("code", code)
    assert "without spaces" in error.reason


@pytest.mark.parametrize("version", [0, -1, True, "1", 1.0, None])
def test_a_rule_set_version_is_a_whole_number_from_one(version: Any) -> None:
    error = refusal(lambda: RuleSet(version, []))
    assert (error.field, error.value) == ("version", version)
    assert ">= 1" in error.reason


def test_rule_set_members_must_be_rules_with_unique_codes() -> None:
    rule = Rule("a", "", REL, {"check": "required", "field": "name"})
    error = refusal(lambda: RuleSet(1, [rule, "b"]))
    assert (error.field, error.value) == ("rules[1]", "b")
    assert "must be a Rule" in error.reason
    error = refusal(lambda: RuleSet(1, [rule, rule]))
    assert (error.field, error.value) == ("rules[1].code", "a")
    assert "duplicate rule code 'a'" in error.reason


def test_asking_a_rule_set_for_an_unknown_code_names_the_version() -> None:
    rules = one(REL, {"check": "required", "field": "name"})
    assert rules.rule("the-rule").code == "the-rule"
    error = refusal(lambda: rules.rule("nope"))
    assert (error.field, error.value) == ("code", "nope")
    assert "version 1" in error.reason


def test_load_rules_refuses_bad_toml_and_data_that_is_not_a_table() -> None:
    error = refusal(lambda: load_rules("version = = 1"))
    assert error.field == "rules"
    assert error.reason.startswith("is not valid TOML")
    error = refusal(lambda: load_rules([1, 2]))  # type: ignore[arg-type]
    assert (error.field, error.value) == ("rules", [1, 2])
    assert "'version' and 'rules'" in error.reason


def test_rules_written_as_toml_keep_non_ascii_text_readable() -> None:
    rules = RuleSet(
        2,
        [
            Rule(
                "naam",
                "Iedere relatie heeft een naam: é",
                REL,
                {"check": "required", "field": "name"},
            )
        ],
    )
    text = rules_to_toml(rules)
    assert '"Iedere relatie heeft een naam: é"' in text
    assert load_rules(text) == rules


# --- conditions ---------------------------------------------------------------------------


def test_a_condition_must_be_a_table() -> None:
    error = rule_refusal(REL, "required")
    assert (error.field, error.value) == ("condition", "required")
    assert "must be a table" in error.reason


@pytest.mark.parametrize("name", ["eval", None, 3])
def test_an_unknown_check_lists_the_known_ones(name: Any) -> None:
    error = rule_refusal(REL, {"check": name, "field": "name"})
    assert (error.field, error.value) == ("condition.check", name)
    assert "format, min_contacts, note_required, one_of, required, required_if" in error.reason


def test_missing_and_extra_parameters_are_named() -> None:
    cond: dict[str, Any] = {"check": "required_if", "field": "name"}
    error = rule_refusal(REL, cond)
    assert (error.field, error.value) == ("condition", cond)
    assert "check 'required_if' needs ['if_field']" in error.reason
    cond = {"check": "required", "field": "name", "when": "always", "also": 1}
    error = rule_refusal(REL, cond)
    assert (error.field, error.value) == ("condition", cond)
    assert "check 'required' takes no ['also', 'when']" in error.reason
    # Optional parameters are neither missing nor extra.
    Rule("r", "", REL, {"check": "required_if", "field": "name", "if_field": "type"})
    Rule("r", "", ACT, {"check": "note_required", "kinds": ["contact"], "min_length": 2})


@pytest.mark.parametrize("key", ["field", "if_field"])
def test_a_field_the_record_kind_does_not_have_is_refused_listing_its_fields(key: str) -> None:
    cond = {"check": "required_if", "field": "last_name", "if_field": "gender", key: "shoe_size"}
    error = rule_refusal(CON, cond)
    assert (error.field, error.value) == (f"condition.{key}", "shoe_size")
    assert error.reason.startswith("contact has no field 'shoe_size'; fields: ")
    assert "first_name, function, gender, initials, language, last_name" in error.reason
    assert "id," not in error.reason.split("fields: ")[1].split(" ")


def test_a_relation_rule_may_name_the_postcode() -> None:
    Rule("r", "", REL, {"check": "required", "field": "postcode"})
    assert rule_refusal(CON, {"check": "required", "field": "postcode"}).field == (
        "condition.field"
    )


@pytest.mark.parametrize("count", [0, -1, True, "1", 1.5])
def test_min_contacts_needs_a_whole_count_from_one(count: Any) -> None:
    error = rule_refusal(REL, {"check": "min_contacts", "count": count})
    assert (error.field, error.value) == ("condition.count", count)
    assert error.reason == "must be a whole number >= 1"


def test_min_contacts_and_note_required_apply_to_their_own_record_kind() -> None:
    cond: dict[str, Any] = {"check": "min_contacts", "count": 1}
    error = rule_refusal(CON, cond)
    assert (error.field, error.value) == ("condition", cond)
    assert "relations only" in error.reason
    cond = {"check": "note_required", "kinds": ["contact"]}
    error = rule_refusal(REL, cond)
    assert (error.field, error.value) == ("condition", {**cond, "kinds": ("contact",)})
    assert "activities only" in error.reason


@pytest.mark.parametrize("kinds", [[], "contact", [1], ["contact", None]])
def test_note_required_needs_a_list_of_kinds(kinds: Any) -> None:
    error = rule_refusal(ACT, {"check": "note_required", "kinds": kinds})
    assert error.field == "condition.kinds"
    assert error.value == (tuple(kinds) if isinstance(kinds, list) else kinds)
    assert "non-empty list of text" in error.reason


@pytest.mark.parametrize("length", [0, True, "3"])
def test_note_required_min_length_is_a_whole_number_from_one(length: Any) -> None:
    error = rule_refusal(
        ACT, {"check": "note_required", "kinds": ["contact"], "min_length": length}
    )
    assert (error.field, error.value) == ("condition.min_length", length)
    assert error.reason == "must be a whole number >= 1"


def test_note_required_completed_only_is_true_or_false() -> None:
    error = rule_refusal(
        ACT, {"check": "note_required", "kinds": ["contact"], "completed_only": "yes"}
    )
    assert error.field == "condition.completed_only"
    assert error.reason == "must be true or false"


@pytest.mark.parametrize("values", [[], "north", [1]])
def test_one_of_needs_a_list_of_values(values: Any) -> None:
    error = rule_refusal(REL, {"check": "one_of", "field": "region", "values": values})
    assert error.field == "condition.values"
    assert error.value == (tuple(values) if isinstance(values, list) else values)


def test_an_unknown_format_lists_the_six_known_ones() -> None:
    cond = {"check": "format", "field": "phone", "format": "phone_de"}
    error = rule_refusal(REL, cond)
    assert error.field == "condition.format"
    assert error.value == cond
    assert "email, initials, nl_postcode, phone_nl, phone_pl, pl_postcode" in error.reason


def test_required_if_equals_must_be_text() -> None:
    error = rule_refusal(
        REL, {"check": "required_if", "field": "website", "if_field": "type", "equals": 1}
    )
    assert (error.field, error.value) == ("condition.equals", 1)
    assert "text" in error.reason


def test_check_refuses_what_is_not_a_record() -> None:
    rules = one(REL, {"check": "required", "field": "name"})
    thing = object()
    error = refusal(lambda: check([thing], rules))  # type: ignore[list-item]
    assert (error.field, error.value) == ("records", thing)
    assert "Relation, Contact or Activity" in error.reason


# --- violations, check by check -----------------------------------------------------------


def test_required_reports_the_whole_violation() -> None:
    rules = one(REL, {"check": "required", "field": "website"}, blocking=False)
    assert check([relation(website="https://x.example"), relation("r2")], rules) == [
        Violation(
            "the-rule",
            REL,
            "r2",
            "website",
            "relation r2: website is missing (The agreement)",
            False,
        )
    ]


@pytest.mark.parametrize(
    ("value", "missing"),
    [(None, True), ("", True), ("  ", True), ("x", False), (Gender.UNKNOWN, True)],
)
def test_what_counts_as_missing(value: Any, missing: bool) -> None:
    field = "gender" if isinstance(value, Gender) else "first_name"
    rules = one(CON, {"check": "required", "field": field})
    record = contact(**{field: value if value is not None else ""})
    assert bool(check([record], rules)) is missing


def test_a_set_value_of_no_text_type_is_present() -> None:
    rules = one(ACT, {"check": "required", "field": "completed_at"})
    assert check([activity()], rules) == []
    assert [v.field for v in check([activity(completed=False)], rules)] == ["completed_at"]


def test_required_if_equals_applies_only_on_that_value() -> None:
    rules = one(
        REL, {"check": "required_if", "field": "website", "if_field": "type", "equals": "company"}
    )
    company = relation("r1")
    person = relation("r2", type="person")
    with_site = relation("r3", website="https://x.example")
    assert check([company, person, with_site], rules) == [
        Violation(
            "the-rule",
            REL,
            "r1",
            "website",
            "relation r1: website is missing while type is 'company' (The agreement)",
            True,
        )
    ]


def test_required_if_without_equals_applies_whenever_the_other_field_is_set() -> None:
    rules = one(REL, {"check": "required_if", "field": "website", "if_field": "email"})
    with_email = relation("r1", email="info@bakkerij.example")
    without_email = relation("r2")
    complete = relation("r3", email="info@bakkerij.example", website="https://x.example")
    assert check([with_email, without_email, complete], rules) == [
        Violation(
            "the-rule",
            REL,
            "r1",
            "website",
            "relation r1: website is missing while email is set (The agreement)",
            True,
        )
    ]


def test_min_contacts_counts_each_relations_own_contacts_at_the_boundary() -> None:
    rules = one(REL, {"check": "min_contacts", "count": 2})
    records: list[Relation | Contact | Activity] = [
        relation("r1"),
        relation("r2"),
        relation("r3"),
        contact("c1", "r1"),
        contact("c2", "r1"),
        contact("c3", "r2"),
    ]
    assert check(records, rules) == [
        Violation(
            "the-rule",
            REL,
            "r2",
            None,
            "relation r2: has 1 contact(s), needs at least 2 (The agreement)",
            True,
        ),
        Violation(
            "the-rule",
            REL,
            "r3",
            None,
            "relation r3: has 0 contact(s), needs at least 2 (The agreement)",
            True,
        ),
    ]


def test_stored_contact_counts_replace_the_counted_ones_everywhere() -> None:
    rules = one(REL, {"check": "min_contacts", "count": 1})
    records: list[Relation | Contact | Activity] = [relation("r1"), contact("c1", "r1")]
    context = RuleContext({"r1": 0})
    assert [v.record_id for v in check(records, rules, context)] == ["r1"]
    with pytest.raises(RuleViolation):
        enforce(records, rules, context)
    assert enforce(records, rules) == []
    report = changed_rules_report(records, RuleSet(1, []), RuleSet(2, list(rules.rules)), context)
    assert [v.record_id for v in report.newly_broken] == ["r1"]
    report = changed_rules_report(records, rules, RuleSet(2, []), context)
    assert [v.record_id for v in report.no_longer_broken] == ["r1"]
    assert changed_rules_report(records, rules, rules).still_broken == 0


def test_note_required_at_the_min_length_boundary() -> None:
    rules = one(ACT, {"check": "note_required", "kinds": ["contact"], "min_length": 5})
    assert check([activity(" 1234 ")], rules) == [
        Violation(
            "the-rule",
            ACT,
            "a1",
            "note",
            "activity a1: a contact activity has no note (The agreement)",
            True,
        )
    ]
    assert check([activity("12345")], rules) == []


def test_note_required_defaults_to_one_character_on_completed_activities() -> None:
    rules = one(ACT, {"check": "note_required", "kinds": ["contact"]})
    assert len(check([activity("")], rules)) == 1
    assert check([activity("x")], rules) == []
    assert check([activity("", completed=False)], rules) == []
    assert check([activity("", kind=ActivityKind.TASK)], rules) == []


def test_note_required_may_cover_planned_activities_too() -> None:
    rules = one(ACT, {"check": "note_required", "kinds": ["contact"], "completed_only": False})
    assert [v.field for v in check([activity("", completed=False)], rules)] == ["note"]


def test_one_of_names_the_allowed_values() -> None:
    rules = one(REL, {"check": "one_of", "field": "region", "values": ["north", "south"]})
    assert check([relation(region="north"), relation("r2")], rules) == []
    (violation,) = check([relation(region="east")], rules)
    assert violation.field == "region"
    assert violation.message == (
        "relation r1: region 'east' is not one of north, south (The agreement)"
    )


FORMAT_CASES = [
    ("nl_postcode", "postcode", "1234 AB", ["1234ab", "00-950", "1234  AB"]),
    ("pl_postcode", "postcode", "00-950", ["00950", "1234 AB"]),
    ("phone_nl", "phone", "+31201234567", ["020-1234567", "+31 20 1234567", "12"]),
    ("phone_pl", "phone", "+48221234567", ["22 123 45 67", "+48 22 123 45 67", "0201234567"]),
    ("initials", "initials", "J.P.", ["jp", "J P", "J.P"]),
    ("email", "email", "Jan@mill.example", ["Jan@MILL.example", "jan at mill"]),
]


@pytest.mark.parametrize(("fmt", "field", "good", "bad"), FORMAT_CASES)
def test_each_format_accepts_its_own_form_and_refuses_others(
    fmt: str, field: str, good: str, bad: list[str]
) -> None:
    kind = CON if field in ("initials", "email") else REL
    rules = one(kind, {"check": "format", "field": field, "format": fmt})

    def record(value: str) -> Relation | Contact:
        if kind is CON:
            if field == "email":
                return Contact(ContactId("c1"), RelationId("r1"), "Jansen", email=value)
            return contact(**{field: value})
        if field == "postcode":
            return relation(addresses=[Address(postcode=value)])
        return relation(**{field: value})

    assert check([record(good)], rules) == []
    for value in bad:
        try:
            rec = record(value)
        except InvalidInput:
            continue  # the model itself refuses it; nothing for the rule to see
        (violation,) = check([rec], rules)
        assert violation.field == field
        assert violation.message == (
            f"{kind.value} {rec.id}: {field} {value!r} is not in the {fmt} format (The agreement)"
        )


def test_an_empty_value_is_left_to_required() -> None:
    rules = one(REL, {"check": "format", "field": "phone", "format": "phone_nl"})
    assert check([relation(phone=""), relation("r2")], rules) == []


def test_required_if_equals_empty_text_applies_when_the_other_field_is_unset() -> None:
    rules = one(
        REL, {"check": "required_if", "field": "website", "if_field": "region", "equals": ""}
    )
    assert [v.record_id for v in check([relation("r1"), relation("r2", region="x")], rules)] == [
        "r1"
    ]


@pytest.mark.parametrize("description", [None, 5, ["x"]])
def test_a_rule_description_must_be_text(description: Any) -> None:
    # It is shown in every violation and written to TOML; None used to be
    # accepted and then failed only when the rules were written out.
    error = refusal(lambda: Rule("r", description, REL, {"check": "required", "field": "name"}))
    assert (error.field, error.reason, error.value) == ("description", "must be text", description)
    error = refusal(
        lambda: load_rules(
            {
                "version": 1,
                "rules": [
                    {
                        "code": "r",
                        "description": description,
                        "applies_to": "relation",
                        "condition": {"check": "required", "field": "name"},
                    }
                ],
            }
        )
    )
    assert "description" in str(error)

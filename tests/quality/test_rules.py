"""A2-A4: mandatory-data rules as versioned data, checked against records."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_procedures.errors import InvalidInput, RuleViolation
from crm_procedures.ids import ActivityId, ContactId, RelationId, UserId
from crm_procedures.model.activity import Activity, ActivityKind
from crm_procedures.model.contact import Contact, Gender
from crm_procedures.model.relation import Relation, RelationKind
from crm_procedures.policies.rules import (
    DEFAULT_RULES,
    RecordKind,
    Rule,
    RuleContext,
    RuleSet,
    changed_rules_report,
    check,
    dump_rules,
    enforce,
    load_rules,
    rules_to_toml,
)

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def complete_relation(rid: str = "r1", **changes: object) -> Relation:
    base: dict[str, object] = {
        "id": RelationId(rid),
        "name": "Bakkerij Jansen",
        "industry_code": "1071",
        "kinds": {RelationKind.PROSPECT},
    }
    base.update(changes)
    return Relation(**base)  # type: ignore[arg-type]


def complete_contact(cid: str = "c1", rid: str = "r1", **changes: object) -> Contact:
    base: dict[str, object] = {
        "id": ContactId(cid),
        "relation_id": RelationId(rid),
        "last_name": "Jansen",
        "initials": "J.",
        "first_name": "Jan",
        "gender": Gender.MALE,
    }
    base.update(changes)
    return Contact(**base)  # type: ignore[arg-type]


def call(note: str, completed: bool = True, kind: ActivityKind = ActivityKind.CONTACT) -> Activity:
    return Activity(
        ActivityId("a1"),
        kind,
        UserId("u1"),
        relation_id=RelationId("r1"),
        note=note,
        completed_at=NOW if completed else None,
    )


def codes(violations: list) -> list[str]:  # type: ignore[type-arg]
    return [v.rule for v in violations]


def test_complete_records_break_no_default_rule() -> None:
    assert check([complete_relation(), complete_contact(), call("Rang back")], DEFAULT_RULES) == []


def test_new_relation_without_contact_breaks_the_min_contact_rule() -> None:
    found = check([complete_relation()], DEFAULT_RULES)
    assert codes(found) == ["relation-has-contact"]
    assert found[0].blocking
    assert found[0].record_id == "r1"


def test_stored_contacts_count_through_the_context() -> None:
    context = RuleContext(contacts_per_relation={"r1": 2})
    assert check([complete_relation()], DEFAULT_RULES, context) == []


def test_relation_without_industry_code_or_kinds_is_reported_per_field() -> None:
    found = check(
        [complete_relation(industry_code=None, kinds=()), complete_contact()], DEFAULT_RULES
    )
    assert [(v.rule, v.field) for v in found] == [
        ("relation-industry-code", "industry_code"),
        ("relation-kinds", "kinds"),
    ]
    assert "industry code" in found[0].message


def test_person_needs_initials_and_gender() -> None:
    found = check([complete_contact(initials="", gender=Gender.UNKNOWN)], DEFAULT_RULES)
    assert codes(found) == ["contact-initials", "contact-gender"]


def test_missing_first_name_is_only_a_warning() -> None:
    found = check([complete_contact(first_name="")], DEFAULT_RULES)
    assert codes(found) == ["contact-first-name"]
    assert not found[0].blocking


def test_completed_customer_call_without_note_breaks_the_note_rule() -> None:
    assert codes(check([call("")], DEFAULT_RULES)) == ["activity-note"]
    assert codes(check([call("  ", kind=ActivityKind.MEETING)], DEFAULT_RULES)) == ["activity-note"]


def test_planned_call_and_task_need_no_note() -> None:
    assert check([call("", completed=False)], DEFAULT_RULES) == []
    assert check([call("", kind=ActivityKind.TASK)], DEFAULT_RULES) == []


def test_enforce_raises_every_blocking_violation_at_once() -> None:
    records: list[Relation | Contact | Activity] = [
        complete_relation(industry_code=None),
        complete_contact(initials="", first_name=""),
    ]
    with pytest.raises(RuleViolation) as err:
        enforce(records, DEFAULT_RULES)
    assert sorted(v.rule for v in err.value.violations) == [
        "contact-initials",
        "relation-industry-code",
    ]


def test_enforce_returns_warnings_when_nothing_blocks() -> None:
    warnings = enforce([complete_relation(), complete_contact(first_name="")], DEFAULT_RULES)
    assert codes(warnings) == ["contact-first-name"]


def test_required_if_applies_only_when_the_other_field_matches() -> None:
    rules = RuleSet(
        1,
        [
            Rule(
                "company-industry",
                "Companies have an industry code",
                "relation",
                {
                    "check": "required_if",
                    "field": "industry_code",
                    "if_field": "type",
                    "equals": "company",
                },
            )
        ],
    )
    person = complete_relation(type="person", industry_code=None)
    company = complete_relation("r2", industry_code=None)
    assert [v.record_id for v in check([person, company], rules)] == ["r2"]


def test_format_and_one_of_checks_use_the_normalisers() -> None:
    rules = RuleSet(
        1,
        [
            Rule(
                "nl-phone",
                "Phones in E.164",
                "relation",
                {"check": "format", "field": "phone", "format": "phone_nl"},
            ),
            Rule(
                "region",
                "Known regions",
                "relation",
                {"check": "one_of", "field": "region", "values": ["north", "south"]},
            ),
        ],
    )
    good = complete_relation(phone="+31201234567", region="north")
    bad = complete_relation("r2", phone="020-1234567", region="east")
    assert [(v.record_id, v.rule) for v in check([good, bad], rules)] == [
        ("r2", "nl-phone"),
        ("r2", "region"),
    ]


def test_rules_round_trip_through_toml_and_dicts() -> None:
    assert load_rules(rules_to_toml(DEFAULT_RULES)) == DEFAULT_RULES
    assert load_rules(dump_rules(DEFAULT_RULES)) == DEFAULT_RULES


def test_rules_load_from_hand_written_toml() -> None:
    rules = load_rules(
        """
version = 3

[[rules]]
code = "relation-website"
description = "Relaties hebben een website"
applies_to = "relation"
blocking = false
condition = { check = "required", field = "website" }
"""
    )
    assert rules.version == 3
    assert rules.rule("relation-website").blocking is False


def test_rule_with_unknown_check_or_field_is_refused_with_every_problem() -> None:
    data = {
        "version": 1,
        "rules": [
            {
                "code": "a",
                "description": "",
                "applies_to": "relation",
                "condition": {"check": "required", "field": "nope"},
            },
            {
                "code": "b",
                "description": "",
                "applies_to": "contact",
                "condition": {"check": "eval", "code": "1"},
            },
        ],
    }
    with pytest.raises(InvalidInput) as err:
        load_rules(data)
    assert "rules[0].condition.field" in str(err.value)
    assert "rules[1].condition.check" in str(err.value)


def test_min_contacts_on_a_contact_rule_is_refused() -> None:
    with pytest.raises(InvalidInput):
        Rule("x", "", RecordKind.CONTACT, {"check": "min_contacts", "count": 1})


def test_duplicate_rule_codes_are_refused() -> None:
    rule = DEFAULT_RULES.rules[0]
    with pytest.raises(InvalidInput):
        RuleSet(2, [rule, rule])


def test_changed_rules_report_lists_what_a_new_version_breaks() -> None:
    stored: list[Relation | Contact | Activity] = [
        complete_relation(website=None),
        complete_relation("r2", website="https://example.nl"),
        complete_contact(first_name=""),
        complete_contact("c2", "r2"),
    ]
    first_name_now_blocks = Rule(
        "contact-first-name",
        "Every person has a first name",
        RecordKind.CONTACT,
        {"check": "required", "field": "first_name"},
        blocking=True,
    )
    website = Rule(
        "relation-website",
        "Relations have a website",
        "relation",
        {"check": "required", "field": "website"},
    )
    new = RuleSet(
        2,
        [r for r in DEFAULT_RULES.rules if r.code not in ("contact-first-name", "relation-kinds")]
        + [first_name_now_blocks, website],
    )
    report = changed_rules_report(stored, DEFAULT_RULES, new)
    assert (report.old_version, report.new_version) == (1, 2)
    assert report.added_rules == ("relation-website",)
    assert report.removed_rules == ("relation-kinds",)
    assert report.changed_rules == ("contact-first-name",)
    assert sorted((v.rule, v.record_id) for v in report.newly_broken) == [
        ("contact-first-name", "c1"),
        ("relation-website", "r1"),
    ]
    assert [v.rule for v in report.newly_blocking] == ["relation-website", "contact-first-name"]
    assert report.no_longer_broken == ()


relations = st.builds(
    complete_relation,
    rid=st.sampled_from(["r1", "r2", "r3"]),
    industry_code=st.one_of(st.none(), st.just("6201")),
    kinds=st.sampled_from([(), ("customer",)]),
)


@given(st.lists(relations, max_size=6))
def test_enforce_raises_exactly_when_check_finds_a_blocking_violation(
    records: list[Relation],
) -> None:
    found = check(records, DEFAULT_RULES)
    if any(v.blocking for v in found):
        with pytest.raises(RuleViolation) as err:
            enforce(records, DEFAULT_RULES)
        assert list(err.value.violations) == [v for v in found if v.blocking]
    else:
        assert enforce(records, DEFAULT_RULES) == found


@given(st.lists(relations, max_size=6))
def test_a_rule_set_compared_with_itself_breaks_nothing_new(records: list[Relation]) -> None:
    report = changed_rules_report(records, DEFAULT_RULES, DEFAULT_RULES)
    assert report.newly_broken == ()
    assert report.no_longer_broken == ()
    assert report.still_broken == len({v.key for v in check(records, DEFAULT_RULES)})

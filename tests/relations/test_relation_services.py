"""Relations and contacts through the services (A1-A4, L1) on memory, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crm_procedures.errors import AccessDenied, InvalidInput, NotFound, RuleViolation
from crm_procedures.ids import ActivityId, ProjectId, ProspectId, RelationId, UserId
from crm_procedures.model.activity import Activity, ActivityKind
from crm_procedures.model.contact import Contact, Gender
from crm_procedures.model.project import Project
from crm_procedures.model.prospect import Prospect
from crm_procedures.model.relation import Address, Relation, RelationKind
from crm_procedures.policies.rules import DEFAULT_RULES, RecordKind, Rule, RuleSet, check
from crm_procedures.services import activities, visits
from crm_procedures.services.lookup import lookup
from crm_procedures.services.mandatory_rules import (
    adopt_rules,
    check_stored_records,
    installation_rules,
)
from crm_procedures.services.relations import (
    NewContact,
    contacts_of,
    create_contact,
    create_relation,
    merge_relations,
    relation_history,
    search_relations,
    update_contact,
    update_relation,
)

from .conftest import T0, World

INDUSTRY = RuleSet(
    1,
    (
        Rule(
            "relation-industry-code",
            "Every relation has the agreed industry code",
            RecordKind.RELATION,
            {"check": "required", "field": "industry_code"},
        ),
        Rule(
            "contact-first-name",
            "Every person has a first name, as far as it is known",
            RecordKind.CONTACT,
            {"check": "required", "field": "first_name"},
            blocking=False,
        ),
    ),
)


# -- A1: normalised on entry, with history --


def test_a_new_relation_and_its_contacts_are_normalised_and_audited(world: World) -> None:
    saved = create_relation(
        world.ctx,
        "u-anna",
        name="  bakkerij   jansen ",
        addresses=[Address("Kerkstraat 2", "1234ab", "Utrecht")],
        phone="020-123 4567",
        email="Info@Jansen.NL",
        kinds={"suspect"},
        contacts=[
            NewContact(
                "van den Berg", first_name="jan hendrik", gender="dhr.", phone="06 1234 5678"
            )
        ],
    )
    relation, (person,) = saved.relation, saved.contacts
    assert relation.name == "Bakkerij Jansen"
    assert relation.addresses[0].postcode == "1234 AB"
    assert relation.phone == "+31201234567"
    assert relation.email == "Info@jansen.nl"
    assert relation.version == 1
    assert (person.name_prefix, person.last_name) == ("van den", "Berg")
    assert (person.first_name, person.initials) == ("Jan Hendrik", "J.H.")
    assert person.gender is Gender.MALE
    assert person.phone == "+31612345678"
    assert person.relation_id == relation.id
    history = relation_history(world.ctx, "u-anna", relation.id)
    assert [(c.action, c.actor) for c in history] == [("create", "u-anna")]
    assert history[0].changes["name"] == ("", "Bakkerij Jansen")


def test_update_relation_records_what_changed(world: World) -> None:
    saved = update_relation(world.ctx, "u-anna", "R-1", phone="0201112233", region=" Noord ")
    assert saved.relation.phone == "+31201112233"
    assert saved.relation.region == "Noord"
    (change,) = relation_history(world.ctx, "u-anna", "R-1")
    assert change.changes == {
        "phone": ("+31201234567", "+31201112233"),
        "region": ("", "Noord"),
    }
    again = update_relation(world.ctx, "u-anna", "R-1", phone="+31 20 111 22 33")
    assert again.relation.version == saved.relation.version  # nothing changed, nothing stored
    assert len(relation_history(world.ctx, "u-anna", "R-1")) == 1


def test_bad_values_name_the_field_and_store_nothing(world: World) -> None:
    before = world.dump()
    with pytest.raises(InvalidInput, match="postcode"):
        create_relation(world.ctx, "u-anna", name="X", addresses=[Address("a", "12345", "b")])
    with pytest.raises(InvalidInput, match="phone"):
        update_relation(world.ctx, "u-anna", "R-1", phone="12")
    with pytest.raises(InvalidInput, match="colour"):
        update_relation(world.ctx, "u-anna", "R-1", colour="red")
    with pytest.raises(InvalidInput, match="account_manager"):
        update_relation(world.ctx, "u-anna", "R-1", account_manager="u-ghost")
    with pytest.raises(InvalidInput, match="e-mail"):
        create_contact(world.ctx, "u-anna", "R-1", last_name="Kok", email="not-an-address")
    assert world.dump() == before


# -- A2: mandatory-data rules, blocking or warning --


def test_defect_blocking_rule_stops_a_new_relation_and_stores_nothing(world: World) -> None:
    adopt_rules(world.ctx, "u-boss", INDUSTRY)
    before = world.dump()
    with pytest.raises(RuleViolation) as caught:
        create_relation(world.ctx, "u-anna", name="Zonder Code")
    assert [v.rule for v in caught.value.violations] == ["relation-industry-code"]
    assert world.dump() == before


def test_a_warning_rule_comes_back_with_the_saved_record(world: World) -> None:
    adopt_rules(world.ctx, "u-boss", INDUSTRY)
    saved = create_relation(
        world.ctx, "u-anna", name="Met Code", industry_code="4711", contacts=[NewContact("Kok")]
    )
    assert [v.rule for v in saved.warnings] == ["contact-first-name"]
    assert not saved.warnings[0].blocking
    person = create_contact(world.ctx, "u-anna", saved.relation.id, last_name="Smit")
    assert [v.rule for v in person.warnings] == ["contact-first-name"]


def test_default_rules_need_a_contact_with_a_new_relation(world: World) -> None:
    adopt_rules(world.ctx, "u-boss", DEFAULT_RULES)
    with pytest.raises(RuleViolation) as caught:
        create_relation(world.ctx, "u-anna", name="Alleen", industry_code="1", kinds={"customer"})
    assert {v.rule for v in caught.value.violations} == {"relation-has-contact"}
    saved = create_relation(
        world.ctx,
        "u-anna",
        name="Met Persoon",
        industry_code="1",
        kinds={"customer"},
        contacts=[NewContact("Kok", initials="a", gender="f", first_name="Anna")],
    )
    assert saved.warnings == ()
    assert saved.contacts[0].initials == "A."


def test_an_old_violation_does_not_block_an_unrelated_change(world: World) -> None:
    # R-1 has no industry code from before the rules: fixing its phone is allowed
    adopt_rules(world.ctx, "u-boss", INDUSTRY)
    saved = update_relation(world.ctx, "u-anna", "R-1", phone="0301234567")
    assert [v.rule for v in saved.warnings] == ["relation-industry-code"]
    # ...but a change that breaks a rule is refused
    update_relation(world.ctx, "u-anna", "R-1", industry_code="1")
    with pytest.raises(RuleViolation):
        update_relation(world.ctx, "u-anna", "R-1", industry_code="")


def test_rules_given_to_the_call_replace_the_installations(world: World) -> None:
    adopt_rules(world.ctx, "u-boss", INDUSTRY)
    saved = create_relation(world.ctx, "u-anna", name="Vrij", rules=RuleSet(1, ()))
    assert saved.relation.industry_code is None


def test_adopted_rules_are_versioned_and_only_admins_adopt(world: World) -> None:
    assert installation_rules(world.ctx) is None
    assert adopt_rules(world.ctx, "u-boss", INDUSTRY) == 1
    assert adopt_rules(world.ctx, "u-boss", INDUSTRY) == 1  # the same rules: no new version
    assert adopt_rules(world.ctx, "u-boss", DEFAULT_RULES) == 2
    assert installation_rules(world.ctx) == DEFAULT_RULES
    with pytest.raises(AccessDenied):
        adopt_rules(world.ctx, "u-anna", INDUSTRY)


# -- contacts (L1) --


def test_contacts_are_added_changed_and_listed_with_history(world: World) -> None:
    made = create_contact(
        world.ctx, "u-anna", "R-1", last_name="de Groot", first_name="els", phone="030 123 4567"
    )
    assert (made.contact.name_prefix, made.contact.last_name) == ("de", "Groot")
    changed = update_contact(world.ctx, "u-anna", made.contact.id, function="Inkoper")
    assert changed.contact.function == "Inkoper"
    assert changed.contact.version == 2
    names = [c.last_name for c in contacts_of(world.ctx, "u-anna", "R-1")]
    assert names == ["Groot", "Vries"]


# -- permissions --


def test_writing_relations_needs_relation_write(world: World) -> None:
    before = world.dump()
    with pytest.raises(AccessDenied, match=r"relation\.write"):
        create_relation(world.ctx, "u-bob", name="Nope")
    with pytest.raises(AccessDenied):
        update_relation(world.ctx, "u-bob", "R-1", notes="x")
    with pytest.raises(AccessDenied):
        create_contact(world.ctx, "u-bob", "R-1", last_name="Kok")
    with pytest.raises(AccessDenied):
        merge_relations(world.ctx, "u-bob", "R-1", "R-2")
    assert world.dump() == before


def test_a_user_without_permissions_sees_only_the_relations_they_manage(world: World) -> None:
    assert [r.id for r in search_relations(world.ctx, "u-nobody", "")] == ["R-2"]
    with pytest.raises(NotFound):
        contacts_of(world.ctx, "u-nobody", "R-1")
    assert [r.id for r in search_relations(world.ctx, "u-bob", "", limit=1, offset=1)] == ["R-2"]


# -- merging two relations --


def _fill_r2(world: World) -> None:
    with world.store.unit_of_work() as uow:
        uow.projects.add(Project(ProjectId("P-9"), RelationId("R-1"), "Both here"))
        uow.prospects.add(Prospect(ProspectId("PR-1"), ProjectId("P-9"), RelationId("R-1")))
        uow.prospects.add(Prospect(ProspectId("PR-2"), ProjectId("P-9"), RelationId("R-2")))
        uow.activities.add(
            Activity(
                ActivityId("A-1"),
                ActivityKind.TASK,
                UserId("u-anna"),
                relation_id=RelationId("R-2"),
                due=T0 + timedelta(days=1),
            )
        )
        uow.commit()
    visits.create_visit_report(
        world.ctx,
        "u-boss",
        designation="Visit",
        relation_id="R-2",
        start=T0,
        end=T0 + timedelta(hours=1),
        account_manager="u-anna",
    )


def test_merge_moves_everything_and_keeps_the_history(world: World) -> None:
    _fill_r2(world)
    update_relation(world.ctx, "u-anna", "R-2", industry_code="4711", kinds={"customer"})
    merged = merge_relations(world.ctx, "u-anna", "R-1", "R-2")
    assert merged.contacts == ("C-2",)
    assert merged.projects == ("P-1",)
    assert merged.activities == ("A-1",)
    assert merged.prospects == ("PR-2",)
    assert len(merged.visit_reports) == 1
    assert merged.double_prospects == (("P-9", "PR-1", "PR-2"),)
    assert merged.relation.industry_code == "4711"
    assert RelationKind.CUSTOMER in merged.relation.kinds
    assert merged.absorbed.merged_into == "R-1"
    with world.store.unit_of_work(read_only=True) as uow:
        assert {c.id for c in uow.contacts.of_relation("R-1")} == {"C-1", "C-2"}
        assert uow.contacts.of_relation("R-2") == []
        assert uow.projects.get("P-1").relation_id == "R-1"
        assert uow.activities.get("A-1").relation_id == "R-1"
        assert uow.prospects.get("PR-2").relation_id == "R-1"
        assert uow.visit_reports.get(merged.visit_reports[0]).relation_id == "R-1"
        absorbed_history = uow.audit.of_record("relation", "R-2")
        assert [c.action for c in absorbed_history] == ["update", "merge"]
        assert uow.audit.of_record("contact", "C-2")[-1].changes["relation_id"] == ("R-2", "R-1")
        assert uow.audit.of_record("relation", "R-1")[-1].changes["merged"] == ("", "R-2")
    # a merged relation takes no new contacts and is not merged twice
    with pytest.raises(InvalidInput, match="merged into relation R-1"):
        create_contact(world.ctx, "u-anna", "R-2", last_name="Kok")
    with pytest.raises(InvalidInput):
        merge_relations(world.ctx, "u-anna", "R-1", "R-2")


def test_merge_refuses_the_same_relation_twice(world: World) -> None:
    with pytest.raises(InvalidInput, match="differ"):
        merge_relations(world.ctx, "u-anna", "R-1", "R-1")
    with pytest.raises(NotFound):
        merge_relations(world.ctx, "u-anna", "R-1", "R-404")


# -- A3: a note with every customer contact --


def test_defect_completing_a_contact_without_a_note_is_refused_when_the_rules_say_so(
    world: World,
) -> None:
    made = activities.create_contact(
        world.ctx, "u-anna", relation_id="R-1", contact_ids=["C-1"], subject="Call"
    )
    adopt_rules(world.ctx, "u-boss", DEFAULT_RULES)
    with pytest.raises(RuleViolation, match="short note"):
        activities.complete_activity(world.ctx, "u-anna", made.id)
    with world.store.unit_of_work(read_only=True) as uow:
        assert uow.activities.get(made.id).completed_at is None
    done = activities.complete_activity(world.ctx, "u-anna", made.id, note="Wants an offer")
    assert done.completed_at is not None


def test_without_rules_a_contact_completes_without_a_note(world: World) -> None:
    made = activities.create_contact(
        world.ctx, "u-anna", relation_id="R-1", contact_ids=["C-1"], subject="Call"
    )
    assert activities.complete_activity(world.ctx, "u-anna", made.id).completed_at is not None


# -- A4: checking what is stored, page by page --


def test_the_stored_records_are_checked_page_by_page(world: World) -> None:
    for i in range(5):
        create_relation(
            world.ctx, "u-anna", name=f"Firma {i}", industry_code=str(i) if i % 2 else None
        )
    with world.store.unit_of_work(read_only=True) as uow:
        everything: list[Relation | Contact] = [
            *uow.relations.search("", limit=None),
            *uow.contacts.of_relation("R-1"),
            *uow.contacts.of_relation("R-2"),
        ]
    expected = {v.key for v in check(everything, DEFAULT_RULES)}
    report = check_stored_records(world.ctx, "u-bi", DEFAULT_RULES, page_size=2)
    assert (report.relations, report.contacts) == (7, 2)
    assert {v.key for v in report.violations} == expected
    assert report.per_rule["relation-industry-code"] == 5  # Firma 0, 2, 4
    assert report.per_rule["relation-has-contact"] == 5
    assert {v.rule for v in report.of_record("contact", "C-2")} >= {"contact-initials"}
    with pytest.raises(AccessDenied):
        check_stored_records(world.ctx, "u-anna", DEFAULT_RULES)
    with pytest.raises(InvalidInput, match="adopt"):
        check_stored_records(world.ctx, "u-bi")


# -- lookup during a call --


@pytest.mark.parametrize(
    "typed", ["06-12345678", "+31 6 1234 5678", "0031612345678", "(06) 123 456 78"]
)
def test_a_contact_is_found_by_phone_in_any_format(world: World, typed: str) -> None:
    (match,) = lookup(world.ctx, "u-anna", typed)
    assert (match.relation.id, match.contact and match.contact.id) == ("R-1", "C-1")
    assert match.matched_on == "phone"


def test_a_relation_is_found_by_its_own_phone_and_by_name(world: World) -> None:
    (match,) = lookup(world.ctx, "u-anna", "020 123 45 67")
    assert (match.relation.id, match.contact) == ("R-1", None)
    assert [m.relation.id for m in lookup(world.ctx, "u-anna", "jansen")] == ["R-2"]


def test_lookup_shows_only_what_the_caller_may_see(world: World) -> None:
    assert lookup(world.ctx, "u-nobody", "0612345678") == []
    assert lookup(world.ctx, "u-nobody", "vries") == []
    assert [m.relation.id for m in lookup(world.ctx, "u-nobody", "jansen")] == ["R-2"]
    with pytest.raises(InvalidInput):
        lookup(world.ctx, "u-anna", "   ")


def test_initials_follow_the_first_name_only_when_none_are_given(world: World) -> None:
    made = create_contact(world.ctx, "u-anna", "R-1", last_name="Kok", first_name="anna maria")
    assert made.contact.initials == "A.M."
    kept = update_contact(world.ctx, "u-anna", "C-1", first_name="Piet")
    assert kept.contact.initials == "P."  # stored initials stay
    assert kept.contact.first_name == "Piet"


def test_defect_the_import_applies_the_installations_rules_without_being_told(
    world: World,
) -> None:
    from crm_procedures.services.imports import import_suspects

    adopt_rules(world.ctx, "u-boss", INDUSTRY)
    rows = [{"name": "Zonder Code"}, {"name": "Met Code", "industry_code": "4711"}]
    report = import_suspects(world.ctx, "u-boss", "P-1", rows)
    assert report.imported == 1
    assert [r.line for r in report.rejected] == [1]
    assert "industry code" in report.rejected[0].reason
    # an empty rule set given to the call checks nothing
    again = import_suspects(world.ctx, "u-boss", "P-1", [{"name": "Ander"}], rules=RuleSet(1, ()))
    assert again.imported == 1


def test_defect_w1_a_second_contact_person_attaches_to_the_company(world: World) -> None:
    from crm_procedures.services.imports import import_suspects

    text = (
        "name,postcode,first name,last name,contact email\n"
        "Drukkerij Oost,1234 AB,Jan,Jansen,jan@oost.example\n"
        "Drukkerij Oost,1234AB,Els,de Wit,els@oost.example\n"  # another person: attached
        "Drukkerij Oost,1234 AB,Jan,Jansen,jan@oost.example\n"  # the same person: skipped
    )
    report = import_suspects(world.ctx, "u-boss", "P-1", text)
    assert report.imported == 1
    (company,) = report.relation_ids
    assert [(a.line, a.relation_id) for a in report.attached] == [(3, company)]
    assert [(d.line, d.skipped) for d in report.duplicates] == [(3, True), (4, True)]
    with world.store.unit_of_work(read_only=True) as uow:
        names = [c.last_name for c in uow.contacts.of_relation(company)]
    assert names == ["Jansen", "Wit"]
    # a later file with a third person of the stored company attaches it there too
    later = "name,postcode,first name,last name\nDrukkerij Oost,1234 AB,Piet,Bos\n"
    second = import_suspects(world.ctx, "u-boss", "P-1", later)
    assert (second.imported, [a.relation_id for a in second.attached]) == (0, [company])
    with world.store.unit_of_work(read_only=True) as uow:
        assert len(uow.contacts.of_relation(company)) == 3
    assert "contact added to relation" in second.summary()

"""W4: e-mail templates are data with whitelisted placeholders, rendered safely."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from crm_procedures.errors import TemplateError
from crm_procedures.model.appointment import Appointment
from crm_procedures.model.contact import Contact, Gender
from crm_procedures.model.project import Project
from crm_procedures.model.relation import Address, Relation
from crm_procedures.procedures.procedure import Definitions
from crm_procedures.procedures.templates import (
    TEMPLATE_FIELDS,
    EmailTemplate,
    check_template,
    placeholders,
    render,
    template_values,
)

AMS = ZoneInfo("Europe/Amsterdam")


def contact(**kw: object) -> Contact:
    base: dict[str, object] = {
        "id": "c1",
        "relation_id": "r1",
        "last_name": "Berg",
        "first_name": "",
        "name_prefix": "van den",
        "initials": "J.",
        "gender": Gender.FEMALE,
        "email": "j.berg@example.nl",
    }
    base.update(kw)
    return Contact(**base)  # type: ignore[arg-type]


RELATION = Relation("r1", "Acme B.V.", addresses=(Address(city="Utrecht"),))
PROJECT = Project("pj", "r0", "Spring campaign", description="New <b>coffee</b> machines")


def test_placeholders_are_listed_in_order_of_first_use() -> None:
    source = "{{contact.salutation}}, {{ project.name }} {{contact.salutation}}"
    assert placeholders(source) == ["contact.salutation", "project.name"]


@pytest.mark.parametrize(
    "source", ["{{contact.first_name", "contact.first_name}}", "{{ {{a.b}} }}", "{{a b}}", "{{}}"]
)
def test_malformed_braces_are_template_errors(source: str) -> None:
    with pytest.raises(TemplateError):
        placeholders(source, "t")


def test_single_braces_are_plain_text() -> None:
    t = EmailTemplate("t", "Hi", "x", html="<style>p { color: red }</style>{{contact.first_name}}")
    assert render(t, {"contact.first_name": "Jan"}).html == ("<style>p { color: red }</style>Jan")


def test_attribute_walking_is_an_unknown_field() -> None:
    t = EmailTemplate("t", "Hi", "{{contact.__class__}}")
    with pytest.raises(TemplateError, match="not a template field"):
        render(t, {})
    assert [f.code for f in check_template(t)] == ["template-unknown-field"]


def test_check_template_reports_subject_line_breaks_and_syntax() -> None:
    t = EmailTemplate("t", "Hello\r\nBcc: all@example.com", "{{oops", html="{{project.nam}}")
    assert sorted((f.code, f.location) for f in check_template(t)) == [
        ("template-subject-line-break", "templates.t.subject"),
        ("template-syntax", "templates.t.text"),
        ("template-unknown-field", "templates.t.html"),
    ]


def test_every_whitelisted_field_renders() -> None:
    source = " ".join(f"{{{{{name}}}}}" for name in TEMPLATE_FIELDS)
    values = {name: name.upper() for name in TEMPLATE_FIELDS}
    out = render(EmailTemplate("t", "s", source), values)
    assert out.text == " ".join(name.upper() for name in TEMPLATE_FIELDS)


def test_html_values_are_escaped_but_text_values_are_not() -> None:
    t = EmailTemplate("t", "About {{project.name}}", "{{project.name}}", "<p>{{project.name}}</p>")
    out = render(t, {"project.name": 'Tom & "Jerry" <script>'})
    assert out.text == 'Tom & "Jerry" <script>'
    assert out.html == "<p>Tom &amp; &quot;Jerry&quot; &lt;script&gt;</p>"
    assert out.subject == 'About Tom & "Jerry" <script>'


def test_a_value_with_a_line_break_cannot_reach_the_subject() -> None:
    t = EmailTemplate("t", "About {{project.name}}", "body")
    with pytest.raises(TemplateError, match="line break"):
        render(t, {"project.name": "x\nBcc: everyone@example.com"})


def test_missing_values_render_empty() -> None:
    t = EmailTemplate("t", "Hi", "[{{appointment.location}}]")
    assert render(t, {}).text == "[]"


def test_template_values_fill_contact_relation_project_and_sender() -> None:
    values = template_values(contact(), RELATION, PROJECT, "Ann", "ann@agency.example")
    assert values["contact.full_name"] == "J. van den Berg"
    assert values["contact.salutation"] == "Dear Ms van den Berg"
    assert values["relation.city"] == "Utrecht"
    assert values["project.name"] == "Spring campaign"
    assert values["sender.email"] == "ann@agency.example"
    assert values["appointment.start"] == ""
    assert set(values) == set(TEMPLATE_FIELDS)


@pytest.mark.parametrize(
    ("language", "gender", "expected"),
    [
        ("nl", Gender.MALE, "Geachte heer Van den Berg"),
        ("nl", Gender.FEMALE, "Geachte mevrouw Van den Berg"),
        ("nl", Gender.UNKNOWN, "Geachte J. van den Berg"),
        ("en", Gender.MALE, "Dear Mr van den Berg"),
        ("pl", Gender.FEMALE, "Szanowna Pani"),
        ("pl", Gender.UNKNOWN, "Szanowni Państwo"),
        ("de", Gender.FEMALE, "Dear Ms van den Berg"),
    ],
)
def test_salutation_follows_language_and_gender(
    language: str, gender: Gender, expected: str
) -> None:
    values = template_values(
        contact(gender=gender), RELATION, PROJECT, "A", "a@x.nl", None, language
    )
    assert values["contact.salutation"] == expected


def test_appointment_times_are_shown_in_the_appointments_own_zone() -> None:
    start = datetime(2026, 3, 29, 10, 0, tzinfo=AMS)  # the day summer time starts
    appointment = Appointment(
        "a1",
        "carl",
        start,
        datetime(2026, 3, 29, 11, 0, tzinfo=AMS),
        "Intro",
        "uid-1",
        location="Utrecht office",
    )
    values = template_values(contact(), RELATION, PROJECT, "A", "a@x.nl", appointment)
    assert values["appointment.start"] == "2026-03-29 10:00 Europe/Amsterdam"
    assert values["appointment.end"] == "2026-03-29 11:00 Europe/Amsterdam"
    assert (values["appointment.date"], values["appointment.time"]) == ("2026-03-29", "10:00")
    assert values["appointment.location"] == "Utrecht office"


def test_the_standard_info_template_renders_for_a_contact(definitions: Definitions) -> None:
    values = template_values(contact(), RELATION, PROJECT, "Ann", "ann@agency.example")
    out = render(definitions.template("info"), values)
    assert out.subject == "Information about Spring campaign"
    assert out.text.lstrip().startswith("Dear Ms van den Berg,")
    assert out.html is not None
    assert "New &lt;b&gt;coffee&lt;/b&gt; machines" in out.html

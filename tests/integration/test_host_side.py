"""The host application's side of a campaign: step kinds as plugins, the actions a user
may take now, enrolment, final outcomes, template fields and the e-mail preview."""

from __future__ import annotations

import warnings
from datetime import timedelta
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_procedures import (
    AccessDenied,
    CrmApp,
    CrmError,
    CustomEffect,
    DefinitionError,
    Definitions,
    InvalidInput,
    NotFound,
    OutboxMessage,
    Prospect,
    ProspectClosed,
    ProspectStatus,
    RelationStage,
    StepContext,
    StepKind,
    TemplateError,
    dump_definitions,
    load_definitions,
    standard_definitions,
    validate,
)
from crm_procedures.adapters.memory import MemoryStore
from crm_procedures.model.contact import Contact
from crm_procedures.model.relation import Relation
from crm_procedures.services import campaigns, step_kinds
from crm_procedures.services.actions import available_actions, available_actions_many
from crm_procedures.services.enrolment import enroll
from crm_procedures.services.step_kinds import step_kind_registry
from integration.campaign import Campaign, make_campaign, new_prospect, snapshot
from integration.test_campaigns import do, parse, stored, walk

TICKET = "ticket"


def with_ticket_step(**step: Any) -> Definitions:
    """The standard definitions plus a ``ticket`` kind and an ``open_ticket`` step after a call."""
    data = dump_definitions(standard_definitions())
    data["step_kinds"][TICKET] = {"description": "Open a helpdesk ticket", "requires": ["queue"]}
    data["steps"]["open_ticket"] = {
        "name": "Open a ticket",
        "kind": TICKET,
        "params": {"queue": "sales"},
        **step,
    }
    procedure = data["procedures"]["standard"]
    procedure["steps"].append("open_ticket")
    procedure["matrix"]["marketeer"]["call"].append("open_ticket")
    procedure["matrix"]["marketeer"]["open_ticket"] = ["call_back"]
    return load_definitions(data)


def open_ticket(ctx: StepContext) -> None:
    """A host's handler: one ticket for the prospect's relation, in the queue the step names."""
    ctx.emit(TICKET, {"queue": ctx.params["queue"], "about": ctx.relation().name})


def use(c: Campaign, definitions: Definitions, *kinds: StepKind) -> None:
    """Run the campaign ``c`` on ``definitions`` (pinned anew) with the kinds registered."""
    c.ctx.definitions = definitions
    c.ctx.step_kinds = step_kind_registry(kinds, discover=False)
    c.project = campaigns.start_campaign(
        c.ctx, "pia", relation_id="client", name="Tickets", procedure="standard"
    )
    (acme,) = campaigns.add_prospects(c.ctx, "pia", c.project.id, [("acme", "c-acme")])
    campaigns.release(c.ctx, "pia", c.project.id)
    c.acme = acme.id


# -- 1. step kinds as plugins ---------------------------------------------------------------------


def test_a_registered_kind_records_its_work_with_a_derived_key_reported_in_the_result(
    campaign: Campaign,
) -> None:
    c = campaign
    use(c, with_ticket_step(), StepKind(TICKET, open_ticket))
    walk(c, "call")
    result = do(c, "ann", "marketeer", "open_ticket")
    (key,) = result.message_keys
    assert key == f"prospect:{c.acme}:entry:{len(result.prospect.history)}:ticket"
    with c.store.unit_of_work() as uow:
        (message,) = [m for m in uow.outbox.list() if m.channel == TICKET]
    assert message.key == key
    assert dict(message.payload) == {"queue": "sales", "about": "Acme Installatietechniek B.V."}
    assert message.created_at == message.due_at == c.clock.now()
    assert result.effects == (CustomEffect(TICKET, "open_ticket", {"queue": "sales"}),)


def test_a_handler_that_refuses_leaves_the_store_as_it_was(campaign: Campaign) -> None:
    c = campaign

    def refuse(ctx: StepContext) -> None:
        ctx.emit(TICKET, {"queue": "sales"})
        raise InvalidInput("queue", "the helpdesk queue is closed")

    use(c, with_ticket_step(), StepKind(TICKET, refuse))
    walk(c, "call")
    before = snapshot(c.store, c.project.id)
    with pytest.raises(InvalidInput, match="queue is closed"):
        do(c, "ann", "marketeer", "open_ticket")
    assert snapshot(c.store, c.project.id) == before


def test_a_kind_nobody_registered_is_refused_with_how_to_register_it(campaign: Campaign) -> None:
    c = campaign
    use(c, with_ticket_step())
    walk(c, "call")
    before = snapshot(c.store, c.project.id)
    with pytest.raises(InvalidInput, match=r"kind 'ticket'.*CrmApp\(step_kinds="):
        do(c, "ann", "marketeer", "open_ticket")
    assert snapshot(c.store, c.project.id) == before


def test_the_old_handlers_argument_still_works_and_warns(campaign: Campaign) -> None:
    c = campaign
    use(c, with_ticket_step())
    walk(c, "call")

    def old_style(uow: Any, ctx: Any, prospect: Prospect, effect: CustomEffect) -> None:
        uow.outbox.add(
            OutboxMessage(
                id=ctx.new_id(),
                key=f"old:{prospect.id}",
                channel=TICKET,
                payload={"queue": effect.params["queue"]},
                created_at=ctx.now(),
            )
        )

    with pytest.deprecated_call(match="register the kinds once"):
        result = campaigns.perform_step(
            c.ctx, "ann", c.acme, "open_ticket", role="marketeer", handlers={TICKET: old_style}
        )
    assert result.message_keys == (f"old:{c.acme}",)


def test_built_in_kinds_are_registered_like_a_hosts_and_can_be_replaced(
    campaign: Campaign,
) -> None:
    c = campaign
    registry = step_kind_registry(discover=False)
    assert {"plain", "send_email", "make_appointment"} <= set(registry)
    assert all(isinstance(k, StepKind) for k in registry.values())

    def review_first(ctx: StepContext) -> None:
        ctx.emit("review", {"template": ctx.step.template, "to": ctx.contact().email})

    c.ctx.step_kinds = step_kind_registry([StepKind("send_email", review_first)], discover=False)
    walk(c, "call")
    result = do(c, "ann", "marketeer", "send_info")
    with c.store.unit_of_work() as uow:
        channels = {m.key: m.channel for m in uow.outbox.list()}
    assert [channels[k] for k in result.message_keys] == ["review"]


def test_emitting_twice_gives_two_keys_and_bad_payloads_are_refused(campaign: Campaign) -> None:
    c = campaign
    seen: list[str] = []

    def twice(ctx: StepContext) -> None:
        seen.append(ctx.emit(TICKET, {"n": 1}))
        seen.append(ctx.emit(TICKET, {"n": 2}, delay=timedelta(hours=1)))
        with pytest.raises(InvalidInput):
            ctx.emit(TICKET, {"when": object()})
        with pytest.raises(InvalidInput):
            ctx.emit("", {})
        with pytest.raises(InvalidInput):
            ctx.key("has space")

    use(c, with_ticket_step(), StepKind(TICKET, twice))
    walk(c, "call")
    result = do(c, "ann", "marketeer", "open_ticket")
    assert result.message_keys == tuple(seen)
    assert seen[1] == seen[0] + ":2"


def test_step_kinds_are_found_through_the_entry_point_group(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    @attrs.frozen
    class FakeEntryPoint:
        name: str
        value: str
        loaded: Any

        def load(self) -> Any:
            if isinstance(self.loaded, Exception):
                raise self.loaded
            return self.loaded

    found = [
        FakeEntryPoint("ticket", "helpdesk:TICKET", StepKind(TICKET, open_ticket)),
        FakeEntryPoint("broken", "broken:KINDS", ImportError("no module named broken")),
        FakeEntryPoint("many", "sms:kinds", lambda: [StepKind("sms", open_ticket)]),
    ]

    def entry_points(*, group: str) -> list[FakeEntryPoint]:
        assert group == step_kinds.ENTRY_POINT_GROUP
        return found

    monkeypatch.setattr("importlib.metadata.entry_points", entry_points)
    step_kinds.discover_step_kinds.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match="'broken'.*no module named broken"):
            app = CrmApp(store=None, clock=None)  # type: ignore[arg-type]
        assert {TICKET, "sms", "send_email"} <= set(app.ctx.step_kinds)
    finally:
        step_kinds.discover_step_kinds.cache_clear()


def test_the_application_refuses_two_kinds_with_one_key_and_non_kinds() -> None:
    with pytest.raises(InvalidInput, match="registered twice"):
        step_kind_registry([StepKind("x", open_ticket), StepKind("x", open_ticket)])
    with pytest.raises(InvalidInput, match="StepKind"):
        step_kind_registry(["x"])  # type: ignore[list-item]
    with pytest.raises(InvalidInput):
        StepKind("x", "not callable")  # type: ignore[arg-type]


# -- 2. the actions a user may take now -----------------------------------------------------------


def test_available_actions_list_the_steps_per_role_and_the_status_changes(
    campaign: Campaign,
) -> None:
    c = campaign
    ann = available_actions(c.ctx, "ann", c.acme)
    assert ann.roles == ("marketeer",)
    assert [(a.role, a.step, a.label) for a in ann.steps()] == [("marketeer", "call", "Call")]
    assert ann.may("close")
    assert ann.may("won")
    assert not ann.may("reopen")
    assert not ann.may("correct")
    assert ann.version == stored(c, c.acme).version

    walk(c, "call")
    pia = available_actions(c.ctx, "pia", c.acme)
    assert "project_leader" in pia.roles
    assert pia.may("step", "send_info", "project_leader")
    assert pia.may("correct", role="project_leader")


def test_every_offered_step_is_allowed_and_every_other_refused(campaign: Campaign) -> None:
    c = campaign
    start = c.clock.now() + timedelta(days=3)
    for last in (None, "call", "send_info", "make_appointment"):
        pid = new_prospect(c)
        if last is not None:
            walk(c, last, pid)
        for actor in ("ann", "cor", "pia"):
            offered = available_actions(c.ctx, actor, pid)
            for role in ("marketeer", "client", "project_leader"):
                for step in standard_definitions().procedure("standard").steps:
                    try:
                        campaigns.preview_step(
                            c.ctx, actor, pid, step, role=role, appointment_start=start
                        )
                        allowed = True
                    except CrmError:
                        allowed = False
                    assert allowed == offered.may("step", step, role), (last, actor, role, step)


def test_labels_are_in_the_users_language(campaign: Campaign) -> None:
    c = campaign
    data = dump_definitions(standard_definitions())
    data["steps"]["call"]["labels"] = {"nl": "Bellen"}
    use(c, load_definitions(data))
    with c.store.unit_of_work() as uow:
        uow.users.save(attrs.evolve(uow.users.get("ann"), language="nl"))
        uow.commit()
    actions = available_actions(c.ctx, "ann", c.acme)
    assert [a.label for a in actions.steps()] == ["Bellen"]
    (close,) = [a for a in actions.actions if a.name == "close"]
    assert close.label == "Sluiten"
    assert ("not_interested", "Geen interesse") in close.choices


def test_a_closed_prospect_offers_reopen_only(campaign: Campaign) -> None:
    c = campaign
    campaigns.close_prospect(c.ctx, "ann", c.acme, "not_interested")
    actions = available_actions(c.ctx, "ann", c.acme)
    assert [a.name for a in actions.actions] == ["reopen"]
    assert actions.status is ProspectStatus.CLOSED


def test_the_batch_form_answers_a_worklist_page_like_the_single_form(
    campaign: Campaign,
) -> None:
    c = campaign
    page = [p.id for p in campaigns.worklist(c.ctx, "ann", c.project.id, "marketeer")]
    many = available_actions_many(c.ctx, "ann", page)
    assert list(many) == page
    for pid in page:
        assert many[pid] == available_actions(c.ctx, "ann", pid)
    with pytest.raises(NotFound):
        available_actions_many(c.ctx, "ann", [*page, "nope"])
    with pytest.raises(InvalidInput):
        available_actions_many(c.ctx, "ann", "not-a-list")


# -- 3. error messages ----------------------------------------------------------------------------


def test_defect_misspelt_step_says_it_does_not_exist_with_close_matches(
    campaign: Campaign,
) -> None:
    c = campaign
    with pytest.raises(InvalidInput, match=r"'cal_back' is not a step.*did you mean 'call_back'"):
        do(c, "ann", "marketeer", "cal_back")
    with pytest.raises(InvalidInput, match=r"'no_such_step' is not a step of procedure"):
        do(c, "ann", "marketeer", "no_such_step")
    with pytest.raises(InvalidInput, match=r"'marketer' is not a role.*did you mean 'marketeer'"):
        do(c, "ann", "marketer", "call")


def test_defect_missing_role_says_what_grants_it(campaign: Campaign) -> None:
    c = campaign
    with pytest.raises(AccessDenied, match=r"membership of the project in role 'client'.*cor"):
        do(c, "ann", "client", "call")
    with c.store.unit_of_work() as uow:
        project = uow.projects.get(c.project.id)
        uow.projects.save(attrs.evolve(project, members={"marketeer": ("ann",)}))
        uow.commit()
    with pytest.raises(AccessDenied, match=r"the user's roles grant it"):
        do(c, "ann", "client", "call")


# -- 4. enrolment ---------------------------------------------------------------------------------


def test_enroll_adds_a_released_prospect_in_one_call(campaign: Campaign) -> None:
    c = campaign
    with c.store.unit_of_work() as uow:
        uow.relations.add(Relation(id="dune", name="Dune B.V."))
        uow.contacts.add(Contact(id="c-dune", relation_id="dune", last_name="Zand"))
        uow.commit()
    prospect = enroll(c.ctx, "pia", c.project.id, "dune", "c-dune")
    assert prospect.status is ProspectStatus.RUNNING
    assert prospect.contact_id == "c-dune"
    assert prospect.id in [
        p.id for p in campaigns.worklist(c.ctx, "ann", c.project.id, "marketeer")
    ]
    do(c, "ann", "marketeer", "call", prospect.id)


def test_enroll_without_release_leaves_it_in_preparation(campaign: Campaign) -> None:
    c = campaign
    with c.store.unit_of_work() as uow:
        uow.relations.add(Relation(id="dune", name="Dune B.V."))
        uow.commit()
    prospect = enroll(c.ctx, "pia", c.project.id, "dune", release=False)
    assert prospect.status is ProspectStatus.PREPARING


def test_enroll_refuses_duplicates_strangers_and_bad_contacts_storing_nothing(
    campaign: Campaign,
) -> None:
    c = campaign
    before = snapshot(c.store, c.project.id)
    with pytest.raises(InvalidInput, match="already enrolled"):
        enroll(c.ctx, "pia", c.project.id, "acme")
    with pytest.raises(InvalidInput, match="belongs to relation acme"):
        enroll(c.ctx, "pia", c.project.id, "bolt", "c-acme")
    with pytest.raises(NotFound):
        enroll(c.ctx, "pia", c.project.id, "nobody")
    with pytest.raises(InvalidInput):
        enroll(c.ctx, "pia", c.project.id, "bolt", release="yes")  # type: ignore[arg-type]
    assert snapshot(c.store, c.project.id) == before
    campaigns.close_prospect(c.ctx, "ann", c.acme, "not_interested")
    again = enroll(c.ctx, "pia", c.project.id, "acme", "c-acme")
    assert again.id != c.acme


# -- 5. final steps declare their outcome ---------------------------------------------------------


def with_endings() -> Definitions:
    data = dump_definitions(standard_definitions())
    data["steps"]["signed"] = {"name": "Signed", "final": True, "outcome": "won"}
    data["steps"]["lost"] = {
        "name": "Lost to a competitor",
        "final": True,
        "outcome": "closed",
        "close_reason": "has_supplier",
    }
    procedure = data["procedures"]["standard"]
    procedure["steps"] += ["signed", "lost"]
    procedure["matrix"]["marketeer"]["call"] += ["signed", "lost"]
    return load_definitions(data)


@pytest.mark.parametrize(
    ("step", "status", "stage"),
    [
        ("signed", ProspectStatus.RUNNING, RelationStage.CUSTOMER),
        ("lost", ProspectStatus.CLOSED, RelationStage.PROSPECT),
    ],
)
def test_a_final_step_applies_its_outcome(
    campaign: Campaign, step: str, status: ProspectStatus, stage: RelationStage
) -> None:
    c = campaign
    use(c, with_endings())
    walk(c, "call")
    prospect = do(c, "ann", "marketeer", step).prospect
    assert (prospect.status, prospect.stage) == (status, stage)
    assert stored(c, c.acme).status is status
    if status is ProspectStatus.CLOSED:
        assert prospect.close_reason == "has_supplier"
        with pytest.raises(ProspectClosed):
            do(c, "ann", "marketeer", "call")


def test_outcomes_survive_dump_and_load() -> None:
    defs = with_endings()
    assert load_definitions(dump_definitions(defs)) == defs
    assert defs.step("lost").close_reason == "has_supplier"


@pytest.mark.parametrize(
    ("step", "code"),
    [
        ({"outcome": "victory", "final": True}, "invalid-outcome"),
        ({"outcome": "closed", "final": True}, "missing-close-reason"),
        ({"outcome": "closed", "close_reason": "bored", "final": True}, "unknown-close-reason"),
        ({"close_reason": "no_budget"}, "close-reason-without-outcome"),
    ],
)
def test_bad_outcomes_are_refused_when_loading(step: dict[str, Any], code: str) -> None:
    data = dump_definitions(standard_definitions())
    data["steps"]["call"].update(step)
    with pytest.raises(DefinitionError) as refused:
        load_definitions(data)
    assert code in {f.code for f in refused.value.findings}


def test_an_outcome_on_a_step_that_is_not_final_is_a_warning() -> None:
    data = dump_definitions(standard_definitions())
    data["steps"]["client_call"]["outcome"] = "won"
    findings = validate(load_definitions(data))
    assert [(f.code, f.severity) for f in findings if f.code == "outcome-not-final"] == [
        ("outcome-not-final", "warning")
    ]


# -- 6. template fields mean one thing each -------------------------------------------------------


def test_sender_is_the_acting_user_and_organisation_the_installation(campaign: Campaign) -> None:
    c = campaign
    data = dump_definitions(standard_definitions())
    data["templates"]["info"]["text"] = (
        "{{sender.name}} <{{sender.email}}> of {{organisation.name}} <{{organisation.email}}>"
    )
    use(c, load_definitions(data))
    walk(c, "call")
    (key,) = do(c, "ann", "marketeer", "send_info").message_keys
    with c.store.unit_of_work() as uow:
        (message,) = [m for m in uow.outbox.list() if m.key == key]
    mail = parse(message.payload["message"])
    body = mail.get_body(("plain",))
    assert body is not None
    assert body.get_content().strip() == (
        "Ann de Wit <ann@example.com> of Klant B.V. campaigns <campaigns@example.com>"
    )
    assert str(mail["From"]) == '"Klant B.V. campaigns" <campaigns@example.com>'
    assert str(mail["Reply-To"]) == "Ann de Wit <ann@example.com>"


# -- 7. preview and edit --------------------------------------------------------------------------


def test_preview_shows_the_email_and_stores_nothing(campaign: Campaign) -> None:
    c = campaign
    walk(c, "call")
    before = snapshot(c.store, c.project.id)
    preview = campaigns.preview_step(c.ctx, "ann", c.acme, "send_info", role="marketeer")
    assert snapshot(c.store, c.project.id) == before
    email = preview.email
    assert email is not None
    assert email.recipients == ("jan@acme.example.nl",)
    assert "Spring campaign" in email.subject
    assert email.html is not None
    assert email.text
    sent = do(c, "ann", "marketeer", "send_info")
    assert sent.message_keys == (email.key,)


def test_an_edited_subject_and_text_are_sent_and_previewed_alike(campaign: Campaign) -> None:
    c = campaign
    walk(c, "call")
    edits: dict[str, Any] = {
        "subject": "About {{relation.name}}",
        "text": "Hello {{contact.first_name}}",
    }
    preview = campaigns.preview_step(c.ctx, "ann", c.acme, "send_info", role="marketeer", **edits)
    assert preview.email is not None
    assert preview.email.subject == "About Acme Installatietechniek B.V."
    assert preview.email.text.strip() == "Hello Jan"
    assert preview.email.html is None
    c.clock.advance(minutes=1)
    result = campaigns.perform_step(c.ctx, "ann", c.acme, "send_info", role="marketeer", **edits)
    with c.store.unit_of_work() as uow:
        (message,) = [m for m in uow.outbox.list() if m.key in result.message_keys]
    assert parse(message.payload["message"])["Subject"] == "About Acme Installatietechniek B.V."


@pytest.mark.parametrize(
    "edit",
    [
        {"subject": "Hi\r\nBcc: all@example.com"},
        {"subject": "  "},
        {"text": "{{contact.password}}"},
        {"text": "{{ unclosed"},
    ],
)
def test_defect_edits_that_fail_the_template_checks_are_refused(
    campaign: Campaign, edit: dict[str, Any]
) -> None:
    c = campaign
    walk(c, "call")
    before = snapshot(c.store, c.project.id)
    with pytest.raises(TemplateError):
        campaigns.perform_step(c.ctx, "ann", c.acme, "send_info", role="marketeer", **edit)
    with pytest.raises(TemplateError):
        campaigns.preview_step(c.ctx, "ann", c.acme, "send_info", role="marketeer", **edit)
    assert snapshot(c.store, c.project.id) == before


def test_preview_of_an_appointment_shows_the_invitation(campaign: Campaign) -> None:
    c = campaign
    walk(c, "call")
    preview = campaigns.preview_step(
        c.ctx,
        "ann",
        c.acme,
        "make_appointment",
        role="marketeer",
        appointment_start=c.clock.now() + timedelta(days=2),
    )
    email = preview.email
    assert email is not None
    assert "jan@acme.example.nl" in email.recipients
    assert any(mime == "text/calendar" for _name, mime in email.attachments)


def test_preview_refuses_what_perform_refuses(campaign: Campaign) -> None:
    c = campaign
    with pytest.raises(CrmError):
        campaigns.preview_step(c.ctx, "ann", c.acme, "send_info", role="marketeer")
    walk(c, "call")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(InvalidInput, match="appointment_start"):
            campaigns.preview_step(c.ctx, "ann", c.acme, "make_appointment", role="marketeer")


def test_the_docs_table_lists_every_template_field_with_its_meaning() -> None:
    from pathlib import Path

    from crm_procedures.procedures.templates import TEMPLATE_FIELDS

    docs = Path(__file__).resolve().parents[2] / "docs" / "procedures.md"
    table = docs.read_text(encoding="utf-8").split("## Template fields", 1)[1]
    rows = [line for line in table.splitlines() if line.startswith("| `{{")]
    assert [row.split("`")[1].strip("{}") for row in rows] == list(TEMPLATE_FIELDS)
    for row, meaning in zip(rows, TEMPLATE_FIELDS.values(), strict=True):
        assert meaning in row


@settings(max_examples=60, deadline=None)
@given(subject=st.text(max_size=40), text=st.text(max_size=80))
def test_any_edit_is_sent_as_rendered_or_refused_with_a_template_error(
    subject: str, text: str
) -> None:
    c = make_campaign(MemoryStore())
    walk(c, "call")
    before = snapshot(c.store, c.project.id)
    try:
        preview = campaigns.preview_step(
            c.ctx, "ann", c.acme, "send_info", role="marketeer", subject=subject, text=text
        )
    except (TemplateError, InvalidInput):
        assert snapshot(c.store, c.project.id) == before
        return
    assert snapshot(c.store, c.project.id) == before
    assert preview.email is not None
    assert preview.email.html is None
    if "{{" not in subject and "}}" not in subject:
        assert preview.email.subject.split() == subject.split()

"""The testing kit (X6): clock, builders, in-memory app, outbox assertions and the
pytest plugin's fixtures, used here the way a host application uses them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from crm_procedures.adapters.blobs import MemoryBlobStore
from crm_procedures.adapters.memory import MemoryStore
from crm_procedures.adapters.memory_mail import MemoryCalendar, MemoryMailer
from crm_procedures.errors import InvalidInput
from crm_procedures.model.activity import ActivityKind
from crm_procedures.model.dictionaries import Choice
from crm_procedures.model.prospect import ProspectStatus, RelationStage
from crm_procedures.ports import Store
from crm_procedures.procedures.procedure import Definitions
from crm_procedures.services import agenda, campaigns
from crm_procedures.services.app import CrmApp
from crm_procedures.testing import (
    BUILDER_TIME,
    FrozenClock,
    OutboxView,
    a_contact,
    a_dictionary,
    a_document,
    a_group,
    a_project,
    a_prospect,
    a_relation,
    a_user,
    a_visit_report,
    an_activity,
    an_appointment,
    assert_invitation,
    assert_no_messages,
    assert_sent,
    in_memory_app,
    invitations,
    reset_ids,
    sent_messages,
)

AMS = ZoneInfo("Europe/Amsterdam")

# -- the frozen clock ----------------------------------------------------------------


def test_frozen_clock_stands_still_until_moved() -> None:
    clock = FrozenClock()
    assert clock.now() == BUILDER_TIME == datetime(2026, 1, 5, 9, tzinfo=UTC)
    assert clock.now() == clock.now()
    assert clock.advance(hours=2) == BUILDER_TIME + timedelta(hours=2)
    assert clock.advance(timedelta(days=1)) == BUILDER_TIME + timedelta(days=1, hours=2)
    clock.set(datetime(2026, 3, 1, tzinfo=AMS))
    assert clock.now() == datetime(2026, 3, 1, tzinfo=AMS)


def test_frozen_clock_keeps_the_zone_it_was_given_across_a_dst_change() -> None:
    clock = FrozenClock(datetime(2026, 3, 28, 12, tzinfo=AMS))
    moved = clock.advance(hours=24)
    assert moved.tzinfo is AMS
    assert moved - datetime(2026, 3, 28, 12, tzinfo=AMS) == timedelta(hours=24)


def test_frozen_clock_refuses_naive_times_and_moving_backwards() -> None:
    with pytest.raises(InvalidInput):
        FrozenClock(datetime(2026, 1, 1))
    clock = FrozenClock()
    with pytest.raises(InvalidInput):
        clock.advance(minutes=-1)
    with pytest.raises(InvalidInput):
        clock.set(BUILDER_TIME - timedelta(seconds=1))
    with pytest.raises(InvalidInput):
        clock.set(datetime(2027, 1, 1))
    assert clock.now() == BUILDER_TIME


# -- builders --------------------------------------------------------------------------


def test_builders_number_ids_per_kind_and_start_again_after_reset() -> None:
    # The plugin resets the counters before each test, so this test sees 1 and 2.
    assert [a_relation().id, a_relation().id] == ["relation-1", "relation-2"]
    assert a_contact().id == "contact-1"
    reset_ids()
    assert a_relation().id == "relation-1"


def test_builders_take_overrides_and_validate_them() -> None:
    acme = a_relation(name="Acme B.V.", industry_code="4711")
    assert (acme.name, acme.industry_code) == ("Acme B.V.", "4711")
    jan = a_contact(relation_id=acme.id, last_name="Vries", name_prefix="de")
    assert jan.relation_id == acme.id
    assert jan.full_name.endswith("de Vries")
    meeting = an_activity(kind=ActivityKind.MEETING, relation_id=acme.id, contact_ids=[jan.id])
    assert meeting.kind is ActivityKind.MEETING
    assert meeting.contact_ids == (jan.id,)
    with pytest.raises(InvalidInput):
        a_relation(email="not an address")
    with pytest.raises(InvalidInput):
        an_appointment(start=BUILDER_TIME, end=BUILDER_TIME - timedelta(hours=1))


def test_every_builder_gives_a_valid_record_with_sensible_defaults() -> None:
    relation = a_relation()
    assert relation.addresses
    assert relation.email
    assert relation.kinds
    contact = a_contact(relation_id=relation.id)
    assert contact.email
    assert contact.initials
    assert contact.gender is not None
    project = a_project(relation_id=relation.id)
    assert project.start_date == BUILDER_TIME.date()
    prospect = a_prospect(project_id=project.id, relation_id=relation.id)
    assert (prospect.status, prospect.stage) == (ProspectStatus.PREPARING, RelationStage.SUSPECT)
    activity = an_activity(relation_id=relation.id)
    assert activity.start == BUILDER_TIME
    assert not activity.completed
    appointment = an_appointment()
    assert appointment.end - appointment.start == timedelta(hours=1)
    assert appointment.start == BUILDER_TIME + timedelta(days=1)
    report = a_visit_report(relation_id=relation.id)
    assert report.end is not None
    assert report.end > report.start
    user = a_user(groups={"sales"})
    assert user.email == f"{user.id}@example.com"
    assert user.active
    assert a_group(permissions={"report.read"}).permissions == {"report.read"}


def test_document_builder_describes_the_content_the_blob_store_holds() -> None:
    content = b"%PDF-1.4 signed agreement"
    blobs = MemoryBlobStore()
    digest = blobs.put(content)
    document = a_document(content, owner_kind="visit_report", owner_id="visit-report-7")
    assert document.sha256 == digest
    assert document.size == len(content)
    assert (document.owner_kind, document.owner_id) == ("visit_report", "visit-report-7")
    assert a_document().id == "document-2"


def test_dictionary_builder_keeps_the_given_order_and_checks_choices() -> None:
    channels = a_dictionary(
        "activity_channel", ["phone", "email", Choice("fax", "Fax", sort_order=9, active=False)]
    )
    assert [c.key for c in channels.choices] == ["phone", "email", "fax"]
    assert [c.key for c in channels.active()] == ["phone", "email"]
    channels.require("phone", "channel")
    with pytest.raises(InvalidInput):
        channels.require("fax", "channel")  # inactive: not for new records
    channels.require("fax", "channel", new=False)  # still valid on old ones
    with pytest.raises(InvalidInput):
        channels.require("pigeon", "channel")
    with pytest.raises(InvalidInput):
        a_dictionary(choices=["first", "first"])


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_built_records_can_be_stored_as_they_are(kind: str) -> None:
    store: Store
    if kind == "sqlite":
        from crm_procedures.adapters.sql import open_store

        store = open_store("sqlite://")
    else:
        store = MemoryStore()
    relation = a_relation()
    contact = a_contact(relation_id=relation.id)
    project = a_project(relation_id=relation.id)
    with store.unit_of_work() as uow:
        uow.groups.add(a_group(id="sales"))
        uow.users.add(a_user(id="user-1", groups={"sales"}))
        uow.relations.add(relation)
        uow.contacts.add(contact)
        uow.projects.add(project)
        uow.prospects.add(a_prospect(project_id=project.id, relation_id=relation.id))
        uow.activities.add(an_activity(relation_id=relation.id, contact_ids=[contact.id]))
        uow.appointments.add(an_appointment(relation_id=relation.id))
        uow.visit_reports.add(a_visit_report(relation_id=relation.id))
        uow.documents.add(a_document(owner_id=project.id))
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.relations.get(relation.id).name == relation.name
        assert uow.contacts.get(contact.id).email == contact.email
        assert uow.projects.get(project.id).name == project.name


# -- in_memory_app ---------------------------------------------------------------------


def test_in_memory_app_wires_every_port_to_its_memory_adapter() -> None:
    app = in_memory_app(language="nl", sender_email="sales@host.example")
    assert isinstance(app.store, MemoryStore)
    assert isinstance(app.mailer, MemoryMailer)
    assert isinstance(app.calendar, MemoryCalendar)
    assert isinstance(app.blobs, MemoryBlobStore)
    assert isinstance(app.clock, FrozenClock)
    assert app.ctx.language == "nl"
    assert app.ctx.sender_email == "sales@host.example"
    assert app.definitions is not None
    assert "standard" in app.definitions.procedures


def test_in_memory_app_uses_the_clock_it_is_given_and_refuses_unknown_settings() -> None:
    clock = FrozenClock(datetime(2026, 6, 1, 9, tzinfo=AMS))
    assert in_memory_app(clock=clock).ctx.now() == clock.now()
    with pytest.raises(InvalidInput, match="colour"):
        in_memory_app(colour="blue")


# -- outbox assertions, through the plugin's fixtures ----------------------------------


def start_campaign(app: CrmApp) -> str:
    """A released prospect of the standard procedure, with a contact that has e-mail."""
    with app.store.unit_of_work() as uow:
        uow.groups.add(a_group(id="team", permissions={"project.write", "prospect.write"}))
        uow.users.add(a_user(id="ann", groups={"team"}, roles={"marketeer"}))
        uow.users.add(a_user(id="cor", groups={"team"}, roles={"client"}))
        uow.relations.add(a_relation(id="client"))
        uow.relations.add(a_relation(id="mill"))
        uow.contacts.add(a_contact(id="jan", relation_id="mill", email="jan@mill.example"))
        uow.commit()
    project = campaigns.start_campaign(
        app.ctx,
        "ann",
        relation_id="client",
        name="Spring",
        procedure="standard",
        members={"client": ["cor"]},
    )
    (prospect,) = campaigns.add_prospects(app.ctx, "ann", project.id, [("mill", "jan")])
    campaigns.release(app.ctx, "ann", project.id)
    return prospect.id


def test_plugin_fixtures_share_one_app_clock_and_store(
    crm_app: CrmApp, crm_clock: FrozenClock, crm_store: Store, crm_outbox: OutboxView
) -> None:
    assert crm_app.clock is crm_clock
    assert crm_app.store is crm_store
    assert crm_outbox.app is crm_app
    assert len(crm_outbox) == 0
    crm_clock.advance(hours=3)
    assert crm_app.ctx.now() == BUILDER_TIME + timedelta(hours=3)


def test_assert_sent_finds_the_e_mail_and_dispatch_delivers_it(
    crm_app: CrmApp, crm_outbox: OutboxView
) -> None:
    prospect = start_campaign(crm_app)
    campaigns.perform_step(crm_app.ctx, "ann", prospect, "call", role="marketeer")
    assert_no_messages(crm_app)
    campaigns.perform_step(crm_app.ctx, "ann", prospect, "send_info", role="marketeer")
    (found,) = assert_sent(crm_app, to="JAN@mill.example", subject_contains="information", count=1)
    assert found.status == "pending"
    assert found.key
    assert_sent(crm_app, body_contains="Spring")
    assert crm_outbox.dispatch() == 1
    assert crm_outbox.messages[0].status == "delivered"
    assert isinstance(crm_app.mailer, MemoryMailer)
    assert len(crm_app.mailer.sent) == 1
    # Recorded in the outbox and delivered by the mailer: counted once.
    assert len(sent_messages(crm_app)) == 1
    assert crm_outbox.dispatch() == 0


def test_a_failing_assertion_lists_what_was_sent(crm_app: CrmApp) -> None:
    with pytest.raises(AssertionError, match="no e-mail at all was sent"):
        assert_sent(crm_app, to="jan@mill.example")
    prospect = start_campaign(crm_app)
    campaigns.perform_step(crm_app.ctx, "ann", prospect, "call", role="marketeer")
    campaigns.perform_step(crm_app.ctx, "ann", prospect, "send_info", role="marketeer")
    with pytest.raises(AssertionError) as wrong_address:
        assert_sent(crm_app, to="piet@mill.example")
    assert "1 e-mail(s) sent" in str(wrong_address.value)
    assert "jan@mill.example" in str(wrong_address.value)
    with pytest.raises(AssertionError, match="expected 2 e-mail"):
        assert_sent(crm_app, to="jan@mill.example", count=2)
    with pytest.raises(AssertionError, match=r"expected no e-mail to 'jan@mill\.example'"):
        assert_no_messages(crm_app, to="jan@mill.example")
    assert_no_messages(crm_app, to="piet@mill.example")


def test_assert_invitation_follows_an_appointment_through_update_and_cancel(
    crm_app: CrmApp, crm_clock: FrozenClock
) -> None:
    prospect = start_campaign(crm_app)
    campaigns.perform_step(crm_app.ctx, "ann", prospect, "call", role="marketeer")
    start = crm_clock.now() + timedelta(days=3)
    result = campaigns.perform_step(
        crm_app.ctx,
        "ann",
        prospect,
        "make_appointment",
        role="marketeer",
        appointment_start=start,
    )
    appointment = result.appointment
    assert appointment is not None
    first = assert_invitation(crm_app, uid=appointment.uid, sequence=0, to="jan@mill.example")
    assert first.method == "REQUEST"
    with pytest.raises(AssertionError, match="1 invitation"):
        assert_invitation(crm_app, uid=appointment.uid, sequence=1)

    crm_clock.advance(minutes=5)  # messages recorded at one instant have no set order
    agenda.reschedule(
        crm_app.ctx,
        appointment.employee,
        appointment.id,
        start + timedelta(hours=2),
        start + timedelta(hours=3),
        allow_conflicts=True,
    )
    assert_invitation(crm_app, uid=appointment.uid, sequence=1)
    crm_clock.advance(minutes=5)
    agenda.cancel(crm_app.ctx, appointment.employee, appointment.id)
    cancelled = assert_invitation(crm_app, uid=appointment.uid, method="CANCEL")
    assert cancelled.sequence >= 1
    assert [i.method for i in invitations(crm_app)] == ["REQUEST", "REQUEST", "CANCEL"]


def test_assertions_read_a_store_or_a_mailer_as_well_as_an_app(
    crm_app: CrmApp, crm_outbox: OutboxView
) -> None:
    prospect = start_campaign(crm_app)
    campaigns.perform_step(crm_app.ctx, "ann", prospect, "call", role="marketeer")
    campaigns.perform_step(crm_app.ctx, "ann", prospect, "send_info", role="marketeer")
    assert_sent(crm_app.store, to="jan@mill.example")
    assert_no_messages(crm_app.mailer)  # not dispatched yet
    crm_outbox.dispatch()
    assert_sent(crm_app.mailer, to="jan@mill.example", count=1)
    with pytest.raises(TypeError):
        sent_messages(object())


class TestOverridingTheDefinitions:
    """A host overrides ``crm_definitions`` and ``crm_clock``; ``crm_app`` follows."""

    @pytest.fixture
    def crm_definitions(self) -> Definitions:
        from crm_procedures.procedures.standard import standard_definitions

        return standard_definitions()

    @pytest.fixture
    def crm_clock(self) -> FrozenClock:
        return FrozenClock(datetime(2026, 6, 1, 9, tzinfo=AMS))

    def test_crm_app_runs_the_overridden_definitions_and_clock(
        self, crm_app: CrmApp, crm_definitions: Definitions
    ) -> None:
        assert crm_app.definitions is crm_definitions
        assert crm_app.ctx.now() == datetime(2026, 6, 1, 9, tzinfo=AMS)

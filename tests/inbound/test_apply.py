"""Applying received mail to a campaign: replies, bounces, calendar answers, unsubscribes (I1)."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_string
from email import policy as email_policy
from pathlib import Path
from typing import Any

import attrs
import pytest

from crm_procedures.access.viewer import Viewer
from crm_procedures.adapters.blobs import MemoryBlobStore
from crm_procedures.adapters.inbox_folder import FolderInbox
from crm_procedures.errors import CapabilityMissing, InvalidInput, Suppressed
from crm_procedures.inbound.samples import (
    auto_reply_to,
    bounce_of,
    calendar_reply_to,
    reply_to,
)
from crm_procedures.inbound.unsubscribe import sign_unsubscribe_token
from crm_procedures.model.inbound import SuppressionReason, UnmatchedStatus
from crm_procedures.procedures.events import (
    APPOINTMENT_DECLINED,
    BOUNCE,
    EMAIL_SKIPPED,
    REPLY,
    UNSUBSCRIBE,
    Event,
)
from crm_procedures.services import campaigns
from crm_procedures.services.context import SYSTEM_USER
from crm_procedures.services.inbound import (
    inbound_of,
    is_suppressed,
    process_inbox,
    resolve,
    unmatched_messages,
    unsubscribe,
    unsuppress,
)
from integration.campaign import Campaign, make_campaign, open_test_store

SECRET = b"0123456789abcdef0123456789abcdef"
CONTACT = "jan@acme.example.nl"


@pytest.fixture(params=["memory", "sqlite"])
def c(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    store = open_test_store(request.param, tmp_path)
    campaign = make_campaign(store)
    campaign.ctx = attrs.evolve(
        campaign.ctx,
        blobs=MemoryBlobStore(),
        unsubscribe_url="https://crm.example.com/unsubscribe",
        unsubscribe_secret=SECRET,
    )
    events: list[Event] = []
    campaign.ctx.on_event = events.append
    try:
        yield campaign, events
    finally:
        store.close()


def step(c: Campaign, name: str, actor: str = "ann", role: str = "marketeer") -> Any:
    c.clock.advance(minutes=1)
    return campaigns.perform_step(
        c.ctx,
        actor,
        c.acme,
        name,
        role=role,
        appointment_start=c.clock.now() + timedelta(days=2),
    )


def sent_info(c: Campaign) -> Any:
    """Call, then send the information e-mail; the parsed e-mail."""
    step(c, "call")
    step(c, "send_info")
    with c.store.unit_of_work() as uow:
        (message,) = uow.outbox.list()
    return message_from_string(message.payload["message"], policy=email_policy.default)


def drop(folder: Path, name: str, raw: bytes) -> FolderInbox:
    folder.mkdir(exist_ok=True)
    (folder / name).write_bytes(raw)
    return FolderInbox(folder)


def test_campaign_email_carries_one_click_unsubscribe(c: Any) -> None:
    campaign, _ = c
    mail = sent_info(campaign)
    assert str(mail["List-Unsubscribe"]).startswith("<https://crm.example.com/unsubscribe?token=")
    assert str(mail["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"


def test_reply_is_linked_to_the_prospect_and_raises_reply(c: Any, tmp_path: Path) -> None:
    campaign, events = c
    mail = sent_info(campaign)
    raw = reply_to(
        str(mail["Message-ID"]),
        sender=CONTACT,
        to="campaigns@example.com",
        body="Yes, please call me on Thursday.",
        message_id="<r1@acme.example.nl>",
        date=campaign.clock.now(),
    )
    run = process_inbox(campaign.ctx, drop(tmp_path / "in", "001.eml", raw))
    assert (run.fetched, run.applied, run.kept) == (1, 1, 0)
    assert [e.name for e in events] == [REPLY]
    assert events[0].prospect_id == campaign.acme
    with campaign.store.unit_of_work() as uow:
        activity = uow.activities.get(events[0].detail["activity_id"])
        assert activity.subject.startswith("Reply: ")
        assert "Thursday" in activity.note
        assert activity.employee == "ann"
        (document,) = uow.documents.of_owner("activity", activity.id)
        assert document.kind == "email"
        stored = inbound_of(uow).events.of_prospect(campaign.acme)
        assert [e.name for e in stored] == [REPLY]


def test_auto_reply_is_linked_without_an_event(c: Any, tmp_path: Path) -> None:
    campaign, events = c
    mail = sent_info(campaign)
    raw = auto_reply_to(
        str(mail["Message-ID"]),
        sender=CONTACT,
        to="campaigns@example.com",
        message_id="<ooo@acme.example.nl>",
        date=campaign.clock.now(),
    )
    run = process_inbox(campaign.ctx, drop(tmp_path / "in", "001.eml", raw))
    assert run.applied == 1
    assert events == []
    with campaign.store.unit_of_work() as uow:
        found = uow.activities.of_project(campaign.project.id, Viewer.system(), limit=100)
        assert any(a.outcome == "auto_reply" for a in found)


def test_message_read_twice_is_applied_once(c: Any, tmp_path: Path) -> None:
    campaign, events = c
    mail = sent_info(campaign)
    raw = reply_to(
        str(mail["Message-ID"]),
        sender=CONTACT,
        to="campaigns@example.com",
        body="Twice?",
        message_id="<twice@acme.example.nl>",
        date=campaign.clock.now(),
    )
    inbox = drop(tmp_path / "in", "001.eml", raw)
    drop(tmp_path / "in", "002.eml", raw)  # the same message delivered again
    first = process_inbox(campaign.ctx, inbox)
    assert (first.applied, first.already) == (1, 1)
    # A poller that lost its position (killed before storing it) reads both again.
    with campaign.store.unit_of_work() as uow:
        pos = inbound_of(uow).inbound.position("default")
        assert pos is not None
        assert pos.cursor.endswith("002.eml")
    again = process_inbox(campaign.ctx, inbox, name="other")
    assert (again.applied, again.already) == (0, 2)
    assert [e.name for e in events] == [REPLY]
    assert process_inbox(campaign.ctx, inbox).fetched == 0


def test_hard_bounce_suppresses_the_address_and_refuses_the_next_step(
    c: Any, tmp_path: Path
) -> None:
    campaign, events = c
    mail = sent_info(campaign)
    raw = bounce_of(
        str(mail["Message-ID"]),
        recipient=CONTACT,
        to="campaigns@example.com",
        message_id="<dsn1@mail.example.com>",
        date=campaign.clock.now(),
    )
    process_inbox(campaign.ctx, drop(tmp_path / "in", "001.eml", raw))
    assert [e.name for e in events] == [BOUNCE]
    assert events[0].detail["hard"] == "yes"
    with campaign.store.unit_of_work() as uow:
        assert is_suppressed(uow, CONTACT.upper())
        status = inbound_of(uow).inbound.address(CONTACT)
        assert status is not None
        assert status.suppressed is SuppressionReason.HARD_BOUNCE
    step(campaign, "call_back")
    with pytest.raises(Suppressed, match="bounced permanently"):
        step(campaign, "send_info")
    # An automatic step sends nothing and records the skip.
    campaign.clock.advance(minutes=1)
    result = campaigns.perform_step(
        campaign.ctx, SYSTEM_USER, campaign.acme, "send_info", role="marketeer"
    )
    assert result.message_keys == ()
    with campaign.store.unit_of_work() as uow:
        names = [e.name for e in inbound_of(uow).events.of_prospect(campaign.acme)]
        assert names == [BOUNCE, EMAIL_SKIPPED]
    unsuppress(campaign.ctx, "pia", CONTACT)
    with campaign.store.unit_of_work() as uow:
        assert not is_suppressed(uow, CONTACT)


def test_soft_bounces_are_counted_up_to_the_limit(c: Any, tmp_path: Path) -> None:
    campaign, _ = c
    mail = sent_info(campaign)
    folder = tmp_path / "in"
    for n in range(1, 4):
        raw = bounce_of(
            str(mail["Message-ID"]),
            recipient=CONTACT,
            to="campaigns@example.com",
            message_id=f"<soft{n}@mail.example.com>",
            date=campaign.clock.now(),
            hard=False,
        )
        process_inbox(campaign.ctx, drop(folder, f"{n:03d}.eml", raw))
        with campaign.store.unit_of_work() as uow:
            status = inbound_of(uow).inbound.address(CONTACT)
            assert status is not None
            assert status.soft_failures == n
            assert is_suppressed(uow, CONTACT) == (n >= 3)


def test_calendar_answers_record_activities_and_decline_raises_an_event(
    c: Any, tmp_path: Path
) -> None:
    campaign, events = c
    step(campaign, "call")
    result = step(campaign, "make_appointment")
    appointment = result.appointment
    assert appointment is not None
    folder = tmp_path / "in"
    for n, partstat in enumerate(["ACCEPTED", "DECLINED"], start=1):
        raw = calendar_reply_to(
            appointment.uid,
            sequence=appointment.sequence,
            attendee=CONTACT,
            organizer="campaigns@example.com",
            partstat=partstat,
            message_id=f"<cal{n}@acme.example.nl>",
            date=campaign.clock.now(),
            comment="Sorry, on holiday" if partstat == "DECLINED" else None,
        )
        drop(folder, f"{n:03d}.eml", raw)
    run = process_inbox(campaign.ctx, FolderInbox(folder))
    assert run.applied == 2
    assert [e.name for e in events] == [APPOINTMENT_DECLINED]
    assert events[0].prospect_id == campaign.acme
    assert events[0].detail["comment"] == "Sorry, on holiday"
    with campaign.store.unit_of_work() as uow:
        found = uow.activities.of_project(campaign.project.id, Viewer.system(), limit=100)
        outcomes = sorted(a.outcome or "" for a in found if a.appointment_id == appointment.id)
        assert "accepted" in outcomes
        assert "declined" in outcomes


def test_unmatched_message_is_kept_and_resolved_by_a_person(c: Any, tmp_path: Path) -> None:
    campaign, events = c
    raw = reply_to(
        "<never-sent@example.com>",
        sender="someone@else.example",
        to="campaigns@example.com",
        body="Who are you?",
        message_id="<stray@else.example>",
        date=campaign.clock.now(),
    )
    run = process_inbox(campaign.ctx, drop(tmp_path / "in", "001.eml", raw))
    assert run.kept == 1
    assert events == []
    (kept,) = unmatched_messages(campaign.ctx, "pia")
    assert kept.sender == "someone@else.example"
    assert "Who are you?" in kept.body
    linked = resolve(campaign.ctx, "pia", kept.id, prospect_id=campaign.acme)
    assert linked.status is UnmatchedStatus.LINKED
    assert unmatched_messages(campaign.ctx, "pia") == []
    with pytest.raises(InvalidInput, match="linked already"):
        resolve(campaign.ctx, "pia", kept.id, dismiss=True)


def test_unsubscribe_token_suppresses_and_raises_the_event_once(c: Any) -> None:
    campaign, events = c
    token = sign_unsubscribe_token(SECRET, "c-acme", campaign.project.id, campaign.clock.now())
    event = unsubscribe(campaign.ctx, token)
    assert (event.name, event.prospect_id) == (UNSUBSCRIBE, campaign.acme)
    unsubscribe(campaign.ctx, token)
    assert [e.name for e in events] == [UNSUBSCRIBE]
    step(campaign, "call")
    with pytest.raises(Suppressed, match="unsubscribed"):
        step(campaign, "send_info")


def test_store_without_the_capability_is_told_so(tmp_path: Path) -> None:
    class Bare:
        pass

    with pytest.raises(CapabilityMissing, match="inbound"):
        inbound_of(Bare())  # type: ignore[arg-type]

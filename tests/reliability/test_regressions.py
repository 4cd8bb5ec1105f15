"""Regression tests of defects the reliability suite found, each named after its defect."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from crm_procedures.access.viewer import Viewer
from crm_procedures.adapters.memory import MemoryStore
from crm_procedures.adapters.memory_mail import MemoryMailer
from crm_procedures.errors import DefinitionError, InvalidInput
from crm_procedures.ids import AppointmentId, UserId
from crm_procedures.model._checks import require_aware
from crm_procedures.model.appointment import Appointment
from crm_procedures.model.outbox import DeliveryOutcome, OutboxStatus
from crm_procedures.procedures.definitions import load_definitions
from crm_procedures.services import campaigns
from crm_procedures.services.imports import import_suspects
from crm_procedures.services.messages import build_email, outbox_message_for_email
from crm_procedures.services.outbox import dispatch_once
from crm_procedures.testing.clock import FrozenClock
from reliability.world import AMS, MEMBERS, T0, context, fixed_id, setup_people


def test_release_with_a_repeated_prospect_id_raised_a_concurrency_conflict() -> None:
    store = MemoryStore()
    setup_people(store)
    ctx = context(store)
    project = campaigns.start_campaign(
        ctx,
        "pia",
        relation_id="client",
        name="Campaign",
        procedure="standard",
        members={r: list(u) for r, u in MEMBERS.items()},
    )
    import_suspects(ctx, "pia", project.id, [{"name": "Alpha Works"}, {"name": "Beta Trade"}])
    with store.unit_of_work() as uow:
        first, second = uow.prospects.of_project(project.id, Viewer.system())

    assert campaigns.release(ctx, "pia", project.id, [first.id, first.id]) == 1

    with store.unit_of_work() as uow:
        again = uow.prospects.get(first.id)
        untouched = uow.prospects.get(second.id)
    assert again.status.value == "running"
    assert [e.detail for e in again.history] == ["running"]
    assert again.version == 2
    assert untouched.status.value == "preparing"


class _SlowMailer(MemoryMailer):
    """Each send takes (on the clock) longer than the whole lease."""

    def __init__(self, clock: FrozenClock) -> None:
        super().__init__()
        self.clock = clock

    def send_to(self, message: Any, recipients: Sequence[str]) -> DeliveryOutcome:
        outcome = super().send_to(message, recipients)
        self.clock.advance(seconds=90)
        return outcome


def test_dispatch_delivered_messages_after_their_lease_had_expired() -> None:
    store = MemoryStore()
    clock = FrozenClock(T0)
    with store.unit_of_work() as uow:
        for n in range(3):
            key = f"lease:{n}:mail"
            msg = build_email(
                sender="crm@example.com",
                to="someone@example.nl",
                subject=f"Message {n}",
                text="Hello",
                key=key,
                date=T0,
            )
            uow.outbox.add(outbox_message_for_email(msg, key, T0, fixed_id(f"m{n}")))
        uow.commit()
    mailer = _SlowMailer(clock)

    first = dispatch_once(store, clock, mailer=mailer, lease_seconds=60)

    # Each send renews its own lease first (the fence): as nobody claimed the
    # later messages meanwhile, they are still this dispatcher's to send.
    assert (first.claimed, first.delivered, first.lost_leases) == (3, 3, 0)
    with store.unit_of_work() as uow:
        assert uow.outbox.list(status=OutboxStatus.PENDING) == []
        assert [m.attempts for m in uow.outbox.list()] == [1, 1, 1]
    clock.advance(timedelta(minutes=5))
    while dispatch_once(store, clock, mailer=mailer, lease_seconds=60).claimed:
        clock.advance(timedelta(minutes=5))
    assert len(mailer.sent) == 3
    assert mailer.duplicates == 0


def test_a_wall_time_in_the_daylight_saving_gap_was_accepted() -> None:
    gap = datetime(2026, 3, 29, 2, 30, tzinfo=AMS)
    with pytest.raises(InvalidInput, match="does not exist"):
        Appointment(
            id=AppointmentId("a"),
            employee=UserId("cor"),
            start=gap,
            end=gap + timedelta(hours=1),
            title="Visit",
            uid="a@example.com",
        )
    # Either side of the gap, and both readings of the repeated autumn hour, stay valid.
    for ok in (
        datetime(2026, 3, 29, 1, 59, tzinfo=AMS),
        datetime(2026, 3, 29, 3, 0, tzinfo=AMS),
        datetime(2026, 10, 25, 2, 30, fold=0, tzinfo=AMS),
        datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=AMS),
    ):
        assert require_aware(ok, "start") is ok


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("deep.json", "[" * 20_000 + "]" * 20_000),
        ("deep.toml", "a = " + "[" * 20_000 + "]" * 20_000),
    ],
)
def test_deeply_nested_definitions_files_raised_recursion_error(
    tmp_path: Path, name: str, text: str
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DefinitionError) as caught:
        load_definitions(path)
    assert [f.code for f in caught.value.findings] == ["syntax"]

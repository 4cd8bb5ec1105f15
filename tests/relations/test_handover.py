"""Hand-over in one call when an employee leaves (P3, V5), on every store."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crm_procedures.errors import AccessDenied, InvalidInput
from crm_procedures.ids import (
    ActivityId,
    AppointmentId,
    ProjectId,
    ProspectId,
    RelationId,
    UserId,
)
from crm_procedures.model.activity import Activity, ActivityKind
from crm_procedures.model.appointment import Appointment, Attendee
from crm_procedures.model.prospect import Prospect
from crm_procedures.services import visits
from crm_procedures.services.handover import hand_over

from .conftest import T0, World

ANNA = UserId("u-anna")


def _work_of_anna(world: World) -> None:
    with world.store.unit_of_work() as uow:
        for aid, done in (("A-open", None), ("A-done", T0 - timedelta(days=1))):
            uow.activities.add(
                Activity(
                    ActivityId(aid),
                    ActivityKind.TASK,
                    ANNA,
                    subject=aid,
                    due=T0 + timedelta(days=2),
                    completed_at=done,
                    created_at=T0 - timedelta(days=3),
                )
            )
        for apid, start in (
            ("AP-next", T0 + timedelta(days=1)),
            ("AP-past", T0 - timedelta(days=1)),
        ):
            uow.appointments.add(
                Appointment(
                    AppointmentId(apid),
                    ANNA,
                    start,
                    start + timedelta(hours=1),
                    "Visit",
                    uid=f"{apid}@example.com",
                    attendees=(Attendee("klant@example.com", "Klant"),),
                )
            )
        uow.prospects.add(
            Prospect(ProspectId("PR-1"), ProjectId("P-1"), RelationId("R-2"), owner=ANNA)
        )
        uow.prospects.add(Prospect(ProspectId("PR-2"), ProjectId("P-1"), RelationId("R-1")))
        uow.commit()
    visits.create_visit_report(
        world.ctx,
        "u-boss",
        designation="Visit",
        relation_id="R-1",
        start=T0 - timedelta(days=5),
        end=T0 - timedelta(days=5, hours=-1),
        account_manager="u-anna",
    )


def test_the_open_work_moves_in_one_call_and_history_stays(world: World) -> None:
    _work_of_anna(world)
    done = hand_over(world.ctx, "u-boss", "u-anna", "u-bob")
    assert done.activities == ("A-open",)
    assert done.appointments == ("AP-next",)
    assert len(done.invitations) == 1
    assert done.prospects == ("PR-1",)
    assert done.relations == ("R-1",)
    assert len(done.visit_reports) == 1
    with world.store.unit_of_work(read_only=True) as uow:
        assert uow.activities.get("A-open").employee == "u-bob"
        assert uow.activities.get("A-done").employee == "u-anna"  # history stays
        moved = uow.appointments.get("AP-next")
        assert (moved.employee, moved.sequence, moved.uid) == ("u-bob", 1, "AP-next@example.com")
        assert uow.appointments.get("AP-past").employee == "u-anna"
        assert uow.prospects.get("PR-1").owner == "u-bob"
        assert uow.prospects.get("PR-2").owner is None
        assert uow.relations.get("R-1").account_manager == "u-bob"
        assert uow.visit_reports.get(done.visit_reports[0]).account_manager == "u-bob"
        (message,) = [m for m in uow.outbox.list() if m.key == done.invitations[0]]
        assert [c.action for c in uow.audit.of_record("activity", "A-open")] == ["hand-over"]
        assert uow.audit.of_record("prospect", "PR-1")[-1].changes == {"owner": ("u-anna", "u-bob")}
    assert message.status == "pending"


def test_hand_over_is_refused_without_rights_or_to_nobody(world: World) -> None:
    _work_of_anna(world)
    before = world.dump()
    with pytest.raises(AccessDenied):
        hand_over(world.ctx, "u-anna", "u-anna", "u-bob")
    with pytest.raises(InvalidInput, match="differ"):
        hand_over(world.ctx, "u-boss", "u-anna", "u-anna")
    with pytest.raises(InvalidInput, match="to_user"):
        hand_over(world.ctx, "u-boss", "u-anna", "u-ghost")
    with pytest.raises(InvalidInput, match="from_user"):
        hand_over(world.ctx, "u-boss", "u-ghost", "u-bob")
    assert world.dump() == before

"""P2 / P7: a meeting has named participants, a time frame and a place; put in the agenda
(P5 "add to the employee's agenda"), its participants are on the appointment and invited.
On memory, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import attrs

from crm_procedures.model.activity import ActivityKind
from crm_procedures.services import activities
from records.builders import T0, World


def test_defect_meeting_participants_are_left_out_of_its_appointment(records: World) -> None:
    w = records
    with w.store.unit_of_work() as uow:
        for uid in ("u-anna", "u-bob"):
            user = uow.users.get(uid)
            uow.users.save(attrs.evolve(user, email=f"{uid[2:]}@crm.example.com"))
        uow.commit()
    meeting = activities.create_meeting(
        w.ctx,
        "u-anna",
        relation_id="R-1",
        contact_ids=["C-1"],
        participants=["u-bob"],
        subject="Oven demo",
        place="Dorpsstraat 1, Utrecht",
        start=T0 + timedelta(days=1),
        end=T0 + timedelta(days=1, hours=2),
        settings=w.settings,
    )
    assert meeting.kind is ActivityKind.MEETING
    assert meeting.participants == ("u-bob",)
    entry = activities.add_to_agenda(w.ctx, "u-anna", meeting.id, settings=w.settings)
    appointment = entry.appointment
    assert (appointment.employee, appointment.participants) == ("u-anna", ("u-bob",))
    assert (appointment.start, appointment.end) == (meeting.start, meeting.end)
    assert appointment.location == "Dorpsstraat 1, Utrecht"
    assert "bob@crm.example.com" in {a.email for a in appointment.attendees}
    with w.store.unit_of_work(read_only=True) as uow:
        assert uow.appointments.get(appointment.id).participants == ("u-bob",)

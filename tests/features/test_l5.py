"""L5: around a project, its agenda: the appointments made from the project, in the agendas
of the employees concerned, listed with the project (Logic4's "Agenda" tab), for whoever may
see the project. On memory, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crm_procedures.errors import InvalidInput, NotFound
from crm_procedures.services import agenda, projects
from records.builders import T0, World

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def book(w: World, employee: str, start_in: timedelta, project_id: str | None, **kw: object) -> str:
    """An appointment of ``employee`` ``start_in`` after T0, booked by the manager."""
    result = agenda.book_appointment(
        w.ctx,
        "u-boss",
        employee=employee,
        start=T0 + start_in,
        end=T0 + start_in + HOUR,
        title=f"{employee} {start_in}",
        project_id=project_id,
        relation_id="R-1",
        **kw,  # type: ignore[arg-type]
    )
    return result.appointment.id


def test_l5_a_projects_agenda_lists_its_appointments_whoever_has_them(records: World) -> None:
    w = records
    ovens = projects.create_project(w.ctx, "u-boss", relation_id="R-1", name="Ovens").id
    other = projects.create_project(w.ctx, "u-boss", relation_id="R-1", name="Other").id
    anna = book(w, "u-anna", DAY, ovens)
    bob = book(w, "u-bob", DAY + 2 * HOUR, ovens)
    weekly = book(w, "u-carla", -14 * DAY, ovens, rrule="FREQ=WEEKLY;COUNT=10")
    gone = book(w, "u-bob", 2 * DAY, ovens)
    book(w, "u-anna", 3 * DAY, other)
    book(w, "u-anna", 4 * DAY, None)
    agenda.cancel(w.ctx, "u-boss", gone)

    week = agenda.project_agenda(w.ctx, "u-anna", ovens, T0, T0 + 7 * DAY)
    # By start; the series once per week it meets; cancelled, other projects' and
    # unlinked appointments left out.
    assert [(o.appointment.id, o.start) for o in week] == [
        (weekly, T0),
        (anna, T0 + DAY),
        (bob, T0 + DAY + 2 * HOUR),
    ]
    # Each is in its own employee's agenda as well.
    bobs = agenda.agenda(w.ctx, "u-boss", "u-bob", T0, T0 + 7 * DAY)
    assert [o.appointment.id for o in bobs] == [bob]
    assert agenda.project_agenda(w.ctx, "u-anna", other, T0 + 4 * DAY, T0 + 5 * DAY) == []


def test_l5_a_restricted_projects_agenda_is_not_found_for_outsiders(records: World) -> None:
    w = records
    ovens = projects.create_project(w.ctx, "u-boss", relation_id="R-1", name="Ovens").id
    book(w, "u-anna", DAY, ovens)
    projects.link_project(w.ctx, "u-boss", ovens, users=["u-anna"])
    assert len(agenda.project_agenda(w.ctx, "u-anna", ovens, T0, T0 + 2 * DAY)) == 1
    with pytest.raises(NotFound):
        agenda.project_agenda(w.ctx, "u-bob", ovens, T0, T0 + 2 * DAY)
    with pytest.raises(NotFound):
        agenda.project_agenda(w.ctx, "u-anna", "no-such-project", T0, T0 + 2 * DAY)
    with pytest.raises(InvalidInput, match="before start"):
        agenda.project_agenda(w.ctx, "u-anna", ovens, T0 + DAY, T0)
    with pytest.raises(InvalidInput, match="timezone-aware"):
        agenda.project_agenda(w.ctx, "u-anna", ovens, T0.replace(tzinfo=None), T0 + DAY)

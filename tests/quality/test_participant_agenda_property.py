"""Property: a store's agenda of a user is their own appointments and those they take part in.

For any set of appointments (participants repeated, the employee among them,
cancelled ones, series) and any change of participants afterwards, each
user's ``appointments.agenda`` on memory and SQLite equals what the records
say: the confirmed appointments whose employee is the user or whose
participants name them, overlapping the period (a series once when its first
occurrence starts before the end), by start and id.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_procedures.adapters.memory import MemoryStore
from crm_procedures.adapters.sql import open_store
from crm_procedures.adapters.sql import schema as s
from crm_procedures.ids import AppointmentId, UserId
from crm_procedures.model.appointment import Appointment, AppointmentStatus

USERS = ("ann", "bob", "cor", "dan")
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@st.composite
def appointments(draw: st.DrawFn) -> list[tuple[Appointment, tuple[str, ...] | None]]:
    """Appointments, each with the participants it is saved with later (None: not saved)."""
    out = []
    for i in range(draw(st.integers(0, 8))):
        start = T0 + draw(st.integers(-48, 48)) * HOUR
        appointment = Appointment(
            AppointmentId(f"ap{i}"),
            employee=UserId(draw(st.sampled_from(USERS))),
            start=start,
            end=start + draw(st.integers(1, 30)) * HOUR,
            title="Meeting",
            uid=f"ap{i}@example.com",
            participants=draw(st.lists(st.sampled_from(USERS), max_size=5)),
            status=draw(st.sampled_from(list(AppointmentStatus))),
            rrule=draw(st.sampled_from([None, "FREQ=DAILY;COUNT=3"])),
        )
        later = draw(st.one_of(st.none(), st.lists(st.sampled_from(USERS), max_size=3)))
        out.append((appointment, None if later is None else tuple(later)))
    return out


def expected(records: list[Appointment], user: str, lo: datetime, hi: datetime) -> list[str]:
    found = [
        a
        for a in records
        if (a.employee == user or user in a.participants)
        and a.status is AppointmentStatus.CONFIRMED
        and a.start < hi
        and (a.rrule is not None or a.end > lo)
    ]
    return [a.id for a in sorted(found, key=lambda a: (a.start, a.id))]


@pytest.fixture(params=["memory", "sqlite"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A maker of empty stores (one SQLite file, emptied for each example)."""
    if request.param == "memory":
        yield MemoryStore
        return
    store = open_store(f"sqlite:///{tmp_path / 'agenda.db'}")

    def empty() -> Any:
        s.reset_data(store.engine)
        return store

    try:
        yield empty
    finally:
        store.close()


# The fixture is a maker: each example asks it for an empty store.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    drawn=appointments(),
    lo_hours=st.integers(-60, 60),
    length=st.integers(0, 72),
)
def test_an_agenda_is_own_appointments_and_those_taken_part_in(
    make_store: Any,
    drawn: list[tuple[Appointment, tuple[str, ...] | None]],
    lo_hours: int,
    length: int,
) -> None:
    store = make_store()
    with store.unit_of_work() as uow:
        uow.appointments.add_many([a for a, _ in drawn])
        uow.commit()
    current = []
    with store.unit_of_work() as uow:
        for appointment, later in drawn:
            stored = uow.appointments.get(appointment.id)
            if later is not None:
                stored = uow.appointments.save(attrs.evolve(stored, participants=later))
            current.append(stored)
        uow.commit()
    lo = T0 + lo_hours * HOUR
    hi = lo + length * HOUR
    with store.unit_of_work(read_only=True) as uow:
        for user in USERS:
            found = [a.id for a in uow.appointments.agenda(user, lo, hi)]
            assert found == expected(current, user, lo, hi), user

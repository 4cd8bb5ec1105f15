"""The SQL store's appointment queries: an agenda, a project's agenda, the participants.

``agenda`` selects the confirmed appointments in a period of one employee: those
in their own agenda (``ix_appointments_agenda``) and those they take part in
(``appointment_participants``, migration 10, through its index on
``(user_id, appointment_id)``). ``of_project`` selects a project's confirmed
appointments in a period (L5: the project's agenda, whoever's agenda each is
in) over ``ix_appointments_project`` (migration 10).

The participant rows follow every write of an appointment:
:func:`write_participants` replaces an appointment's rows with the users its
``participants`` name (its employee and repeated names left out).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, or_, select, true

from crm_procedures.adapters._common import some_unstorable, utc_us
from crm_procedures.adapters.sql import schema as s
from crm_procedures.model._checks import require_aware
from crm_procedures.model.appointment import Appointment, AppointmentStatus

__all__ = ["agenda", "of_project", "participant_rows", "write_participants"]

_A = s.appointments.c
_P = s.appointment_participants.c


def _in_period(start: datetime, end: datetime) -> list[ColumnElement[bool]]:
    lo = utc_us(require_aware(start, "start"))
    hi = utc_us(require_aware(end, "end"))
    return [
        _A.start_key < hi,
        _A.status == AppointmentStatus.CONFIRMED.value,
        or_(_A.recurring == true(), _A.end_key > lo),
    ]


def agenda(
    select_data: Select[Any], employee: str, start: datetime, end: datetime
) -> Select[Any] | None:
    """The statement selecting ``employee``'s confirmed appointments overlapping [start, end).

    Their own and those they take part in, each once, ordered by start.
    ``None`` when ``employee`` cannot be stored (no appointment names them).
    """
    period = _in_period(start, end)
    if some_unstorable(employee):
        return None
    taking_part = select(_P.appointment_id).where(_P.user_id == employee)
    return select_data.where(
        or_(_A.employee == employee, _A.id.in_(taking_part)), *period
    ).order_by(_A.start_key, _A.id)


def of_project(
    select_data: Select[Any], project_id: str, start: datetime, end: datetime
) -> Select[Any] | None:
    """The statement selecting the project's confirmed appointments overlapping [start, end).

    ``select_data`` selects the data column of the appointments table; the
    result is ordered by start. ``None`` when ``project_id`` cannot be stored
    (no appointment has it).
    """
    period = _in_period(start, end)
    if some_unstorable(project_id):
        return None
    return select_data.where(_A.project_id == project_id, *period).order_by(_A.start_key, _A.id)


def participant_rows(records: Sequence[Appointment]) -> list[tuple[str, str]]:
    """The ``appointment_participants`` rows of ``records``: (appointment id, user id)."""
    return [(a.id, user) for a in records for user in sorted(set(a.participants) - {a.employee})]


def write_participants(
    execute: Callable[[Any], Any],
    driver: Callable[[str, Any], Any],
    insert_sql: Callable[[Table], str],
    records: Sequence[Appointment],
    new: bool,
) -> None:
    """Make the participant rows of ``records`` what their ``participants`` say.

    A new appointment's rows are inserted; a saved one's are replaced (so a
    participant taken off no longer sees it in their agenda).
    """
    table = s.appointment_participants
    if not new:
        execute(table.delete().where(_P.appointment_id.in_([a.id for a in records])))
    rows = participant_rows(records)
    if rows:
        driver(insert_sql(table), rows)

"""The SQL store's appointment queries beyond an employee's agenda.

``of_project`` selects a project's confirmed appointments in a period (L5: the
project's agenda, whoever's agenda each is in) on the ``project_id`` column
that migration 3 added. That column has no index of its own yet: the query
reads the appointments table; an index on ``(project_id, start_key, id)`` in a
later migration turns it into one range.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, or_, true

from crm_procedures.adapters._common import some_unstorable, utc_us
from crm_procedures.adapters.sql import schema as s
from crm_procedures.model._checks import require_aware
from crm_procedures.model.appointment import AppointmentStatus

__all__ = ["of_project"]

_A = s.appointments.c


def of_project(
    select_data: Select[Any], project_id: str, start: datetime, end: datetime
) -> Select[Any] | None:
    """The statement selecting the project's confirmed appointments overlapping [start, end).

    ``select_data`` selects the data column of the appointments table; the
    result is ordered by start. ``None`` when ``project_id`` cannot be stored
    (no appointment has it).
    """
    lo = utc_us(require_aware(start, "start"))
    hi = utc_us(require_aware(end, "end"))
    if some_unstorable(project_id):
        return None
    return select_data.where(
        _A.project_id == project_id,
        _A.start_key < hi,
        _A.status == AppointmentStatus.CONFIRMED.value,
        or_(_A.recurring == true(), _A.end_key > lo),
    ).order_by(_A.start_key, _A.id)

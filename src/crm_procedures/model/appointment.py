"""Appointments in an employee's agenda (W10, P5 "add to agenda")."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import attrs

from crm_procedures.errors import InvalidInput
from crm_procedures.ids import AppointmentId, ContactId, ProjectId, ProspectId, RelationId, UserId
from crm_procedures.model._checks import (
    aware,
    email,
    non_empty,
    non_negative_int,
    one_line,
    text,
    to_enum,
)

__all__ = ["Appointment", "AppointmentStatus", "Attendee"]


class AppointmentStatus(enum.StrEnum):
    """An appointment is confirmed until it is cancelled."""

    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"


def _to_appointment_status(value: Any) -> AppointmentStatus:
    return to_enum(AppointmentStatus, "status", value)


@attrs.frozen
class Attendee:
    """Someone invited to an appointment."""

    email: str = attrs.field(validator=email)
    name: str = attrs.field(default="", validator=one_line)
    required: bool = True


def _attendees(value: Iterable[Attendee]) -> tuple[Attendee, ...]:
    return tuple(value)


def _datetimes(value: Iterable[datetime]) -> tuple[datetime, ...]:
    return tuple(value)


@attrs.frozen
class Appointment:
    """A calendar entry between an employee and a contact.

    ``uid`` is the iCalendar UID, stable for the appointment's life; ``sequence``
    rises on every change that is sent out. ``rrule`` holds an RFC 5545
    recurrence rule (``FREQ=WEEKLY;COUNT=4``) and ``exdates`` the occurrences
    taken out of it. Raises :class:`~crm_procedures.errors.InvalidInput` for a
    naive datetime or an end that is not after the start.
    """

    id: AppointmentId = attrs.field(validator=non_empty)
    employee: UserId = attrs.field(validator=non_empty)
    start: datetime = attrs.field(validator=aware)
    end: datetime = attrs.field(validator=aware)
    title: str = attrs.field(validator=non_empty)
    uid: str = attrs.field(validator=non_empty)
    relation_id: RelationId | None = attrs.field(default=None, validator=one_line)
    contact_id: ContactId | None = attrs.field(default=None, validator=one_line)
    project_id: ProjectId | None = attrs.field(default=None, validator=one_line)
    prospect_id: ProspectId | None = attrs.field(default=None, validator=one_line)
    location: str = attrs.field(default="", validator=one_line)
    description: str = attrs.field(default="", validator=text)
    attendees: tuple[Attendee, ...] = attrs.field(default=(), converter=_attendees)
    organizer_email: str | None = attrs.field(default=None, validator=email)
    sequence: int = attrs.field(default=0, validator=non_negative_int)
    status: AppointmentStatus = attrs.field(
        default=AppointmentStatus.CONFIRMED, converter=_to_appointment_status
    )
    rrule: str | None = attrs.field(default=None, validator=one_line)
    exdates: tuple[datetime, ...] = attrs.field(default=(), converter=_datetimes)
    version: int = attrs.field(default=0, validator=non_negative_int)

    def __attrs_post_init__(self) -> None:
        if self.end <= self.start:
            raise InvalidInput("end", "must lie after start", self.end)
        for i, ex in enumerate(self.exdates):
            aware(None, f"exdates[{i}]", ex)

    @property
    def cancelled(self) -> bool:
        """True once cancelled."""
        return self.status is AppointmentStatus.CANCELLED

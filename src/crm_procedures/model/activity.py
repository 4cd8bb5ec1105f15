"""Activities (P2-P7): contacts, meetings and tasks recorded around a relation."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import attrs

from crm_procedures.ids import ActivityId, ContactId, ProjectId, RelationId, UserId
from crm_procedures.model._checks import (
    aware,
    non_empty,
    non_negative_int,
    one_line,
    order,
    text,
    to_enum,
    tuple_of_str,
)
from crm_procedures.model.money import Money, non_negative_money

__all__ = ["Activity", "ActivityKind", "Timer"]


class ActivityKind(enum.StrEnum):
    """P2: a contact (one employee, one contact person), a meeting, or a task."""

    CONTACT = "contact"
    MEETING = "meeting"
    TASK = "task"


def _to_activity_kind(value: Any) -> ActivityKind:
    return to_enum(ActivityKind, "kind", value)


@attrs.frozen
class Timer:
    """A start/pause timer (P5): accumulated seconds plus the running interval.

    ``running_since`` is set while the timer runs; ``accumulated`` holds the
    seconds of all finished intervals.
    """

    accumulated: float = 0.0
    running_since: datetime | None = attrs.field(default=None, validator=aware)

    @property
    def running(self) -> bool:
        """True while the timer runs."""
        return self.running_since is not None


@attrs.frozen
class Activity:
    """An activity on a relation (and optionally a project).

    ``contact_ids`` must belong to ``relation_id`` (P6; checked by the service
    that has the contacts). ``completed_at`` set means frozen: no field may
    change any more (:class:`~crm_procedures.errors.ActivityFrozen`).
    ``channel``, ``priority`` and ``category`` are dictionary choice keys.
    """

    id: ActivityId = attrs.field(validator=non_empty)
    kind: ActivityKind = attrs.field(converter=_to_activity_kind)
    employee: UserId = attrs.field(validator=non_empty)
    subject: str = attrs.field(default="", validator=one_line)
    relation_id: RelationId | None = attrs.field(default=None, validator=one_line)
    project_id: ProjectId | None = attrs.field(default=None, validator=one_line)
    contact_ids: tuple[ContactId, ...] = attrs.field(default=(), converter=tuple_of_str)
    participants: tuple[UserId, ...] = attrs.field(default=(), converter=tuple_of_str)
    channel: str | None = attrs.field(default=None, validator=one_line)
    priority: str | None = attrs.field(default=None, validator=one_line)
    category: str | None = attrs.field(default=None, validator=one_line)
    place: str = attrs.field(default="", validator=one_line)
    note: str = attrs.field(default="", validator=text)
    outcome: str | None = attrs.field(default=None, validator=one_line)
    start: datetime | None = attrs.field(default=None, validator=aware)
    end: datetime | None = attrs.field(default=None, validator=aware)
    due: datetime | None = attrs.field(default=None, validator=aware)
    expected_cost: Money | None = attrs.field(default=None, validator=non_negative_money)
    actual_cost: Money | None = attrs.field(default=None, validator=non_negative_money)
    timer: Timer = attrs.field(factory=Timer)
    follow_up_of: ActivityId | None = attrs.field(default=None, validator=one_line)
    appointment_id: str | None = attrs.field(default=None, validator=one_line)
    created_at: datetime | None = attrs.field(default=None, validator=aware)
    completed_at: datetime | None = attrs.field(default=None, validator=aware)
    version: int = attrs.field(default=0, validator=non_negative_int)

    def __attrs_post_init__(self) -> None:
        order("start", "end", self.start, self.end)

    @property
    def completed(self) -> bool:
        """True once the activity is completed (and so frozen)."""
        return self.completed_at is not None

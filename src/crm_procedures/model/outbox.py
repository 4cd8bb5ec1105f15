"""Outbox messages: side effects recorded with the state change (X4)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from crm_procedures.model._checks import aware, non_empty, non_negative_int, to_enum

__all__ = ["OutboxMessage", "OutboxStatus"]


class OutboxStatus(enum.StrEnum):
    """pending (to deliver), delivered, failed (permanently; a person looks)."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


def _to_outbox_status(value: Any) -> OutboxStatus:
    return to_enum(OutboxStatus, "status", value)


def _payload(value: Mapping[str, Any]) -> dict[str, Any]:
    return dict(value)


@attrs.frozen
class OutboxMessage:
    """A message to deliver after the unit of work that recorded it commits.

    ``key`` is the idempotency key: unique per message, reused on every retry
    (it becomes the e-mail Message-ID; for invitations it is UID + SEQUENCE).
    ``channel`` names the port that delivers it (``"mail"``, ``"calendar"``).
    ``payload`` is plain JSON-compatible data the port understands.
    """

    id: str = attrs.field(validator=non_empty)
    key: str = attrs.field(validator=non_empty)
    channel: str = attrs.field(validator=non_empty)
    payload: Mapping[str, Any] = attrs.field(factory=dict, converter=_payload)
    created_at: datetime | None = attrs.field(default=None, validator=aware)
    due_at: datetime | None = attrs.field(default=None, validator=aware)
    status: OutboxStatus = attrs.field(default=OutboxStatus.PENDING, converter=_to_outbox_status)
    attempts: int = attrs.field(default=0, validator=non_negative_int)
    last_error: str | None = None
    delivered_at: datetime | None = attrs.field(default=None, validator=aware)
    version: int = attrs.field(default=0, validator=non_negative_int)

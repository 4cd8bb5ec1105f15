"""Outbox messages: side effects recorded with the state change (X4)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from crm_procedures.errors import InvalidInput
from crm_procedures.model._checks import aware, non_empty, non_negative_int, to_enum

__all__ = [
    "MAX_LEASE_SECONDS",
    "DeliveryOutcome",
    "OutboxMessage",
    "OutboxStatus",
    "RecipientOutcome",
    "RecipientState",
]


class OutboxStatus(enum.StrEnum):
    """Where a message stands.

    ``pending``: to deliver (or to retry for the recipients a server deferred);
    ``delivered``: every recipient accepted it; ``partially_failed``: some
    recipients accepted it and the others were refused for good (a person
    looks); ``failed``: nobody got it (permanently refused, or out of attempts).
    """

    PENDING = "pending"
    DELIVERED = "delivered"
    PARTIALLY_FAILED = "partially_failed"
    FAILED = "failed"


class RecipientState(enum.StrEnum):
    """What the server said about one recipient.

    ``accepted`` (2xx), ``deferred`` (4xx: tried again, alone, after a
    backoff) or ``refused`` (5xx, or still deferred after the last attempt).
    A recipient without a state has not been tried yet.
    """

    ACCEPTED = "accepted"
    DEFERRED = "deferred"
    REFUSED = "refused"


MAX_LEASE_SECONDS = 7 * 24 * 3600.0
"""The longest lease a claim may take (a week): longer is a mistake, not a plan."""


def check_lease_seconds(value: Any) -> float:
    """``value`` as a lease length in seconds; InvalidInput unless 0 < value <= a week."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput("lease_seconds", "must be a number of seconds", value)
    if not 0 < value <= MAX_LEASE_SECONDS:  # also refuses NaN
        raise InvalidInput(
            "lease_seconds", f"must be more than 0 and at most {MAX_LEASE_SECONDS:.0f}", value
        )
    return float(value)


def _to_outbox_status(value: Any) -> OutboxStatus:
    return to_enum(OutboxStatus, "status", value)


def _to_recipient_state(value: Any) -> RecipientState:
    return to_enum(RecipientState, "state", value)


def _payload(value: Mapping[str, Any]) -> dict[str, Any]:
    return dict(value)


def _code(_inst: Any, _attribute: Any, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 999:
        raise InvalidInput("code", "must be a reply code 0..999 or None", value)


@attrs.frozen
class RecipientOutcome:
    """One recipient's delivery state, with the server's reply code and text."""

    state: RecipientState = attrs.field(converter=_to_recipient_state)
    code: int | None = attrs.field(default=None, validator=_code)
    detail: str = ""


def _outcomes(value: Mapping[str, Any]) -> dict[str, RecipientOutcome]:
    if not isinstance(value, Mapping):
        raise InvalidInput("recipients", "must map addresses to outcomes", value)
    out: dict[str, RecipientOutcome] = {}
    for address, outcome in value.items():
        if not isinstance(address, str):
            raise InvalidInput("recipients", "addresses must be text", address)
        if isinstance(outcome, Mapping):
            outcome = RecipientOutcome(**dict(outcome))
        if not isinstance(outcome, RecipientOutcome):
            raise InvalidInput("recipients", "must hold RecipientOutcome values", outcome)
        out[address] = outcome
    return out


@attrs.frozen
class DeliveryOutcome:
    """What one delivery try gave, per recipient (a channel sender's answer).

    Recipients not named were accepted. An empty outcome means everything
    was accepted (what a channel without recipients, such as a calendar,
    returns).
    """

    recipients: Mapping[str, RecipientOutcome] = attrs.field(factory=dict, converter=_outcomes)


@attrs.frozen
class OutboxMessage:
    """A message to deliver after the unit of work that recorded it commits.

    ``key`` is the idempotency key: unique per message, reused on every retry
    (it becomes the e-mail Message-ID; for invitations it is UID + SEQUENCE).
    ``channel`` names the port that delivers it (``"mail"``, ``"calendar"``).
    ``payload`` is plain JSON-compatible data the port understands; a mail
    message holds its envelope there (``"recipients"``, the addresses it is
    delivered to, stored when it was built). ``attempts`` counts real
    delivery tries (a claim that is never tried does not count).
    ``recipients`` holds each tried recipient's state; ``lease_token`` names
    the claim that may deliver it now (None when nobody holds it).
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
    recipients: Mapping[str, RecipientOutcome] = attrs.field(factory=dict, converter=_outcomes)
    lease_token: str | None = None

    @property
    def envelope(self) -> list[str] | None:
        """The stored envelope recipients (``payload["recipients"]``), or None."""
        found = self.payload.get("recipients")
        if isinstance(found, list) and all(isinstance(a, str) for a in found):
            return list(found)
        return None

"""What the store keeps about mail that came back (I1).

* :class:`ProcessedMessage`: one received message applied, by its Message-ID,
  so that a message read twice (a poller killed between applying and storing
  its cursor) is applied once.
* :class:`SentMessage`: the Message-ID of an e-mail the library recorded in
  the outbox, with the prospect it went to: what a reply or bounce is matched with.
* :class:`InboxPosition`: where one inbox was read up to (an
  :class:`~crm_procedures.inbound.cursor.InboxCursor` dump).
* :class:`UnmatchedMessage`: a message no rule could apply, kept for a person
  to link to a prospect or dismiss; also a calendar counter-proposal to answer.
* :class:`AddressStatus`: an e-mail address's delivery record: soft failures
  counted, and whether it is on the suppression list (an opt-out, a hard
  bounce, too many soft failures).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import attrs

from crm_procedures.errors import InvalidInput
from crm_procedures.model._checks import (
    aware,
    non_empty,
    non_negative_int,
    one_line,
    require_aware,
    text,
    to_enum,
    tuple_of_str,
)

__all__ = [
    "AddressStatus",
    "InboxPosition",
    "ProcessedMessage",
    "SentMessage",
    "SuppressionReason",
    "UnmatchedMessage",
    "UnmatchedStatus",
    "normalise_address",
]

MAX_BODY = 20_000
"""The most characters of a kept message's text body."""


def normalise_address(address: Any) -> str:
    """An e-mail address as the suppression list keys it: stripped, lower case.

    Raises:
        InvalidInput: not a non-empty one-line text with an ``@``.
    """
    if not isinstance(address, str):
        raise InvalidInput("address", "must be an e-mail address", address)
    found = address.strip().lower()
    if "@" not in found or len(found) > 254 or not found.isprintable() or " " in found:
        raise InvalidInput("address", "must be an e-mail address (name@domain)", address)
    return found


class UnmatchedStatus(enum.StrEnum):
    """Where a kept message stands."""

    OPEN = "open"
    LINKED = "linked"
    DISMISSED = "dismissed"


class SuppressionReason(enum.StrEnum):
    """Why an address receives no more e-mail."""

    UNSUBSCRIBED = "unsubscribed"
    HARD_BOUNCE = "hard_bounce"
    SOFT_BOUNCES = "soft_bounces"


def _status(value: Any) -> UnmatchedStatus:
    return value if type(value) is UnmatchedStatus else to_enum(UnmatchedStatus, "status", value)


def _reason(value: Any) -> SuppressionReason | None:
    if value is None or type(value) is SuppressionReason:
        return value
    return to_enum(SuppressionReason, "suppressed", value)


@attrs.frozen
class ProcessedMessage:
    """A received message that was applied.

    Attributes:
        id: its Message-ID (with angle brackets), or a digest of its bytes
            when it had none.
        kind: what it was classified as (``reply``, ``bounce``, ...).
        processed_at: when it was applied.
        source_id: where it was read (``"<uidvalidity>:<uid>"``, a file name).
        outcome: what applying it did, in a word or two.
    """

    id: str = attrs.field(validator=non_empty)
    kind: str = attrs.field(validator=non_empty)
    processed_at: datetime = attrs.field(validator=aware)
    source_id: str = attrs.field(default="", validator=one_line)
    outcome: str = attrs.field(default="", validator=one_line)
    version: int = attrs.field(default=0, validator=non_negative_int)


@attrs.frozen
class SentMessage:
    """An e-mail recorded in the outbox, findable by the Message-ID answers refer to.

    Attributes:
        id: its Message-ID (with angle brackets).
        outbox_id: the outbox message's id.
        outbox_key: the outbox message's key.
        prospect_id: the prospect it was sent for, if any.
        recipients: the envelope it was sent to (lower case).
        recorded_at: when it was recorded.
        actor: the user who performed the step that sent it.
    """

    id: str = attrs.field(validator=non_empty)
    outbox_id: str = attrs.field(validator=non_empty)
    outbox_key: str = attrs.field(validator=non_empty)
    prospect_id: str | None = attrs.field(validator=one_line)
    recipients: tuple[str, ...] = attrs.field(converter=tuple_of_str)
    recorded_at: datetime = attrs.field(validator=aware)
    actor: str | None = attrs.field(default=None, validator=one_line)
    version: int = attrs.field(default=0, validator=non_negative_int)


@attrs.frozen
class InboxPosition:
    """Where one inbox was read up to.

    Attributes:
        id: the inbox's name (``"default"``, ``"imap:crm@example.com"``).
        cursor: the stored ``InboxCursor.dump()``.
        updated_at: when it was stored.
    """

    id: str = attrs.field(validator=non_empty)
    cursor: str = attrs.field(validator=non_empty)
    updated_at: datetime = attrs.field(validator=aware)
    version: int = attrs.field(default=0, validator=non_negative_int)


@attrs.frozen
class UnmatchedMessage:
    """A received message kept for a person (never dropped).

    Attributes:
        id: the record's id.
        message_id: the message's Message-ID, when it had one.
        kind: what it was classified as (``unmatched``, ``calendar_counter``,
            or a reply, bounce or calendar answer that matched no record).
        reason: why a person has to look at it, in words.
        received_at: when it was read.
        source_id: where the original is (the inbox's id of it).
        sender: the From address, if any.
        subject: the decoded subject.
        body: the plain text (at most 20,000 characters).
        raw_digest: the SHA-256 of the original in the blob store, when one
            was configured.
        status: open, linked or dismissed.
        prospect_id: the prospect it was linked to (or guessed for).
        resolved_by: who linked or dismissed it.
        resolved_at: when.
    """

    id: str = attrs.field(validator=non_empty)
    message_id: str | None = attrs.field(validator=one_line)
    kind: str = attrs.field(validator=non_empty)
    reason: str = attrs.field(validator=one_line)
    received_at: datetime = attrs.field(validator=aware)
    source_id: str = attrs.field(default="", validator=one_line)
    sender: str | None = attrs.field(default=None, validator=one_line)
    subject: str = attrs.field(default="", validator=one_line)
    body: str = attrs.field(default="", validator=text)
    raw_digest: str | None = attrs.field(default=None, validator=one_line)
    status: UnmatchedStatus = attrs.field(default=UnmatchedStatus.OPEN, converter=_status)
    prospect_id: str | None = attrs.field(default=None, validator=one_line)
    resolved_by: str | None = attrs.field(default=None, validator=one_line)
    resolved_at: datetime | None = attrs.field(default=None, validator=aware)
    version: int = attrs.field(default=0, validator=non_negative_int)


@attrs.frozen
class AddressStatus:
    """One e-mail address's delivery record.

    Attributes:
        id: the address, lower case (see :func:`normalise_address`).
        soft_failures: temporary delivery failures counted since the last
            delivery that did not fail.
        suppressed: why the address receives no more e-mail, or ``None``.
        suppressed_at: since when.
        detail: the last failure or the opt-out, in words.
        updated_at: when this record last changed.
    """

    id: str = attrs.field(validator=non_empty)
    updated_at: datetime = attrs.field(validator=aware)
    soft_failures: int = attrs.field(default=0, validator=non_negative_int)
    suppressed: SuppressionReason | None = attrs.field(default=None, converter=_reason)
    suppressed_at: datetime | None = attrs.field(default=None, validator=aware)
    detail: str = attrs.field(default="", validator=one_line)
    version: int = attrs.field(default=0, validator=non_negative_int)

    def __attrs_post_init__(self) -> None:
        if (self.suppressed is None) != (self.suppressed_at is None):
            raise InvalidInput(
                "suppressed_at", "must be given exactly when the address is suppressed"
            )
        if self.suppressed_at is not None:
            require_aware(self.suppressed_at, "suppressed_at")
